"""Reading data matrices: AnnData `.h5ad`, 10x Genomics `.h5`, CSV/TSV.

The compiler needs only the feature names (to decide which network nodes are measured); the
runtime reads the matrix itself.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata
import h5py
import pandas as pd

from pknet.errors import CompileError, Location, Problem

FORMATS_BY_SUFFIX = {".h5ad": "h5ad", ".h5": "10x_h5", ".csv": "csv", ".tsv": "tsv", ".txt": "tsv"}


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


def _h5ad_names(path: Path, layer: str) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata warns about legacy on-disk layouts
        adata = anndata.read_h5ad(path, backed="r")
    try:
        if layer == "raw":
            if adata.raw is None:
                raise CompileError(
                    Problem(
                        f"{path.name} has no `.raw` matrix",
                        Location(str(path)),
                        hint="use `layer: X` or a name in `.layers`",
                    )
                )
            return adata.raw.var_names.astype(str).tolist()
        if layer != "X" and layer not in adata.layers:
            available = ", ".join(["X", *(["raw"] if adata.raw is not None else []), *adata.layers])
            raise CompileError(
                Problem(
                    f"no layer `{layer}` in {path.name}",
                    Location(str(path)),
                    hint=f"available: {available}",
                )
            )
        return adata.var_names.astype(str).tolist()
    finally:
        adata.file.close()


def _tenx_names(path: Path) -> list[str]:
    with h5py.File(path, "r") as f:
        for key in ("matrix/features/name", "matrix/gene_names"):
            if key in f:
                return [v.decode() for v in f[key][...]]
    raise CompileError(
        Problem(f"{path.name} is not a 10x Genomics HDF5 matrix", Location(str(path)))
    )


def _table_names(path: Path, sep: str, orientation: str) -> list[str]:
    if orientation == "samples_as_rows":
        header = pd.read_csv(path, sep=sep, nrows=0, dtype=str)
        return [str(c) for c in header.columns[1:]]
    first = pd.read_csv(path, sep=sep, usecols=[0], dtype=str, keep_default_na=False)
    return first.iloc[:, 0].tolist()


def read_feature_names(
    path: Path, fmt: str = "auto", layer: str = "X", orientation: str = "samples_as_rows"
) -> list[str]:
    """The feature (column) names of a data matrix, in file order, without reading values."""
    fmt = data_format(path, fmt)
    try:
        if fmt == "h5ad":
            return _h5ad_names(path, layer)
        if fmt == "10x_h5":
            return _tenx_names(path)
        return _table_names(path, "," if fmt == "csv" else "\t", orientation)
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
        raise CompileError(
            Problem(f"cannot read {path.name} as {fmt}: {exc}", Location(str(path)))
        ) from None
