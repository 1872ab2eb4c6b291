"""Data matrices: the same real values read from h5ad, CSV (both orientations), TSV and 10x h5."""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd
import pytest

from pknet.errors import CompileError
from pknet.io.data import Matrix, read_feature_names, read_matrix

DATA = Path(__file__).parents[1] / "data" / "matrices"
H5AD = DATA / "pbmc68k_40x50.h5ad"
CSV_ROWS = DATA / "pbmc68k_raw_40x50.csv"
CSV_COLUMNS = DATA / "pbmc68k_raw_40x50_genes_as_rows.csv"
TENX = DATA / "pbmc68k_raw_40x50_10x.h5"
PROTEOMICS = DATA / "plasma_proteomics_20x30.csv"
LEGACY_H5AD = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "data" / "pbmc68k_reduced.h5ad"
COLUMNS = "samples_as_columns"

# (path, keyword arguments) of the four copies of the same 40 cells x 50 genes
SAME_VALUES = {
    "h5ad layer": (H5AD, {"layer": "lognorm"}),
    "csv rows": (CSV_ROWS, {}),
    "csv columns": (CSV_COLUMNS, {"orientation": COLUMNS}),
    "10x h5": (TENX, {}),
}


def reference() -> pd.DataFrame:
    return pd.read_csv(CSV_ROWS, index_col=0)


def read_anndata(path: Path) -> anndata.AnnData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return anndata.read_h5ad(path)


@pytest.mark.parametrize("name", SAME_VALUES)
def test_every_format_reads_the_same_values(name: str) -> None:
    path, kwargs = SAME_VALUES[name]
    matrix = read_matrix(path, **kwargs)
    expected = reference()
    assert matrix.values.dtype == np.float32 and matrix.values.flags.c_contiguous
    np.testing.assert_array_equal(matrix.values, expected.to_numpy(np.float32))
    assert matrix.samples == tuple(expected.index)
    assert matrix.features == tuple(expected.columns)
    assert matrix.features == tuple(read_feature_names(path, **kwargs))


@pytest.mark.parametrize("name", SAME_VALUES)
def test_columns_select_in_the_order_given(name: str) -> None:
    path, kwargs = SAME_VALUES[name]
    columns = np.array([49, 3, 3, 0, 17])
    matrix = read_matrix(path, columns=columns, **kwargs)
    expected = reference().iloc[:, columns]
    np.testing.assert_array_equal(matrix.values, expected.to_numpy(np.float32))
    assert matrix.features == tuple(expected.columns)
    assert len(matrix.samples) == 40


def test_h5ad_layers_and_obs() -> None:
    adata = read_anndata(H5AD)
    x = read_matrix(H5AD)
    np.testing.assert_array_equal(x.values, adata.X)
    assert x.values.min() < 0  # scaled
    raw = read_matrix(H5AD, layer="raw")
    np.testing.assert_array_equal(raw.values, adata.raw.X.toarray())
    assert raw.features == tuple(adata.raw.var_names) and len(raw.features) == 60
    assert raw.features == tuple(read_feature_names(H5AD, layer="raw"))
    assert list(x.obs.index) == list(x.samples)
    assert x.obs["bulk_labels"].nunique() == 10
    selected = read_matrix(H5AD, layer="raw", columns=[59, 0])
    np.testing.assert_array_equal(selected.values, raw.values[:, [59, 0]])


def test_legacy_h5ad_layout_reads_raw() -> None:
    """The example's pbmc68k file is an old on-disk layout (`raw.X` group) that anndata reads."""
    adata = read_anndata(LEGACY_H5AD)
    raw = read_matrix(LEGACY_H5AD, layer="raw", columns=[0, 764])
    assert raw.values.shape == (700, 2)
    np.testing.assert_array_equal(raw.values, adata.raw.X[:, [0, 764]].toarray())
    assert raw.features == (adata.raw.var_names[0], adata.raw.var_names[764])
    assert raw.obs["bulk_labels"].value_counts()["Dendritic"] == 240


def test_tsv_and_sample_ids_are_text(tmp_path: Path) -> None:
    text = CSV_ROWS.read_text().replace(",", "\t").splitlines()
    text[1] = "NA" + text[1][text[1].index("\t") :]
    text[2] = "007" + text[2][text[2].index("\t") :]
    path = tmp_path / "cells.tsv"
    path.write_text("\n".join(text) + "\n")
    matrix = read_matrix(path)
    assert matrix.samples[:2] == ("NA", "007")
    np.testing.assert_array_equal(matrix.values, reference().to_numpy(np.float32))


def test_proteomics_keeps_its_missing_values() -> None:
    matrix = read_matrix(PROTEOMICS, orientation=COLUMNS)
    source = pd.read_csv(PROTEOMICS, index_col=0)
    assert matrix.values.shape == (30, 20)
    assert np.isnan(matrix.values).sum() == source.isna().to_numpy().sum() == 47
    np.testing.assert_array_equal(matrix.values, source.T.to_numpy(np.float32))
    assert (
        matrix.features
        == tuple(source.index)
        == tuple(read_feature_names(PROTEOMICS, "csv", orientation=COLUMNS))
    )
    picked = read_matrix(PROTEOMICS, orientation=COLUMNS, columns=[19, 5])
    np.testing.assert_array_equal(picked.values, matrix.values[:, [19, 5]])


def test_cell_ranger_2_layout(tmp_path: Path) -> None:
    """Cell Ranger 2 keeps the matrix under a genome group with `gene_names`."""
    path = tmp_path / "v2.h5"
    with h5py.File(TENX, "r") as source, h5py.File(path, "w") as f:
        genome = f.create_group("GRCh38")
        for key in ("data", "indices", "indptr", "shape", "barcodes"):
            genome[key] = source["matrix"][key][...]
        genome["gene_names"] = source["matrix/features/name"][...]
    assert read_matrix(path).features == read_matrix(TENX).features
    np.testing.assert_array_equal(read_matrix(path).values, read_matrix(TENX).values)


def failure(path: Path, **kwargs) -> str:
    with pytest.raises(CompileError) as caught:
        read_matrix(path, **kwargs)
    return caught.value.format()


def test_non_numeric_cell_names_row_and_column(tmp_path: Path) -> None:
    lines = CSV_ROWS.read_text().splitlines()
    cells = lines[5].split(",")
    cells[3] = "high"
    lines[5] = ",".join(cells)
    path = tmp_path / "cells.csv"
    path.write_text("\n".join(lines) + "\n")
    text = failure(path)
    column = lines[0].split(",")[3]
    assert f"cells.csv:6: sample {cells[0]}, column {column}: 'high' is not a number" in text
    assert "hint" in text


def test_non_numeric_cell_in_selected_feature_row(tmp_path: Path) -> None:
    lines = PROTEOMICS.read_text().splitlines()
    cells = lines[8].split(",")
    cells[2] = "n.d."
    lines[8] = ",".join(cells)
    path = tmp_path / "proteins.csv"
    path.write_text("\n".join(lines) + "\n")
    text = failure(path, orientation=COLUMNS, columns=[0, 7])
    assert f"proteins.csv:9: feature {cells[0]}, column {lines[0].split(',')[2]}" in text
    assert read_matrix(path, orientation=COLUMNS, columns=[0, 5]).values.shape == (30, 2)


def test_missing_layer_lists_the_available_ones() -> None:
    text = failure(H5AD, layer="counts")
    assert "no layer `counts` in pbmc68k_40x50.h5ad" in text
    assert "available: X, raw, lognorm" in text


def test_missing_raw(tmp_path: Path) -> None:
    path = tmp_path / "noraw.h5ad"
    anndata.AnnData(X=np.ones((2, 3), dtype=np.float32)).write_h5ad(path)
    assert "has no `.raw` matrix" in failure(path, layer="raw")
    assert read_matrix(path).values.shape == (2, 3)


def test_unreadable_files(tmp_path: Path) -> None:
    fake = tmp_path / "cells.h5ad"
    fake.write_text("not hdf5")
    assert "cannot read cells.h5ad as h5ad" in failure(fake)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["values"] = np.zeros(3)
    assert "is not a 10x Genomics HDF5 matrix" in failure(other)
    assert "cannot tell the format of cells.mtx" in failure(tmp_path / "cells.mtx")


def test_matrix_is_frozen() -> None:
    matrix = read_matrix(CSV_ROWS, columns=[0])
    assert isinstance(matrix, Matrix) and matrix.obs is None
    with pytest.raises(AttributeError):
        matrix.values = np.zeros(1)  # type: ignore[misc]


@pytest.mark.parametrize("orientation", ["samples_as_rows", "samples_as_columns"])
def test_repeated_sample_or_feature_names_are_errors(tmp_path: Path, orientation: str) -> None:
    frame = pd.DataFrame(np.arange(12.0).reshape(3, 4), index=["s1", "s2", "s3"])
    frame.columns = ["g1", "g2", "g2", "g3"]  # pandas would read the repeat back as `g2.1`
    if orientation == "samples_as_columns":
        frame = frame.T
    path = tmp_path / "m.csv"
    frame.to_csv(path)
    with pytest.raises(CompileError) as caught:
        read_matrix(path, orientation=orientation)
    problem = caught.value.problems[0]
    assert problem.message == "feature `g2` appears twice (at positions 2 and 3)"
    assert problem.location.line == (1 if orientation == "samples_as_rows" else 4)

    frame = pd.DataFrame(np.arange(6.0).reshape(3, 2), index=["s1", "s2", "s1"], columns=["a", "b"])
    if orientation == "samples_as_columns":
        frame = frame.T
    frame.to_csv(path)
    with pytest.raises(CompileError, match="sample `s1` appears twice"):
        read_matrix(path, orientation=orientation)


def test_repeated_names_in_an_anndata_file_are_errors(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata warns about the repeated names it writes
        adata = anndata.AnnData(np.ones((3, 2), np.float32))
        adata.obs_names, adata.var_names = ["s1", "s2", "s3"], ["g1", "g1"]
        adata.write_h5ad(tmp_path / "a.h5ad")
    with pytest.raises(CompileError) as caught:
        read_matrix(tmp_path / "a.h5ad")
    text = caught.value.format()
    assert "feature `g1` appears twice (at positions 1 and 2)" in text
    assert "adata.var_names_make_unique()" in text


def test_a_feature_named_na_after_a_blank_line(tmp_path: Path) -> None:
    """Rows are counted without blank lines when `NA` names are restored and rows selected."""
    path = tmp_path / "m.csv"
    path.write_text("gene,s1,s2\nA,1,2\n\nNA,3,4\nB,x,6\n")
    with pytest.raises(CompileError) as caught:  # the bad cell's line counts the blank line
        read_matrix(path, orientation="samples_as_columns")
    assert caught.value.problems[0].location.line == 5
    path.write_text("gene,s1,s2\nA,1,2\n\nNA,3,4\nB,5,6\n")
    matrix = read_matrix(path, orientation="samples_as_columns", columns=[2, 1])
    assert matrix.features == ("B", "NA")
    np.testing.assert_array_equal(matrix.values, [[5, 3], [6, 4]])
