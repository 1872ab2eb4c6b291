"""The dataset a program trains on: the model's input columns, the encoded target, the join.

`load_dataset` reads the expression matrix (only the columns the model uses; only the samples
`data.samples` lists, when it lists any), finds each sample's label (an AnnData `obs` column or a
label file joined on sample ids), drops unlabelled samples (with a warning that says how many
and why), applies the missing-value policy and the per-sample transforms (`log1p`,
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
- several targets (label-file `columns`, or data `features`) are a multi-output regression:
  `y` is float32 (samples x tasks). Samples without a label row are dropped; an empty or
  non-numeric value of a used sample is an error. Target `features` leave the inputs and get the
  same per-sample transforms as the inputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from pknet.compiler.located import spec_problem
from pknet.compiler.network.compile_network import CompiledNetwork, feature_naming
from pknet.compiler.streamed import StreamedInputs
from pknet.errors import CompileError, Location, Problem, TableError
from pknet.files import file_problem
from pknet.io.backed import BackedCSR
from pknet.io.data import (
    Matrix,
    data_format,
    first_repeat,
    open_h5ad,
    read_feature_names,
    read_matrix,
    repeat_error,
    table_header,
)
from pknet.io.tables import read_text_table, table_separator
from pknet.specs import Spec
from pknet.specs.schema.data import Log1pSpec, NormalizeTotalSpec
from pknet.suggest import did_you_mean

Task = Literal["binary", "multiclass", "regression"]
OTHER, POSITIVE = "other", "positive"
EXAMPLES = 3
EXAMPLES_NAMED = 10
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

    def counts(self) -> dict[str, int]:
        """Samples `read` from the data, `labelled` (joined to a target) and `used`."""
        return {"read": self.n_data, "labelled": self.n_joined, "used": self.n_used}

    def dropped_reasons(self) -> str | None:
        """Why samples of the data were left out (None: none was)."""
        if self.n_used == self.n_data:
            return None
        reasons = []
        if self.n_joined < self.n_data:
            reasons.append(f"{self.n_data - self.n_joined} without a label row in {self.source}")
        if self.n_missing_label:
            reasons.append(f"{self.n_missing_label} with a missing target value")
        return (
            f"{self.n_data - self.n_used} of {self.n_data} samples left out, "
            f"{', '.join(reasons)} (e.g. {', '.join(self.dropped)}); {self.n_used} used"
        )


@dataclass(frozen=True)
class Dataset:
    """Model-ready arrays: `x` float32 (samples x inputs, in model input order), `y` int64 class
    codes into `classes` (classification) or float32 values (regression, `classes == ()`); with
    several targets `y` is (samples x tasks) and `targets` names the tasks.

    `n_missing` counts the missing cells of `x` as read; under `missing: mean` they are still
    NaN here and imputed per training fold. With `backed: true`, `x` stays on disk (a
    `StreamedInputs`; `x[rows]` reads rows) and `n_missing` is 0: values are checked as read.
    """

    x: np.ndarray | StreamedInputs
    y: np.ndarray
    task: Task
    classes: tuple[str, ...]
    samples: tuple[str, ...]
    features: tuple[str, ...]
    join: JoinReport
    n_missing: int
    targets: tuple[str, ...] = ()
    groups: np.ndarray | None = None  # each sample's group (`evaluate.cv.groups`), as text


def load_dataset(
    spec: Spec, input_columns: np.ndarray | None, network: CompiledNetwork | None = None
) -> Dataset:
    """Read and prepare the samples of `spec.data`.

    `input_columns[i]` is the data column (file order) of model input `i`; None keeps every
    feature (but target `features`). `network`, when the model has one, names unmeasured nodes
    in errors and gives the columns of `features: network_outputs`.
    """
    path = Path(spec.data.expression.file)
    input_names = _node_names(network, "inputs")
    columns = None if input_columns is None else _checked_columns(spec, input_columns, input_names)
    target_columns = _target_feature_columns(spec, path, network)
    if columns is None and target_columns is not None:
        n_features = len(feature_names(spec, path))
        columns = np.setdiff1d(np.arange(n_features), target_columns)
    fmt = data_format(path, spec.data.expression.format)
    if spec.data.expression.layer != "X" and fmt != "h5ad":
        raise CompileError(
            spec_problem(
                spec,
                ("data", "expression", "layer"),
                f"`layer: {spec.data.expression.layer}` names a matrix inside an AnnData file, "
                f"but {path.name} is read as {fmt}",
                "remove `layer` (the file holds one matrix)",
            )
        )
    backed = spec.data.expression.backed
    if backed and spec.model.feature_graph() is not None:
        raise CompileError(
            spec_problem(
                spec,
                ("data", "expression", "backed"),
                "a graph over the features is built from every sample's values; "
                "`backed: true` streams them",
                "remove `backed`, or the feature graph",
            )
        )
    if backed and not feature_naming(spec).plain:
        raise CompileError(
            spec_problem(
                spec,
                ("data", "expression", "backed"),
                "features named by a `var` column, combined duplicates or mapping-table sums "
                "are computed from whole columns; `backed: true` streams the file's own columns",
                "remove `backed`, or `var_names` / `duplicates` / the mapping table's sums",
            )
        )
    if backed and target_columns is not None:
        raise CompileError(
            spec_problem(
                spec,
                ("data", "expression", "backed"),
                "target `features` are read into memory whole; `backed: true` streams inputs",
                "remove `backed`, or predict a label (`target: {obs: ...}` or a label file)",
            )
        )
    matrix = _backed_index(spec, path) if backed else read_inputs(spec, path, columns)
    if not matrix.samples:
        raise CompileError(
            spec_problem(
                spec,
                ("data", "expression"),
                f"{path.name} holds no samples",
                "check the file, and `orientation` (samples as rows or as columns)",
            )
        )
    file_samples = matrix.samples
    matrix = _listed_samples(spec, matrix, path)
    targets: tuple[str, ...] = ()
    if target_columns is not None:
        y, targets, join = _feature_targets(spec, path, matrix, target_columns)
        keep, task, classes = np.arange(len(matrix.samples)), "regression", ()
    else:
        labels, join = _labels(spec, matrix)
        keep = np.flatnonzero(labels.notna().to_numpy().reshape(len(labels), -1).all(axis=1))
        if isinstance(labels, pd.DataFrame):
            y, targets = labels.iloc[keep].to_numpy(np.float32), tuple(labels.columns)
            task, classes = "regression", ()
        else:
            y, task, classes = _encode(spec, labels.iloc[keep], _is_numeric(spec, labels))
    if backed:
        x, n_missing = _streamed(spec, path, matrix, file_samples, keep, columns), 0
        features = (
            matrix.features if columns is None else tuple(matrix.features[i] for i in columns)
        )
    else:
        x, features, n_missing = prepare_inputs(spec, matrix, keep, columns)
    if x.shape[1] == 0:
        raise CompileError(
            spec_problem(
                spec,
                ("data", "expression"),
                f"{path.name} gives the model no input feature (it has {len(matrix.samples)} "
                "samples but no feature columns left)",
                "check `orientation` (samples as rows or as columns) and the file's separator",
            )
        )
    _check_finite_targets(spec, y, [matrix.samples[i] for i in keep])
    groups = _sample_groups(spec, matrix, keep)
    dropped = join.dropped_reasons()
    if dropped is not None:
        warnings.warn(dropped, RuntimeWarning, stacklevel=2)
    return Dataset(
        x=x,
        y=y,
        task=task,
        classes=classes,
        samples=tuple(matrix.samples[i] for i in keep),
        features=features,
        join=join,
        n_missing=n_missing,
        targets=targets,
        groups=groups,
    )


def _backed_index(spec: Spec, path: Path) -> Matrix:
    """The samples, features and `obs` of a backed file, without values (an empty matrix)."""
    with open_h5ad(path) as adata:
        samples = tuple(adata.obs_names.astype(str))
        obs = adata.obs.copy()
    repeat = first_repeat(samples)
    if repeat is not None:
        raise repeat_error(repeat, "sample", Location(str(path)), "make them unique")
    features = tuple(feature_names(spec, path))
    return Matrix(np.zeros((len(samples), 0), np.float32), samples, features, obs)


def _streamed(
    spec: Spec,
    path: Path,
    matrix: Matrix,
    file_samples: tuple[str, ...],
    keep: np.ndarray,
    columns: np.ndarray | None,
) -> StreamedInputs:
    """The inputs of the samples `keep` of `matrix` (a `_backed_index` of the file's
    `file_samples`, maybe narrowed to `data.samples`), read on demand."""
    try:
        reader = BackedCSR(path, spec.data.expression.layer)
    except CompileError as exc:
        problem = exc.problems[0]
        raise CompileError(
            spec_problem(spec, ("data", "expression", "backed"), problem.message, problem.hint)
        ) from None
    samples = tuple(matrix.samples[i] for i in keep)
    file_rows = pd.Index(file_samples).get_indexer(samples)
    whole = columns is None or _needs_whole_matrix(spec)
    read = None if whole else columns
    names = matrix.features if read is None else tuple(matrix.features[i] for i in read)

    def prepare(block: Matrix) -> np.ndarray:
        return prepare_inputs(spec, block, np.arange(len(block.samples)), columns)[0]

    n_inputs = len(matrix.features) if columns is None else len(columns)
    return StreamedInputs(reader, file_rows, samples, names, read, n_inputs, prepare)


def _listed_samples(spec: Spec, matrix: Matrix, path: Path) -> Matrix:
    """The rows of `matrix` that `data.samples` lists, in file order (all without the list)."""
    listed = spec.data.samples
    if listed is None:
        return matrix
    index = pd.Index(matrix.samples)
    rows = index.get_indexer(listed)
    absent = [sample for sample, row in zip(listed, rows, strict=True) if row < 0]
    if absent:
        raise CompileError(
            spec_problem(
                spec,
                ("data", "samples"),
                f"{len(absent)} listed sample(s) are not in {path.name}, e.g. "
                f"{', '.join(absent[:EXAMPLES])}",
                f"list ids of the data file, like {', '.join(matrix.samples[:EXAMPLES])}",
            )
        )
    rows = np.sort(rows)
    obs = None if matrix.obs is None else matrix.obs.iloc[rows]
    samples = tuple(matrix.samples[i] for i in rows)
    return replace(matrix, values=matrix.values[rows], samples=samples, obs=obs)


def _sample_groups(spec: Spec, matrix: Matrix, rows: np.ndarray) -> np.ndarray | None:
    """The group of each of `rows` (the samples used) for a grouped `evaluate.cv` (None for the
    other kinds): its `obs` column, else its label-file column; every one must have a group."""
    name = getattr(spec.evaluate.cv, "groups", None)
    if name is None:
        return None
    path = ("evaluate", "cv", "groups")
    obs_columns = [] if matrix.obs is None else [str(c) for c in matrix.obs.columns]
    if name in obs_columns:
        values = pd.Series(matrix.obs[name].to_numpy(), index=pd.Index(matrix.samples))
    else:
        table = _label_file(spec)[0] if spec.data.target.file is not None else pd.DataFrame()
        file_columns = [str(c) for c in table.columns]
        if name not in file_columns:
            where = [f"obs columns: {', '.join(obs_columns)}"] if obs_columns else []
            if file_columns:
                where.append(f"label-file columns: {', '.join(file_columns)}")
            raise CompileError(
                spec_problem(
                    spec,
                    path,
                    f"no sample table has a column `{name}` to group the samples by",
                    "available " + "; ".join(where)
                    if where
                    else "groups come from an AnnData `obs` column or a label-file column; "
                    "this data has neither",
                )
            )
        values = table[name].reindex(pd.Index(matrix.samples))
    values = values.iloc[rows]
    missing = values.isna().to_numpy()
    if missing.any():
        raise CompileError(
            spec_problem(
                spec,
                path,
                f"{int(missing.sum())} sample(s) have no `{name}` group, e.g. "
                f"{values.index[np.flatnonzero(missing)[0]]}",
                "give every sample a group, or list the grouped samples under `data.samples`",
            )
        )
    return values.astype(str).to_numpy()


def _check_finite_targets(spec: Spec, y: np.ndarray, samples: Sequence[str]) -> None:
    """Regression targets are finite (missing ones were dropped as unlabelled)."""
    if y.dtype.kind != "f" or np.isfinite(y).all():
        return
    rows = np.flatnonzero(~np.isfinite(y.reshape(len(y), -1)).all(axis=1))
    raise CompileError(
        spec_problem(
            spec,
            ("data", "target"),
            f"{len(rows)} sample(s) have an infinite target value, e.g. {samples[rows[0]]}",
            "replace the infinite values in the labels (or leave them empty to drop the samples)",
        )
    )


def _node_names(network: CompiledNetwork | None, which: str) -> tuple[str, ...] | None:
    """Names of the network's `inputs` or `outputs` nodes, in their order (None: no network)."""
    if network is None:
        return None
    return tuple(network.network.nodes[i] for i in getattr(network, which))


def feature_names(spec: Spec, path: Path) -> list[str]:
    """The feature names of a data file as `spec.data.expression` describes it."""
    expression = spec.data.expression
    return read_feature_names(
        path, expression.format, expression.layer, expression.orientation, feature_naming(spec)
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
        naming=feature_naming(spec),
    )


def prepare_inputs(
    spec: Spec,
    matrix: Matrix,
    rows: np.ndarray,
    columns: np.ndarray | None,
    source: Path | None = None,
) -> tuple[np.ndarray, tuple[str, ...], int]:
    """Model inputs of `rows`: missing-value policy, per-sample transforms, column selection.

    Returns (x float32 in input order, feature names, number of missing cells). `matrix` is
    read for this call: when `rows` are all its rows in order, its values are used (and may be
    changed) in place rather than copied. `source`: the file it was read from, when that is not
    the spec's data file.
    """
    in_order = len(rows) == len(matrix.values) and np.array_equal(rows, np.arange(len(rows)))
    x = matrix.values if in_order else matrix.values[rows]
    whole = columns is not None and _needs_whole_matrix(spec)
    used = columns if whole else slice(None)
    samples = tuple(matrix.samples[i] for i in rows)
    n_missing = apply_missing_policy(spec, x, used, samples, matrix.features, source)
    x = per_sample_transforms(spec, x)
    features = matrix.features
    if whole:
        x, features = x[:, columns], tuple(features[i] for i in columns)
    return np.ascontiguousarray(x, dtype=np.float32), features, n_missing


def _checked_columns(
    spec: Spec,
    node_columns: np.ndarray,
    names: Sequence[str] | None,
    path: tuple[str, ...] = ("network", "inputs"),
    what: str = "input nodes",
) -> np.ndarray:
    """The data columns of network nodes; an error names the nodes no column maps to."""
    columns = np.asarray(node_columns, dtype=np.int64)
    unmeasured = np.flatnonzero(columns < 0)
    if len(unmeasured):
        shown = ""
        if names is not None:
            listed = ", ".join(f"`{names[i]}`" for i in unmeasured[:EXAMPLES_NAMED])
            shown = f": {listed}" + (", ..." if len(unmeasured) > EXAMPLES_NAMED else "")
        raise CompileError(
            spec_problem(
                spec,
                path,
                f"{len(unmeasured)} of {len(columns)} {what} have no column in the data{shown}",
                "select measured nodes only, e.g. `inputs: leaves & measured`, or check "
                "`network.features` (how node names become column names)",
            )
        )
    return columns


def _target_feature_columns(
    spec: Spec, path: Path, network: CompiledNetwork | None
) -> np.ndarray | None:
    """The data columns of the target `features` (None for other targets)."""
    wanted = spec.data.target.features
    field = ("data", "target", "features")
    if wanted is None:
        return None
    if wanted == "network_outputs":
        if network is None:
            raise ValueError("`features: network_outputs` needs the compiled network")
        names = _node_names(network, "outputs")
        return _checked_columns(spec, network.output_columns, names, field, "output nodes")
    available = feature_names(spec, path)
    position = {name: i for i, name in enumerate(available)}
    for i, name in enumerate(wanted):
        if name not in position:
            raise CompileError(
                spec_problem(
                    spec,
                    (*field, i),
                    f"{path.name} has no feature `{name}`",
                    _options_hint(name, available, "features"),
                )
            )
    return np.array([position[name] for name in wanted], dtype=np.int64)


def _feature_targets(
    spec: Spec, path: Path, matrix: Matrix, columns: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...], JoinReport]:
    """Target values read from the data's own `columns` (every sample; none may be missing),
    after the same per-sample transforms as the inputs."""
    targets = read_inputs(spec, path, columns)
    whole = _needs_whole_matrix(spec)  # then every column was read
    names = tuple(targets.features[i] for i in columns) if whole else targets.features
    missing = np.isnan(targets.values[:, columns] if whole else targets.values)
    if missing.any():
        row, col = np.argwhere(missing)[0]
        raise CompileError(
            spec_problem(
                spec,
                ("data", "target", "features"),
                f"{path.name} has {int(missing.sum())} missing value(s) in the target features, "
                f"e.g. sample {targets.samples[row]}, feature {names[col]}",
                "targets must be complete: fill the values, or predict other features",
            )
        )
    n = len(matrix.samples)
    y, _, _ = prepare_inputs(spec, targets, np.arange(n), columns)
    return y, names, JoinReport(f"{path.name} features", n, n, n, 0, n, ())


# --- labels --------------------------------------------------------------------------------


def _labels(spec: Spec, matrix: Matrix) -> tuple[pd.Series | pd.DataFrame, JoinReport]:
    """One label (several targets: one row of values) per data sample, NaN where it has none;
    and how they joined."""
    target = spec.data.target
    if target.obs is not None:
        labels = _obs_labels(spec, matrix)
        source, n_labels, n_joined = f"obs.{target.obs}", len(labels), len(labels)
    else:
        table = _label_targets(spec, matrix.samples)
        joined = pd.Index(matrix.samples).isin(table.index)
        if not joined.any():
            raise CompileError(_no_join_problem(spec, table, matrix))
        labels = table.reindex(pd.Index(matrix.samples))
        source, n_labels, n_joined = Path(target.file).name, len(table), int(joined.sum())
    missing = labels.isna().to_numpy().reshape(len(labels), -1).any(axis=1)
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
                _options_hint(name, columns, "obs columns"),
            )
        )
    return pd.Series(matrix.obs[name].to_numpy(), index=pd.Index(matrix.samples), name=name)


def _label_file(spec: Spec) -> tuple[pd.DataFrame, pd.Series]:
    """The label file (as text, the id column included) indexed by sample id, and each row's
    line number; rows without an id are left out."""
    path = Path(spec.data.target.file)
    sep = table_separator(path)
    try:
        table = read_text_table(path, sep=sep)
    except TableError as exc:
        raise CompileError(
            Problem(f"cannot read label file {path.name}: {exc}", Location(str(path)))
        ) from None
    header = [str(c) for c in table.columns]
    repeat = first_repeat(header[:1] + table_header(path, sep))
    if repeat is not None:
        raise CompileError(
            Problem(
                f"label file {path.name} has two columns named `{repeat[0]}`",
                Location(str(path), 1),
                hint="give every column of the label file its own name",
            )
        )
    index = spec.data.target.index or header[0]
    if index not in header:
        raise CompileError(
            spec_problem(
                spec,
                ("data", "target", "index"),
                f"label file {path.name} has no column `{index}`",
                _options_hint(index, header, "columns"),
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
    has_id = ids.notna().to_numpy()
    ids = pd.Index(ids[has_id].astype(str))
    table = table[has_id].set_axis(ids)
    return table, pd.Series(np.flatnonzero(has_id) + 2, index=ids)


def _label_columns(spec: Spec, table: pd.DataFrame) -> list[str]:
    """The label-file columns the target names (`column`, `columns`), checked."""
    target = spec.data.target
    header = [str(c) for c in table.columns]
    if target.columns == "all":
        index = target.index or header[0]
        if len(header) < 2:
            raise CompileError(
                spec_problem(
                    spec,
                    ("data", "target", "columns"),
                    f"label file {Path(target.file).name} has no column besides the sample ids",
                )
            )
        return [name for name in header if name != index]
    if target.column is not None:
        wanted = [(("column",), target.column)]
    else:
        wanted = [(("columns", i), name) for i, name in enumerate(target.columns)]
    for field, name in wanted:
        if name not in header:
            raise CompileError(
                spec_problem(
                    spec,
                    ("data", "target", *field),
                    f"label file {Path(target.file).name} has no column `{name}`",
                    _options_hint(name, header, "columns"),
                )
            )
    return [name for _, name in wanted]


def _label_targets(spec: Spec, samples: tuple[str, ...]) -> pd.Series | pd.DataFrame:
    """The label column (text), or the target columns as numbers, indexed by sample id."""
    table, lines = _label_file(spec)
    columns = _label_columns(spec, table)
    if not spec.data.target.multi_output:
        return table[columns[0]]
    return _numeric_targets(table[columns], lines, samples, Path(spec.data.target.file))


def _numeric_targets(
    table: pd.DataFrame, lines: pd.Series, samples: tuple[str, ...], path: Path
) -> pd.DataFrame:
    """Label-file targets as numbers; an empty or non-numeric cell of a data sample is an error
    at its line."""
    values = table.apply(pd.to_numeric, errors="coerce")
    bad = values.isna().to_numpy() & table.index.isin(samples)[:, None]
    if bad.any():
        row, col = np.argwhere(bad)[0]
        sample, cell = table.index[row], table.iat[row, col]
        what = "no value" if pd.isna(cell) else f"{cell!r}, which is not a number,"
        raise CompileError(
            Problem(
                f"sample `{sample}` has {what} in target column `{table.columns[col]}` "
                f"({int(bad.sum())} such cell(s) in the target columns)",
                Location(str(path), int(lines.iloc[row])),
                hint="give every sample a number in each target column, or drop the sample's "
                "row (samples without a label row are left out)",
            )
        )
    return values.astype(np.float32)


def _no_join_problem(spec: Spec, table: pd.Series | pd.DataFrame, matrix: Matrix) -> Problem:
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


def _options_hint(word: str, options: list[str], what: str) -> str:
    """A hint naming the closest option and the first few options."""
    close = did_you_mean(word, options)
    shown = ", ".join(f"`{o}`" for o in options[:10]) + (", ..." if len(options) > 10 else "")
    return (f"{close} " if close else "") + f"{what}: {shown}"


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
                    _options_hint(label, sorted(present), "labels"),
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
    source: Path | None = None,
) -> int:
    """Count the missing cells of the used columns; fail or zero-fill them (in place). Infinite
    values are always an error: no policy says what they stand for. `source` is the file `x`
    came from when it is not the spec's data file (e.g. new samples to predict)."""
    values = x[:, used]
    # a finite sum proves there is no NaN or inf, without a mask as large as the data
    finite = bool(np.isfinite(values.sum()))
    missing = np.zeros((0, 0), bool) if finite else np.isnan(values)
    infinite = np.zeros((0, 0), bool) if finite else np.isinf(values)
    name = Path(source or spec.data.expression.file).name

    def problem(field: str, mask: np.ndarray, what: str, hint: str) -> CompileError:
        row, col = np.argwhere(mask)[0]
        message = (
            f"{name} has {int(mask.sum())} {what} value(s) in the model's inputs, e.g. sample "
            f"{samples[row]}, feature {features[np.arange(len(features))[used][col]]}"
        )
        if source is not None:
            return CompileError(Problem(message, Location(str(source)), hint=hint))
        return CompileError(spec_problem(spec, ("data", field), message, hint))

    if infinite.any():
        raise problem(
            "expression",
            infinite,
            "infinite",
            "replace them in the file (they are not missing values, so `data.missing` does "
            "not apply)",
        )
    n_missing = int(missing.sum())
    if n_missing and spec.data.missing == "error":
        hint = MSG_MISSING_HINT if source is None else "fill the values in the file"
        raise problem("missing", missing, "missing", hint)
    if spec.data.missing == "zero":
        np.nan_to_num(x, copy=False, nan=0.0, posinf=np.inf, neginf=-np.inf)
    return n_missing


def per_sample_transforms(spec: Spec, x: np.ndarray) -> np.ndarray:
    """`log1p` and `normalize_total`, in spec order; fold-fitted transforms are skipped here.

    Both read counts: a negative value is an error. A sample whose total is 0 stays all zeros
    under `normalize_total`, as in scanpy.
    """
    for i, transform in enumerate(spec.data.transform):
        if isinstance(transform, Log1pSpec | NormalizeTotalSpec):
            _check_counts(spec, x, i, transform.kind)
        if isinstance(transform, Log1pSpec):
            x = np.log1p(x)
        elif isinstance(transform, NormalizeTotalSpec):
            totals = np.nansum(x, axis=1, keepdims=True)
            factors = np.divide(
                transform.target_sum, totals, out=np.ones_like(totals), where=totals > 0
            )
            x = x * factors
    return x


def _check_counts(spec: Spec, x: np.ndarray, index: int, kind: str) -> None:
    """`data.transform[index]` (`kind`) reads counts: no value of `x` may be negative."""
    lowest = np.nanmin(x, initial=0.0)
    if lowest < 0:
        raise CompileError(
            spec_problem(
                spec,
                ("data", "transform", index),
                f"{kind} needs non-negative values; the data reaches {lowest:.4g} "
                "(is this matrix already scaled?)",
                f"remove `{kind}`, or read counts (e.g. `expression.layer: raw` or a counts layer)",
            )
        )


def load_new_inputs(
    spec: Spec, path: Path, features: Sequence[str]
) -> tuple[tuple[str, ...], np.ndarray]:
    """The samples of a new data file and their model inputs over `features` (the columns a
    model was trained on, in its order), read as `spec.data.expression` describes."""
    reason = file_problem(path)
    if reason is not None:
        raise CompileError(Problem(f"data file {path} {reason}", Location(str(path))))
    expression = spec.data.expression
    available = read_feature_names(
        path, "auto", expression.layer, expression.orientation, feature_naming(spec)
    )
    position = {name: i for i, name in enumerate(available)}
    missing = [name for name in features if name not in position]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise CompileError(
            Problem(
                f"{len(missing)} of the model's {len(features)} input features are not in "
                f"{path.name}: {shown}",
                Location(str(path)),
                hint="predict needs the same features (columns) the model was trained on",
            )
        )
    columns = np.array([position[name] for name in features], dtype=np.int64)
    matrix = read_inputs(spec, path, columns)
    if not matrix.samples:
        raise CompileError(Problem(f"{path.name} holds no samples to predict", Location(str(path))))
    x, _, _ = prepare_inputs(spec, matrix, np.arange(len(matrix.samples)), columns, path)
    return matrix.samples, x
