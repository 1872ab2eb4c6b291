"""`load_dataset` on real fixtures: targets, joins, task inference, missing values, transforms."""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest

import pknet
from pknet.compiler.dataset import Dataset, load_dataset
from pknet.errors import CompileError, SpecError

DATA = Path(__file__).parents[1] / "data" / "matrices"
H5AD = DATA / "pbmc68k_40x50.h5ad"
CSV_ROWS = DATA / "pbmc68k_raw_40x50.csv"
LABELS = DATA / "pbmc68k_tcr_labels.csv"
PROTEOMICS = DATA / "plasma_proteomics_20x30.csv"
DESIGN = DATA / "plasma_proteomics_design_30.tsv"
T_CELLS = [
    "CD4+/CD25 T Reg",
    "CD4+/CD45RA+/CD25- Naive T",
    "CD4+/CD45RO+ Memory",
    "CD8+ Cytotoxic T",
    "CD8+/CD45RA+ Naive Cytotoxic",
]
PBMC_RAW = f"{{file: {H5AD}, layer: raw}}"
PROTEINS = f"{{file: {PROTEOMICS}, orientation: samples_as_columns}}"
DESIGN_TARGET = f"{{file: {DESIGN}, index: sample, column: group}}"


def load(tmp_path: Path, data: str, columns: list[int] | None = None) -> Dataset:
    return load_dataset(spec(tmp_path, data), None if columns is None else np.array(columns))


def spec(tmp_path: Path, data: str) -> pknet.Spec:
    """A network-free spec whose `data:` section is `data` (YAML lines, indented by 2)."""
    path = tmp_path / "spec.yaml"
    path.write_text(
        "version: 1\nname: t\ndata:\n"
        + data
        + "model:\n  layers:\n    - {kind: dense, units: 2}\nloss: ce\n"
    )
    return pknet.load_spec(path)


def failure(tmp_path: Path, data: str, columns: list[int] | None = None) -> str:
    with pytest.raises(CompileError) as caught:
        load(tmp_path, data, columns)
    return caught.value.format()


def obs() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return anndata.read_h5ad(H5AD).obs


def raw() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = anndata.read_h5ad(H5AD)
    return pd.DataFrame(adata.raw.X.toarray(), adata.obs_names, adata.raw.var_names)


# --- targets ---------------------------------------------------------------------------------


def test_obs_column_with_ten_labels_is_multiclass(tmp_path: Path) -> None:
    ds = load(tmp_path, f"  expression: {PBMC_RAW}\n  target: {{obs: bulk_labels}}\n")
    labels = obs()["bulk_labels"].astype(str)
    assert ds.task == "multiclass"
    assert ds.classes == tuple(sorted(set(labels)))
    assert ds.y.dtype == np.int64
    assert [ds.classes[c] for c in ds.y] == labels.tolist()
    assert ds.x.shape == (40, 60) and ds.x.dtype == np.float32
    assert ds.samples == tuple(obs().index)
    assert (ds.join.n_data, ds.join.n_joined, ds.join.n_used) == (40, 40, 40)
    assert ds.join.source == "obs.bulk_labels"


def test_positive_labels_make_one_vs_rest(tmp_path: Path) -> None:
    positive = "".join(f"      - {label}\n" for label in T_CELLS)
    ds = load(
        tmp_path,
        f"  expression: {PBMC_RAW}\n  target:\n    obs: bulk_labels\n    positive:\n{positive}",
    )
    assert ds.task == "binary" and ds.classes == ("other", "positive")
    np.testing.assert_array_equal(ds.y, obs()["bulk_labels"].isin(T_CELLS).to_numpy())
    assert ds.y.sum() == 20


def test_positive_label_that_never_occurs(tmp_path: Path) -> None:
    text = failure(
        tmp_path,
        f"  expression: {PBMC_RAW}\n  target:\n    obs: bulk_labels\n"
        "    positive: [CD8+ Cytotoxic T, CD4+ Memory]\n",
    )
    assert "spec.yaml:7:34: data.target.positive[1]: no labelled sample has the label" in text
    assert "did you mean `CD4+/CD45RO+ Memory`?" in text


def test_missing_obs_column_suggests_the_closest(tmp_path: Path) -> None:
    text = failure(tmp_path, f"  expression: {PBMC_RAW}\n  target: {{obs: bulk_label}}\n")
    assert (
        "spec.yaml:5:17: data.target.obs: pbmc68k_40x50.h5ad has no obs column `bulk_label`" in text
    )
    assert "did you mean `bulk_labels`?" in text and "`louvain`" in text


def test_obs_target_needs_an_anndata_file(tmp_path: Path) -> None:
    text = failure(tmp_path, f"  expression: {{file: {CSV_ROWS}}}\n  target: {{obs: TCR}}\n")
    assert "data.target.obs: `obs` targets need an AnnData .h5ad file" in text
    assert "target: {file: labels.csv" in text


@pytest.mark.parametrize(
    ("column", "task", "classes"),
    [
        ("louvain", "multiclass", tuple(str(i) for i in range(11))),  # categorical numbers
        ("phase", "multiclass", ("G1", "G2M", "S")),
        ("n_counts", "regression", ()),
    ],
)
def test_task_inferred_from_obs(tmp_path: Path, column: str, task: str, classes: tuple) -> None:
    ds = load(tmp_path, f"  expression: {PBMC_RAW}\n  target: {{obs: {column}}}\n")
    assert ds.task == task
    if task == "regression":
        assert ds.y.dtype == np.float32
        np.testing.assert_array_equal(ds.y, obs()[column].to_numpy(np.float32))
    else:
        present = set(obs()[column].astype(str))
        assert ds.classes == tuple(c for c in classes if c in present)  # numeric order
        assert [ds.classes[c] for c in ds.y] == obs()[column].astype(str).tolist()


def test_label_file_joins_part_of_the_samples(tmp_path: Path) -> None:
    data = f"  expression: {{file: {CSV_ROWS}}}\n  target: {{file: {LABELS}, column: TCR}}\n"
    with pytest.warns(RuntimeWarning) as caught:
        ds = load(tmp_path, data)
    assert str(caught[0].message).startswith(
        "10 of 40 samples left out, 9 without a label row in pbmc68k_tcr_labels.csv, 1 with a "
        "missing target value (e.g. "
    )
    assert ds.join.counts() == {"read": 40, "labelled": 31, "used": 30}
    labels = pd.read_csv(LABELS, index_col=0)["TCR"].dropna()
    assert ds.task == "binary" and ds.classes == ("0", "1")
    assert (ds.join.n_data, ds.join.n_labels, ds.join.n_joined) == (40, 36, 31)
    assert (ds.join.n_missing_label, ds.join.n_used) == (1, 30)
    order = [s for s in pd.read_csv(CSV_ROWS, index_col=0).index if s in labels.index]
    assert list(ds.samples) == order
    np.testing.assert_array_equal(ds.y, labels[order].to_numpy(np.int64))
    assert ds.y.sum() == 14
    t_cells = obs()["bulk_labels"].isin(T_CELLS)[order].to_numpy()
    np.testing.assert_array_equal(ds.y, t_cells)
    assert ds.join.dropped[0] == pd.read_csv(CSV_ROWS, index_col=0).index[3]


def test_listed_samples_are_the_only_ones_read(tmp_path: Path) -> None:
    table = pd.read_csv(CSV_ROWS, index_col=0)
    labels = pd.read_csv(LABELS, index_col=0)["TCR"].dropna()
    labelled = [s for s in table.index if s in labels.index]
    listed = labelled[12:3:-2]  # in reverse order: rows keep the file's order
    data = (
        f"  expression: {{file: {CSV_ROWS}}}\n  target: {{file: {LABELS}, column: TCR}}\n"
        f"  samples: [{', '.join(listed)}]\n"
    )
    ds = load(tmp_path, data)
    assert list(ds.samples) == listed[::-1]
    assert ds.join.counts() == {"read": 5, "labelled": 5, "used": 5}
    np.testing.assert_array_equal(ds.x, table.loc[listed[::-1]].to_numpy(np.float32))
    np.testing.assert_array_equal(ds.y, labels[listed[::-1]].to_numpy(np.int64))
    unknown = data.replace(f"[{listed[0]},", "[nobody-1,")
    assert "1 listed sample(s) are not in pbmc68k_raw_40x50.csv, e.g. nobody-1" in failure(
        tmp_path, unknown
    )
    twice = data.replace(f"[{listed[0]},", f"[{listed[1]},")
    with pytest.raises(SpecError, match="is listed twice"):
        spec(tmp_path, twice)


def test_labels_that_join_no_sample(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("".join(LABELS.read_text().splitlines(keepends=True)[:6]))
    text = failure(
        tmp_path, f"  expression: {{file: {CSV_ROWS}}}\n  target: {{file: {labels}, column: TCR}}\n"
    )
    assert "data.target.file: none of the 5 label ids matches one of the 40 samples" in text
    assert "AAACCTGCACACATGT-1" in text and "AAAGCCTGGCTAAC-1" in text
    assert "`index`" in text


@pytest.mark.parametrize(("field", "value"), [("index", "barcodes"), ("column", "tcr")])
def test_label_file_column_names(tmp_path: Path, field: str, value: str) -> None:
    target = {"index": "barcode", "column": "TCR", field: value}
    text = failure(
        tmp_path,
        f"  expression: {{file: {CSV_ROWS}}}\n  target: {{file: {LABELS}, "
        f"index: {target['index']}, column: {target['column']}}}\n",
    )
    assert f"data.target.{field}: label file pbmc68k_tcr_labels.csv has no column `{value}`" in text
    assert "did you mean" in text and "columns: `barcode`, `TCR`" in text


def test_duplicate_label_rows(tmp_path: Path) -> None:
    lines = LABELS.read_text().splitlines()
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join([*lines, lines[8]]) + "\n")
    text = failure(
        tmp_path, f"  expression: {{file: {CSV_ROWS}}}\n  target: {{file: {labels}, column: TCR}}\n"
    )
    assert (
        f"labels.csv:{len(lines) + 1}: sample `{lines[8].split(',')[0]}` has 2 label rows" in text
    )


def test_a_label_file_with_two_columns_of_one_name(tmp_path: Path) -> None:
    lines = LABELS.read_text().splitlines()
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(f"{line},{line.split(',')[1]}" for line in lines) + "\n")
    text = failure(
        tmp_path, f"  expression: {{file: {CSV_ROWS}}}\n  target: {{file: {labels}, column: TCR}}\n"
    )
    assert "labels.csv:1: label file labels.csv has two columns named `TCR`" in text


def test_a_layer_of_a_table_is_an_error(tmp_path: Path) -> None:
    text = failure(
        tmp_path,
        f"  expression: {{file: {CSV_ROWS}, layer: raw}}\n  target: {{file: {LABELS}, "
        "column: TCR}\n",
    )
    assert "data.expression.layer: `layer: raw` names a matrix inside an AnnData file" in text


def test_a_transform_twice_or_select_measured_without_a_network(tmp_path: Path) -> None:
    data = f"  expression: {{file: {CSV_ROWS}}}\n  target: {{file: {LABELS}, column: TCR}}\n"
    with pytest.raises(SpecError, match=r"data.transform\[1\]: transform `log1p` is listed twice"):
        spec(tmp_path, data + "  transform: [log1p, log1p]\n")
    with pytest.raises(SpecError, match=r"data.transform\[0\]: `select_measured` keeps"):
        spec(tmp_path, data + "  transform: [select_measured]\n")


def test_numeric_two_valued_labels_are_binary(tmp_path: Path) -> None:
    ds = load(tmp_path, f"  expression: {PROTEINS}\n  target: {DESIGN_TARGET}\n  missing: mean\n")
    design = pd.read_csv(DESIGN, sep="\t", index_col=0)["group"]
    assert ds.task == "binary" and ds.classes == ("1", "2")
    np.testing.assert_array_equal(ds.y, design[list(ds.samples)].to_numpy() - 1)
    assert (ds.join.n_used, int(ds.y.sum())) == (30, 15)


def test_task_against_the_labels(tmp_path: Path) -> None:
    expression = f"  expression: {PBMC_RAW}\n"
    text = failure(tmp_path, expression + "  target: {obs: bulk_labels, task: binary}\n")
    assert "data.target.task: a binary task needs 2 classes; the labels have 10" in text
    assert "positive" in text
    text = failure(tmp_path, expression + "  target: {obs: phase, task: regression}\n")
    assert "data.target.task: regression needs numeric labels" in text
    ds = load(tmp_path, expression + "  target: {obs: phase, task: multiclass}\n")
    assert ds.classes == ("G1", "G2M", "S")


# --- input columns, missing values, transforms -----------------------------------------------


def test_input_columns_select_and_order_features(tmp_path: Path) -> None:
    ds = load(tmp_path, f"  expression: {PBMC_RAW}\n  target: {{obs: phase}}\n", [7, 0, 59])
    expected = raw().iloc[:, [7, 0, 59]]
    np.testing.assert_array_equal(ds.x, expected.to_numpy(np.float32))
    assert ds.features == tuple(expected.columns)


def test_unmeasured_input_is_an_error(tmp_path: Path) -> None:
    text = failure(tmp_path, f"  expression: {PBMC_RAW}\n  target: {{obs: phase}}\n", [0, -1])
    assert "network.inputs: 1 of 2 input nodes have no column in the data" in text


def test_missing_values_are_an_error_by_default(tmp_path: Path) -> None:
    text = failure(tmp_path, f"  expression: {PROTEINS}\n  target: {DESIGN_TARGET}\n")
    assert "data.missing: plasma_proteomics_20x30.csv has 47 missing value(s)" in text
    assert "e.g. sample TM_" in text and "`data.missing: mean`" in text
    # the same file is fine when the selected proteins are complete
    ds = load(tmp_path, f"  expression: {PROTEINS}\n  target: {DESIGN_TARGET}\n", [0, 1, 2])
    assert ds.n_missing == 0 and ds.x.shape == (30, 3)


def test_infinite_values_are_an_error_whatever_the_policy(tmp_path: Path) -> None:
    frame = pd.read_csv(CSV_ROWS, index_col=0)
    row = int(np.flatnonzero(frame.index.isin(pd.read_csv(LABELS)["barcode"]))[3])
    frame.iloc[row, 5] = np.inf
    frame.to_csv(tmp_path / "inf.csv")
    text = failure(
        tmp_path,
        f"  expression: {{file: {tmp_path / 'inf.csv'}}}\n  target: {{file: {LABELS}, "
        "column: TCR}\n  missing: zero\n",
    )
    assert "data.expression: inf.csv has 1 infinite value(s)" in text
    assert f"e.g. sample {frame.index[row]}, feature {frame.columns[5]}" in text


def test_an_infinite_regression_label_is_an_error(tmp_path: Path) -> None:
    labels = pd.read_csv(LABELS).assign(score=lambda t: np.arange(len(t), dtype=float))
    labels = labels[labels["barcode"].isin(pd.read_csv(CSV_ROWS, index_col=0).index)]
    labels.iloc[4, 2] = -np.inf
    labels.to_csv(tmp_path / "scores.csv", index=False)
    text = failure(
        tmp_path,
        f"  expression: {{file: {CSV_ROWS}}}\n  target: {{file: {tmp_path / 'scores.csv'}, "
        "column: score}\n",
    )
    assert (
        f"data.target: 1 sample(s) have an infinite target value, e.g. {labels.iloc[4, 0]}" in text
    )


@pytest.mark.parametrize(
    "lines, message",
    [
        (slice(None), "ids.csv gives the model no input feature"),  # the ids column alone
        (slice(0, 1), "ids.csv holds no samples"),  # the header alone
    ],
)
def test_a_table_without_features_or_samples_is_an_error(
    tmp_path: Path, lines: slice, message: str
) -> None:
    ids = [line.split(",")[0] for line in CSV_ROWS.read_text().splitlines()]
    (tmp_path / "ids.csv").write_text("\n".join(ids[lines]) + "\n")
    text = failure(
        tmp_path,
        f"  expression: {{file: {tmp_path / 'ids.csv'}}}\n"
        f"  target: {{file: {LABELS}, column: TCR}}\n",
    )
    assert f"data.expression: {message}" in text


def test_blank_lines_in_a_features_as_rows_table(tmp_path: Path) -> None:
    lines = PROTEOMICS.read_text().splitlines()
    with_blanks = [*lines[:3], "", *lines[3:8], "   ", *lines[8:]]
    (tmp_path / "blank.csv").write_text("\n".join(with_blanks) + "\n")
    data = f"{{file: {tmp_path / 'blank.csv'}, orientation: samples_as_columns}}"
    target = f"  target: {DESIGN_TARGET}\n"
    plain = load(tmp_path, f"  expression: {PROTEINS}\n{target}", [0, 1, 2, 4, 9])
    blank = load(tmp_path, f"  expression: {data}\n{target}", [0, 1, 2, 4, 9])
    np.testing.assert_array_equal(blank.x, plain.x)
    assert blank.features == plain.features


@pytest.mark.parametrize("policy", ["zero", "mean"])
def test_missing_value_policies(tmp_path: Path, policy: str) -> None:
    ds = load(
        tmp_path, f"  expression: {PROTEINS}\n  target: {DESIGN_TARGET}\n  missing: {policy}\n"
    )
    source = pd.read_csv(PROTEOMICS, index_col=0).T.loc[list(ds.samples)]
    assert ds.n_missing == 47
    missing = source.isna().to_numpy()
    if policy == "zero":
        assert not np.isnan(ds.x).any() and np.all(ds.x[missing] == 0)
    else:
        np.testing.assert_array_equal(np.isnan(ds.x), missing)
    np.testing.assert_array_equal(ds.x[~missing], source.to_numpy(np.float32)[~missing])


def test_log1p_and_normalize_total_in_spec_order(tmp_path: Path) -> None:
    values = raw().to_numpy(np.float64)
    columns = [4, 9, 33]
    base = f"  expression: {PBMC_RAW}\n  target: {{obs: phase}}\n"
    norm = "{kind: normalize_total, target_sum: 100}"
    first = load(tmp_path, base + f"  transform: [log1p, {norm}]\n", columns)
    logged = np.log1p(values)
    expected = logged / logged.sum(axis=1, keepdims=True) * 100
    np.testing.assert_allclose(first.x, expected[:, columns], rtol=1e-5)
    second = load(tmp_path, base + f"  transform: [{norm}, log1p, standardize]\n", columns)
    expected = np.log1p(values / values.sum(axis=1, keepdims=True) * 100)
    np.testing.assert_allclose(second.x, expected[:, columns], rtol=1e-5)
    assert first.features == second.features == tuple(raw().columns[columns])


@pytest.mark.parametrize("kind", ["log1p", "normalize_total"])
def test_count_transforms_of_scaled_values(tmp_path: Path, kind: str) -> None:
    text = failure(
        tmp_path,
        f"  expression: {{file: {H5AD}}}\n  target: {{obs: phase}}\n  transform: [{kind}]\n",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lowest = float(anndata.read_h5ad(H5AD).X.min())
    assert f"spec.yaml:6:15: data.transform[0]: {kind} needs non-negative values; the data " in text
    assert f"reaches {lowest:.4g} (is this matrix already scaled?)" in text
    assert "layer: raw" in text


def test_normalize_total_leaves_a_sample_of_zeros_at_zero(tmp_path: Path) -> None:
    counts = raw().iloc[:, :50]
    counts.iloc[0] = 0.0
    path = tmp_path / "counts.csv"
    counts.to_csv(path)
    labels = tmp_path / "phase.csv"
    obs()["phase"].to_csv(labels)
    norm = "{kind: normalize_total, target_sum: 100}"
    data = f"  expression: {{file: {path}}}\n  target: {{file: {labels}, column: phase}}\n"
    ds = load(tmp_path, data + f"  transform: [{norm}]\n")
    assert ds.samples == tuple(counts.index)
    np.testing.assert_array_equal(ds.x[0], 0.0)
    np.testing.assert_allclose(ds.x[1:].sum(axis=1), 100, rtol=1e-5)
