"""The dataset a program trains on: the model's input columns, the encoded target, the join.

`load_dataset` reads the expression matrix (only the columns the model uses), finds each
sample's label (an AnnData `obs` column or a label file joined on sample ids), drops unlabelled
samples, applies the missing-value policy and the per-sample transforms (`log1p`,
`normalize_total`), and encodes the target. Transforms that learn statistics (`standardize`,
mean imputation) are fitted per training fold in `pknet.runtime.transforms`.

Target encoding:
- `positive: [...]` -> binary one vs rest, `classes == ("other", "positive")`, code 1 = listed.
- class labels are sorted (numerically when every label is a number, else as text), and `y` holds
  the index into `classes`; for a binary task without `positive`, class 1 is the second label.
- `task: auto` infers the task: a `positive` list -> binary; non-numeric labels -> binary with 2
  classes, else multiclass; numeric labels -> binary with at most 2 distinct integer values,
  else regression. An `obs` column is numeric when its dtype is (categoricals and booleans are
  not); a label-file column is numeric when every label parses as a number.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from pknet.compiler.located import spec_problem
from pknet.errors import CompileError, Location, Problem
from pknet.io.data import Matrix, read_matrix
from pknet.specs import Spec
from pknet.specs.schema.data import Log1pSpec, NormalizeTotalSpec

Task = Literal["binary", "multiclass", "regression"]
OTHER, POSITIVE = "other", "positive"
EXAMPLES = 3
MSG_MISSING_HINT = (
    "set `data.missing: mean` (impute the training-fold mean) or `data.missing: zero`, "
    "or fill the values in the file"
)


@dataclass(frozen=True)
class JoinReport:
    """How the samples of the data met their labels.

    `n_labels` counts label rows (for an `obs` target: the samples); `n_joined` the data samples
    that found a label row; `n_missing_label` those whose label was empty and were dropped;
    `n_used` the samples kept. `dropped` shows the first few samples dropped.
    """

    source: str
    n_data: int
    n_labels: int
    n_joined: int
    n_missing_label: int
    n_used: int
    dropped: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """Model-ready arrays: `x` float32 (samples x inputs, in model input order), `y` int64 class
    codes into `classes` (classification) or float32 values (regression, `classes == ()`).

    `n_missing` counts the missing cells of `x` as read; under `missing: mean` they are still
    NaN here and imputed per training fold.
    """

    x: np.ndarray
    y: np.ndarray
    task: Task
    classes: tuple[str, ...]
    samples: tuple[str, ...]
    features: tuple[str, ...]
    join: JoinReport
    n_missing: int


def load_dataset(spec: Spec, input_columns: np.ndarray | None) -> Dataset:
    """Read and prepare the samples of `spec.data`.

    `input_columns[i]` is the data column (file order) of model input `i`; None keeps every
    feature.
    """
    columns = None if input_columns is None else _checked_columns(spec, input_columns)
    matrix = read_inputs(spec, Path(spec.data.expression.file), columns)
    labels, join = _labels(spec, matrix)
    keep = np.flatnonzero(labels.notna().to_numpy())
    x, features, n_missing = prepare_inputs(spec, matrix, keep, columns)
    y, task, classes = _encode(spec, labels.iloc[keep], _is_numeric(spec, labels))
    return Dataset(
        x=x,
        y=y,
        task=task,
        classes=classes,
        samples=tuple(matrix.samples[i] for i in keep),
        features=features,
        join=join,
        n_missing=n_missing,
    )


def _needs_whole_matrix(spec: Spec) -> bool:
    """`normalize_total` needs every feature of a sample, so inputs are selected after it."""
    return any(isinstance(t, NormalizeTotalSpec) for t in spec.data.transform)


def read_inputs(spec: Spec, path: Path, columns: np.ndarray | None) -> Matrix:
    """Read a data file as `spec.data.expression` describes, only `columns` when that suffices."""
    expression = spec.data.expression
    return read_matrix(
        path,
        expression.format,
        expression.layer,
        expression.orientation,
        columns=None if columns is None or _needs_whole_matrix(spec) else columns,
    )


def prepare_inputs(
    spec: Spec, matrix: Matrix, rows: np.ndarray, columns: np.ndarray | None
) -> tuple[np.ndarray, tuple[str, ...], int]:
    """Model inputs of `rows`: missing-value policy, per-sample transforms, column selection.

    Returns (x float32 in input order, feature names, number of missing cells).
    """
    x = matrix.values[rows]
    whole = columns is not None and _needs_whole_matrix(spec)
    used = columns if whole else slice(None)
    samples = tuple(matrix.samples[i] for i in rows)
    n_missing = apply_missing_policy(spec, x, used, samples, matrix.features)
    x = per_sample_transforms(spec, x)
    features = matrix.features
    if whole:
        x, features = x[:, columns], tuple(features[i] for i in columns)
    return np.ascontiguousarray(x, dtype=np.float32), features, n_missing


def _checked_columns(spec: Spec, input_columns: np.ndarray) -> np.ndarray:
    columns = np.asarray(input_columns, dtype=np.int64)
    unmeasured = int((columns < 0).sum())
    if unmeasured:
        raise CompileError(
            spec_problem(
                spec,
                ("network", "inputs"),
                f"{unmeasured} of {len(columns)} input nodes have no column in the data",
                "select measured inputs only, e.g. `inputs: leaves & measured`",
            )
        )
    return columns


# --- labels --------------------------------------------------------------------------------


def _labels(spec: Spec, matrix: Matrix) -> tuple[pd.Series, JoinReport]:
    """One label per data sample (NaN where it has none), and how they joined."""
    target = spec.data.target
    if target.obs is not None:
        labels = _obs_labels(spec, matrix)
        source, n_labels, n_joined = f"obs.{target.obs}", len(labels), len(labels)
    else:
        table = _label_table(spec)
        joined = pd.Index(matrix.samples).isin(table.index)
        if not joined.any():
            raise CompileError(_no_join_problem(spec, table, matrix))
        labels = table.reindex(pd.Index(matrix.samples))
        source, n_labels, n_joined = Path(target.file).name, len(table), int(joined.sum())
    missing = labels.isna().to_numpy()
    join = JoinReport(
        source=source,
        n_data=len(matrix.samples),
        n_labels=n_labels,
        n_joined=n_joined,
        n_missing_label=n_joined - len(matrix.samples) + int(missing.sum()),
        n_used=int((~missing).sum()),
        dropped=tuple(matrix.samples[i] for i in np.flatnonzero(missing)[:EXAMPLES]),
    )
    return labels, join


def _obs_labels(spec: Spec, matrix: Matrix) -> pd.Series:
    name = spec.data.target.obs
    path = ("data", "target", "obs")
    file = Path(spec.data.expression.file).name
    if matrix.obs is None:
        raise CompileError(
            spec_problem(
                spec,
                path,
                f"`obs` targets need an AnnData .h5ad file; {file} has no obs table",
                "put the labels in a table: `target: {file: labels.csv, column: <name>}`",
            )
        )
    if name not in matrix.obs.columns:
        columns = [str(c) for c in matrix.obs.columns]
        raise CompileError(
            spec_problem(
                spec,
                path,
                f"{file} has no obs column `{name}`",
                _did_you_mean(name, columns, "obs columns"),
            )
        )
    return pd.Series(matrix.obs[name].to_numpy(), index=pd.Index(matrix.samples), name=name)


def _label_table(spec: Spec) -> pd.Series:
    """The label column of the label file, indexed by sample id."""
    target = spec.data.target
    path = Path(target.file)
    sep = "\t" if path.suffix.lower() in (".tsv", ".txt", ".tab") else ","
    try:
        table = pd.read_csv(path, sep=sep, dtype=str)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CompileError(
            Problem(f"cannot read label file {path.name}: {exc}", Location(str(path)))
        ) from None
    header = [str(c) for c in table.columns]
    index = target.index if target.index is not None else header[0]
    for field, name in (("index", index), ("column", target.column)):
        if name not in header:
            raise CompileError(
                spec_problem(
                    spec,
                    ("data", "target", field),
                    f"label file {path.name} has no column `{name}`",
                    _did_you_mean(name, header, "columns"),
                )
            )
    ids = table[index]
    duplicated = ids.dropna().duplicated(keep=False)
    if duplicated.any():
        first = ids.dropna()[duplicated].iloc[0]
        lines = [int(i) + 2 for i in np.flatnonzero((ids == first).to_numpy())]
        shown = ", ".join(map(str, lines))
        raise CompileError(
            Problem(
                f"sample `{first}` has {len(lines)} label rows (lines {shown})",
                Location(str(path), lines[1]),
                hint="give each sample one label row",
            )
        )
    labels = table[target.column]
    labels.index = pd.Index(ids.astype(str))
    return labels[ids.notna().to_numpy()]


def _no_join_problem(spec: Spec, table: pd.Series, matrix: Matrix) -> Problem:
    label_ids = ", ".join(map(str, table.index[:EXAMPLES]))
    sample_ids = ", ".join(matrix.samples[:EXAMPLES])
    index = spec.data.target.index or "the first column"
    return spec_problem(
        spec,
        ("data", "target", "file"),
        f"none of the {len(table)} label ids matches one of the {len(matrix.samples)} samples of "
        f"{Path(spec.data.expression.file).name}: labels have ids like {label_ids}; "
        f"the data has samples like {sample_ids}",
        f"check that `index` ({index}) holds the sample ids, written exactly as in the data "
        "(e.g. the `-1` suffix of 10x barcodes)",
    )


def _did_you_mean(word: str, options: list[str], what: str) -> str:
    """A hint naming the closest option (ignoring case first) and the first few options."""
    folded = {o.casefold(): o for o in options}
    close = [folded[word.casefold()]] if word.casefold() in folded else []
    close = close or difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    shown = ", ".join(f"`{o}`" for o in options[:10]) + (", ..." if len(options) > 10 else "")
    return (f"did you mean `{close[0]}`? " if close else "") + f"{what}: {shown}"


# --- target encoding -----------------------------------------------------------------------


def _is_numeric(spec: Spec, labels: pd.Series) -> bool:
    if spec.data.target.obs is not None:
        return pd.api.types.is_numeric_dtype(labels.dtype) and not pd.api.types.is_bool_dtype(
            labels.dtype
        )
    present = labels.dropna()
    return bool(pd.to_numeric(present, errors="coerce").notna().all())


def _label_texts(labels: pd.Series, numeric: bool) -> np.ndarray:
    """Labels as text; integer-valued numbers without a decimal point (`1.0` -> `1`)."""
    if not numeric:
        return labels.astype(str).to_numpy()
    values = pd.to_numeric(labels).to_numpy(dtype=np.float64)
    return np.array([str(int(v)) if v.is_integer() else repr(float(v)) for v in values])


def _encode(
    spec: Spec, labels: pd.Series, numeric: bool
) -> tuple[np.ndarray, Task, tuple[str, ...]]:
    target = spec.data.target
    texts = _label_texts(labels, numeric)
    if target.positive is not None:
        return _one_vs_rest(spec, texts)
    if target.task == "regression" or (target.task == "auto" and numeric and _continuous(labels)):
        if not numeric:
            raise CompileError(
                spec_problem(
                    spec,
                    ("data", "target", "task"),
                    f"regression needs numeric labels; found labels like {texts[0]!r}",
                    "use `task: binary` or `task: multiclass` for class labels",
                )
            )
        return pd.to_numeric(labels).to_numpy(dtype=np.float32), "regression", ()
    classes = _sorted_classes(np.unique(texts))
    task: Task = target.task if target.task != "auto" else "binary"
    if target.task == "auto" and len(classes) > 2:
        task = "multiclass"
    if len(classes) < 2 or (task == "binary" and len(classes) > 2):
        raise CompileError(_class_count_problem(spec, task, classes))
    codes = {c: i for i, c in enumerate(classes)}
    return np.array([codes[t] for t in texts], dtype=np.int64), task, classes


def _continuous(labels: pd.Series) -> bool:
    """Numeric labels that are not two integer classes."""
    values = np.unique(pd.to_numeric(labels).to_numpy(dtype=np.float64))
    return len(values) > 2 or not all(v.is_integer() for v in values)


def _sorted_classes(labels: np.ndarray) -> tuple[str, ...]:
    """Labels in canonical order: numerically when all are numbers, else as text."""
    numbers = pd.to_numeric(pd.Series(labels), errors="coerce")
    if numbers.notna().all():
        return tuple(str(labels[i]) for i in np.argsort(numbers.to_numpy(), kind="stable"))
    return tuple(sorted(str(label) for label in labels))


def _one_vs_rest(spec: Spec, texts: np.ndarray) -> tuple[np.ndarray, Task, tuple[str, ...]]:
    positive = spec.data.target.positive or []
    present = set(texts.tolist())
    for i, label in enumerate(positive):
        if label not in present:
            raise CompileError(
                spec_problem(
                    spec,
                    ("data", "target", "positive", i),
                    f"no labelled sample has the label `{label}`",
                    _did_you_mean(label, sorted(present), "labels"),
                )
            )
    y = np.isin(texts, positive).astype(np.int64)
    if y.all():
        raise CompileError(
            spec_problem(
                spec,
                ("data", "target", "positive"),
                "every labelled sample is positive; one-vs-rest needs some other samples",
                "list fewer labels under `positive`",
            )
        )
    return y, "binary", (OTHER, POSITIVE)


def _class_count_problem(spec: Spec, task: str, classes: tuple[str, ...]) -> Problem:
    shown = ", ".join(f"`{c}`" for c in classes[:10])
    if len(classes) < 2:
        return spec_problem(
            spec,
            ("data", "target"),
            f"every labelled sample has the same label ({shown}); there is nothing to predict",
            "check the target column and the join with the data",
        )
    return spec_problem(
        spec,
        ("data", "target", "task"),
        f"a binary task needs 2 classes; the labels have {len(classes)}: {shown}",
        "list the labels of the positive class under `positive`, or use `task: multiclass`",
    )


# --- missing values and per-sample transforms ----------------------------------------------


def apply_missing_policy(
    spec: Spec,
    x: np.ndarray,
    used: slice | np.ndarray,
    samples: tuple[str, ...],
    features: tuple[str, ...],
) -> int:
    """Count the missing cells of the used columns; fail or zero-fill them (in place)."""
    missing = np.isnan(x[:, used])
    n_missing = int(missing.sum())
    if n_missing and spec.data.missing == "error":
        row, col = np.argwhere(missing)[0]
        feature = features[np.arange(len(features))[used][col]]
        raise CompileError(
            spec_problem(
                spec,
                ("data", "missing"),
                f"{Path(spec.data.expression.file).name} has {n_missing} missing value(s) in the "
                f"model's inputs, e.g. sample {samples[row]}, feature {feature}",
                MSG_MISSING_HINT,
            )
        )
    if spec.data.missing == "zero":
        np.nan_to_num(x, copy=False, nan=0.0, posinf=np.inf, neginf=-np.inf)
    return n_missing


def per_sample_transforms(spec: Spec, x: np.ndarray) -> np.ndarray:
    """`log1p` and `normalize_total`, in spec order; fold-fitted transforms are skipped here."""
    for i, transform in enumerate(spec.data.transform):
        if isinstance(transform, Log1pSpec):
            lowest = np.nanmin(x) if x.size and not np.isnan(x).all() else 0.0
            if lowest < 0:
                raise CompileError(
                    spec_problem(
                        spec,
                        ("data", "transform", i),
                        f"log1p needs non-negative values; the data reaches {lowest:.4g} "
                        "(is this matrix already scaled?)",
                        "remove `log1p`, or read counts (e.g. `expression.layer: raw` or a "
                        "counts layer)",
                    )
                )
            x = np.log1p(x)
        elif isinstance(transform, NormalizeTotalSpec):
            totals = np.nansum(x, axis=1, keepdims=True)
            factors = np.divide(
                transform.target_sum, totals, out=np.ones_like(totals), where=totals > 0
            )
            x = x * factors
    return x
