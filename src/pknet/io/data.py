"""Reading data matrices: AnnData `.h5ad`, 10x Genomics `.h5`, CSV/TSV.

The compiler needs only the feature names (to decide which network nodes are measured); the
runtime reads the values of the columns it uses. Both go through the same per-format helpers, so
the names the compiler maps and the columns the runtime reads always agree.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pknet.errors import CompileError, Location, Problem
from pknet.io.h5ad_names import h5ad_feature_names

if TYPE_CHECKING:  # anndata, h5py and scipy load only for the formats that need them
    import anndata
    import h5py

FORMATS_BY_SUFFIX = {".h5ad": "h5ad", ".h5": "10x_h5", ".csv": "csv", ".tsv": "tsv", ".txt": "tsv"}
SEPARATORS = {"csv": ",", "tsv": "\t"}
MSG_NOT_10X = "is not a 10x Genomics HDF5 matrix (no `matrix` group with `features/name`)"


@dataclass(frozen=True)
class Matrix:
    """A data matrix in memory: `values` is float32, samples x features, dense.

    `obs` is the AnnData sample table (indexed by sample id) for `.h5ad` files, else None.
    """

    values: np.ndarray
    samples: tuple[str, ...]
    features: tuple[str, ...]
    obs: pd.DataFrame | None = None


@dataclass(frozen=True)
class FeatureNaming:
    """How features get their names: `var_names`, an AnnData `var` column used instead of the
    var index (e.g. symbols beside Ensembl ids); `duplicates`, what a name that several
    columns carry becomes: an `error`, its `first` column, or the `sum` or `mean` of them.
    `combined` adds features after the file's: (name, the feature names it combines), each
    the `combine` (`sum` or `mean`) of those present (a mapping table's node mapped to
    several features)."""

    var_names: str | None = None
    duplicates: str = "error"
    combined: tuple[tuple[str, tuple[str, ...]], ...] = ()
    combine: str = "sum"

    @property
    def plain(self) -> bool:
        """The file's own names, each a key (the readers check that where they always did)."""
        return self.var_names is None and self.duplicates == "error" and not self.combined


PLAIN = FeatureNaming()


def data_format(path: Path, declared: str = "auto") -> str:
    """The format of a data file: as declared, or from its suffix."""
    if declared != "auto":
        return declared
    fmt = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS_BY_SUFFIX))
        raise CompileError(
            Problem(
                f"cannot tell the format of {path.name} from its suffix",
                Location(str(path)),
                hint=f"use one of {known}, or set `format` in the spec",
            )
        )
    return fmt


def read_feature_names(
    path: Path,
    fmt: str = "auto",
    layer: str = "X",
    orientation: str = "samples_as_rows",
    naming: FeatureNaming = PLAIN,
) -> list[str]:
    """The feature (column) names of a data matrix, in file order, without reading values;
    under `naming`, each name once (where it first appears)."""
    fmt = data_format(path, fmt)
    if not naming.plain:
        return [name for name, _, _ in _feature_columns(path, fmt, layer, orientation, naming)]
    with _readable(path, fmt):
        if fmt == "h5ad":
            names = h5ad_feature_names(path, layer)
            if names is not None:
                return names
            with open_h5ad(path) as adata:
                return _h5ad_layer(adata, layer, path)[1]
        if fmt == "10x_h5":
            import h5py

            with h5py.File(path, "r") as f:
                return _tenx_features(_tenx_group(f, path), path)
        return _table_names(path, SEPARATORS[fmt], orientation)


def read_matrix(
    path: str | Path,
    fmt: str = "auto",
    layer: str = "X",
    orientation: str = "samples_as_rows",
    columns: Sequence[int] | np.ndarray | None = None,
    naming: FeatureNaming = PLAIN,
) -> Matrix:
    """Read a data matrix as dense float32 samples x features.

    `columns` selects features by position in file order (`read_feature_names` order, with the
    same `naming`); the result holds them in the order given (repeats allowed). Sparse matrices
    are densified after the selection, and CSV/TSV files parse only the selected columns (or
    rows).
    """
    path = Path(path)
    fmt = data_format(path, fmt)
    selected = None if columns is None else np.asarray(columns, dtype=np.int64)
    if not naming.plain:
        return _named_matrix(path, fmt, layer, orientation, selected, naming)
    return _read(path, fmt, layer, orientation, selected)


def _read(
    path: Path,
    fmt: str,
    layer: str,
    orientation: str,
    selected: np.ndarray | None,
    check_features: bool = True,
) -> Matrix:
    with _readable(path, fmt):
        if fmt == "h5ad":
            return _h5ad_matrix(path, layer, selected, check_features)
        if fmt == "10x_h5":
            return _tenx_matrix(path, selected)
        return _table_matrix(path, SEPARATORS[fmt], orientation, selected)


@contextmanager
def _readable(path: Path, fmt: str) -> Iterator[None]:
    """Turn low-level read failures into a `CompileError` naming the file and format."""
    try:
        yield
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
        raise CompileError(
            Problem(f"cannot read {path.name} as {fmt}: {exc}", Location(str(path)))
        ) from None


# --- AnnData -------------------------------------------------------------------------------


@contextmanager
def open_h5ad(path: Path) -> Iterator[anndata.AnnData]:
    """The AnnData file opened backed (values stay on disk until asked for)."""
    import anndata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata warns about legacy on-disk layouts
        adata = anndata.read_h5ad(path, backed="r")
    try:
        yield adata
    finally:
        adata.file.close()


def read_anndata(path: Path) -> anndata.AnnData:
    """The whole AnnData file in memory (e.g. to write an annotated copy)."""
    import anndata

    with _readable(path, "h5ad"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata warns about legacy on-disk layouts
        return anndata.read_h5ad(path)


def _h5ad_layer(adata: anndata.AnnData, layer: str, path: Path) -> tuple[Any, list[str]]:
    """The (possibly backed) matrix named by `layer` and its feature names."""
    if layer == "raw":
        if adata.raw is None:
            raise CompileError(
                Problem(
                    f"{path.name} has no `.raw` matrix",
                    Location(str(path)),
                    hint="use `layer: X` or a name in `.layers`",
                )
            )
        return adata.raw.X, adata.raw.var_names.astype(str).tolist()
    if layer != "X" and layer not in adata.layers:
        available = ", ".join(["X", *(["raw"] if adata.raw is not None else []), *adata.layers])
        raise CompileError(
            Problem(
                f"no layer `{layer}` in {path.name}",
                Location(str(path)),
                hint=f"available: {available}",
            )
        )
    matrix = adata.X if layer == "X" else adata.layers[layer]
    if matrix is None:
        raise CompileError(
            Problem(
                f"{path.name} stores no `X` matrix",
                Location(str(path)),
                hint="use `layer: raw` or a name in `.layers`",
            )
        )
    return matrix, adata.var_names.astype(str).tolist()


def _h5ad_matrix(
    path: Path, layer: str, columns: np.ndarray | None, check_features: bool = True
) -> Matrix:
    with open_h5ad(path) as adata:
        stored, names = _h5ad_layer(adata, layer, path)
        samples = tuple(adata.obs_names.astype(str))
        checks = [("sample", samples, "`adata.obs_names_make_unique()`")]
        if check_features:
            checks.append(("feature", names, "`adata.var_names_make_unique()`"))
        for what, keys, fix in checks:
            repeat = first_repeat(keys)
            if repeat is not None:
                raise repeat_error(repeat, what, Location(str(path)), f"make them unique ({fix})")
        values = _dense(stored, columns)
        obs = adata.obs.copy()
    return Matrix(values, samples, _selected(names, columns), obs)


def _dense(stored: Any, columns: np.ndarray | None) -> np.ndarray:
    """A backed or in-memory, dense or sparse matrix as float32, keeping `columns` only."""
    import h5py
    from scipy import sparse

    if isinstance(stored, h5py.Dataset):
        stored = stored[...]
    elif hasattr(stored, "to_memory"):  # anndata's backed sparse dataset
        stored = stored.to_memory()
    if columns is not None:
        stored = stored[:, columns]
    if sparse.issparse(stored):
        stored = stored.toarray()
    return np.asarray(stored, dtype=np.float32)


def _selected(names: Sequence[str], columns: np.ndarray | None) -> tuple[str, ...]:
    if columns is None:
        return tuple(names)
    return tuple(names[i] for i in columns)


# --- feature naming: a var column, repeated names -------------------------------------------


def _raw_names(path: Path, fmt: str, layer: str, orientation: str, var_names: str | None):
    """Every column's name in file order, repeats kept (`var_names`: from that var column)."""
    if var_names is not None and fmt != "h5ad":
        raise CompileError(
            Problem(
                f"`var_names` names a column of an AnnData `var` table, but {path.name} is read "
                f"as {fmt}",
                path="data.expression.var_names",
                hint="remove `var_names` (the file's own feature names are used)",
            )
        )
    with _readable(path, fmt):
        if fmt == "h5ad" and var_names is not None:
            with open_h5ad(path) as adata:
                _h5ad_layer(adata, layer, path)  # the layer exists
                var = adata.raw.var if layer == "raw" else adata.var
                if var_names not in var.columns:
                    listed = ", ".join(map(str, var.columns)) or "none"
                    raise CompileError(
                        Problem(
                            f"{path.name} has no var column `{var_names}`",
                            path="data.expression.var_names",
                            hint=f"var columns: {listed}",
                        )
                    )
                return var[var_names].astype(str).tolist()
        if fmt == "h5ad":
            with open_h5ad(path) as adata:
                return _h5ad_layer(adata, layer, path)[1]
        if fmt == "10x_h5":
            import h5py

            with h5py.File(path, "r") as f:
                return _tenx_features(_tenx_group(f, path), path)
        if orientation == "samples_as_rows":
            return table_header(path, SEPARATORS[fmt])
        return _first_column(path, SEPARATORS[fmt])


def _feature_columns(
    path: Path, fmt: str, layer: str, orientation: str, naming: FeatureNaming
) -> list[tuple[str, list[int], str]]:
    """Each feature: its name, the file columns that carry it, and how they combine (`first`,
    `sum`, `mean`). The file's names in order of first appearance, then `naming.combined`'s
    (those with a column); a name carried twice is an error under `duplicates: error`."""
    raw = _raw_names(path, fmt, layer, orientation, naming.var_names)
    if naming.duplicates == "error":
        repeat = first_repeat(raw)
        if repeat is not None:
            source = f"var column `{naming.var_names}`" if naming.var_names else path.name
            name, first, second = repeat
            raise CompileError(
                Problem(
                    f"feature `{name}` appears twice in {source} (at positions {first + 1} and "
                    f"{second + 1})",
                    path="data.expression.duplicates",
                    hint="set `duplicates: first`, `sum` or `mean` to keep one column per name",
                )
            )
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(raw):
        groups.setdefault(name, []).append(i)
    how = "first" if naming.duplicates == "error" else naming.duplicates
    features = [(name, columns, how) for name, columns in groups.items()]
    for name, parts in naming.combined:
        columns = [groups[part][0] for part in parts if part in groups]
        if columns:
            features.append((name, columns, naming.combine))
    return features


def _named_matrix(
    path: Path,
    fmt: str,
    layer: str,
    orientation: str,
    columns: np.ndarray | None,
    naming: FeatureNaming,
) -> Matrix:
    """The matrix over `naming`'s feature names: the columns of each feature combined."""
    every = _feature_columns(path, fmt, layer, orientation, naming)
    chosen = [every[w] for w in (range(len(every)) if columns is None else columns)]
    members = [cols[:1] if how == "first" else cols for _, cols, how in chosen]
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    raw = _read(path, fmt, layer, orientation, np.concatenate(members), check_features=False)
    values = raw.values
    if len(values.T) > len(chosen):  # a name carried by several columns: combine them
        values = np.add.reduceat(values, np.r_[0, np.cumsum(sizes)[:-1]], axis=1)
        mean = np.array([how == "mean" for _, _, how in chosen])
        values[:, mean] /= sizes[mean]
    features = tuple(name for name, _, _ in chosen)
    return Matrix(np.ascontiguousarray(values, dtype=np.float32), raw.samples, features, raw.obs)


# --- 10x Genomics HDF5 ---------------------------------------------------------------------


def _tenx_group(f: h5py.File, path: Path) -> h5py.Group:
    """The matrix group: `matrix` (Cell Ranger 3+) or the one genome group (Cell Ranger 2)."""
    import h5py

    if "matrix" in f:
        return f["matrix"]
    groups = [g for g in f.values() if isinstance(g, h5py.Group) and "indptr" in g]
    if len(groups) != 1:
        raise CompileError(Problem(f"{path.name} {MSG_NOT_10X}", Location(str(path))))
    return groups[0]


def _tenx_features(group: h5py.Group, path: Path) -> list[str]:
    for key in ("features/name", "gene_names"):
        if key in group:
            return [_text(v) for v in group[key][...]]
    raise CompileError(Problem(f"{path.name} {MSG_NOT_10X}", Location(str(path))))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _tenx_matrix(path: Path, columns: np.ndarray | None) -> Matrix:
    """10x stores genes x barcodes in CSC form, which is barcodes x genes in CSR form."""
    import h5py
    from scipy import sparse

    with h5py.File(path, "r") as f:
        group = _tenx_group(f, path)
        names = _tenx_features(group, path)
        n_features, n_samples = (int(n) for n in group["shape"][...])
        counts = sparse.csr_matrix(
            (group["data"][...], group["indices"][...], group["indptr"][...]),
            shape=(n_samples, n_features),
        )
        samples = tuple(_text(v) for v in group["barcodes"][...])
    return Matrix(_dense(counts, columns), samples, _selected(names, columns))


# --- CSV / TSV -----------------------------------------------------------------------------


def _table_names(path: Path, sep: str, orientation: str) -> list[str]:
    names = (
        table_header(path, sep) if orientation == "samples_as_rows" else _first_column(path, sep)
    )
    _check_unique(names, path, "feature", orientation)
    return names


def table_header(path: Path, sep: str) -> list[str]:
    """The column names after the first column, as written (pandas renames repeats `X.1`)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        rows = (row for row in csv.reader(handle, delimiter=sep) if any(c.strip() for c in row))
        return next(rows, [])[1:]


def _check_unique(names: Sequence[str], path: Path, what: str, orientation: str) -> None:
    """Sample and feature names are keys (label joins, network nodes): none may repeat. In a
    table, the error names the line of the repeat (the header line for column names)."""
    repeat = first_repeat(names)
    if repeat is not None:
        in_rows = (what == "sample") == (orientation == "samples_as_rows")
        line = _line_of(path, repeat[2]) if in_rows else 1
        raise repeat_error(repeat, what, Location(str(path), line), "make them unique")


def first_repeat(names: Sequence[str]) -> tuple[str, int, int] | None:
    """(name, first position, second position) of the first name seen twice, or None."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            return name, seen[name], i
        seen[name] = i
    return None


def repeat_error(
    repeat: tuple[str, int, int], what: str, location: Location, fix: str
) -> CompileError:
    name, first, second = repeat
    return CompileError(
        Problem(
            f"{what} `{name}` appears twice (at positions {first + 1} and {second + 1})",
            location,
            hint=f"{what} names are keys (label joins, network nodes): {fix}",
        )
    )


def _first_column(path: Path, sep: str) -> list[str]:
    """The first column as written (no NA conversion: a feature may be called `NA`)."""
    first = pd.read_csv(path, sep=sep, usecols=[0], dtype=str, keep_default_na=False)
    return first.iloc[:, 0].tolist()


def _table_matrix(path: Path, sep: str, orientation: str, columns: np.ndarray | None) -> Matrix:
    """Read a table whose first column is the row index; features are columns or rows."""
    wanted = None if columns is None else np.unique(columns)
    by_rows = orientation == "samples_as_rows"
    if by_rows or wanted is None:
        usecols = None if wanted is None else [0, *(wanted + 1).tolist()]
        frame = pd.read_csv(path, sep=sep, index_col=0, dtype={0: str}, usecols=usecols)
        rows = np.arange(len(frame))  # data rows (after the header, blank lines skipped)
    else:
        # `skiprows` counts the file's lines, blank ones included; pandas then skips those
        keep = frozenset(_non_blank_lines(path)[1:][wanted].tolist())
        frame = pd.read_csv(
            path, sep=sep, index_col=0, dtype={0: str}, skiprows=lambda i: i > 0 and i not in keep
        )
        rows = wanted
    if frame.index.hasnans:
        first = _first_column(path, sep)
        frame.index = [first[i] for i in rows]
    _check_numeric(frame, path, rows, "sample" if by_rows else "feature")
    values = frame.to_numpy(dtype=np.float32)
    index = [str(v) for v in frame.index]
    header = (
        table_header(path, sep)
        if wanted is None or not by_rows
        else [str(c) for c in frame.columns]
    )
    samples, features = (index, header) if by_rows else (header, index)
    _check_unique(samples, path, "sample", orientation)
    if wanted is None:  # else `_table_names` checked them when the columns were chosen
        _check_unique(features, path, "feature", orientation)
    if not by_rows:
        values = values.T
    if columns is not None:
        values = values[:, np.searchsorted(wanted, columns)]
        features = [features[i] for i in np.searchsorted(wanted, columns)]
    return Matrix(np.ascontiguousarray(values), tuple(samples), tuple(features))


def _non_blank_lines(path: Path) -> np.ndarray:
    """0-based numbers of the lines of a text file that hold anything but whitespace."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return np.array([i for i, line in enumerate(handle) if line.strip()], dtype=np.int64)


def _line_of(path: Path, row: int) -> int:
    """The 1-based file line of data row `row` (0 is the first row after the header; blank
    lines are not rows). Only errors need it: it reads the file."""
    return int(_non_blank_lines(path)[1 + row]) + 1


def _check_numeric(frame: pd.DataFrame, path: Path, rows: np.ndarray, row_kind: str) -> None:
    """Fail at the first cell that is neither a number nor empty/NA (`rows[i]`: the data row
    of the frame's row `i`)."""
    for name in frame.columns[[pd.api.types.is_object_dtype(t) for t in frame.dtypes]]:
        column = frame[name]
        bad = column.notna() & pd.to_numeric(column, errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CompileError(
                Problem(
                    f"{row_kind} {frame.index[row]!s}, column {name}: "
                    f"{column.iloc[row]!r} is not a number "
                    f"({int(bad.sum())} non-numeric cell(s) in this column)",
                    Location(str(path), _line_of(path, int(rows[row]))),
                    hint="a data matrix holds numbers only; leave missing values empty or NA",
                )
            )
