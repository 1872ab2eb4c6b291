"""The feature names of an `.h5ad` file, read with h5py alone.

The compiler needs only the names, and anndata is slow to import. This reader knows the two
on-disk layouts of `var` (a dataframe group with an `_index` attribute, and the older compound
table with an `index` field); for anything else it returns None and the caller asks anndata, which
also words the errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def h5ad_feature_names(path: Path, layer: str) -> list[str] | None:
    """The names of `layer`'s features (`X`, `raw` or a name in `.layers`), or None."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if layer == "raw":
                has_matrix = "raw/X" in f if "raw" in f else "raw.X" in f
                var = f.get("raw/var") if "raw" in f else f.get("raw.var")
            else:
                has_matrix = "X" in f if layer == "X" else f"layers/{layer}" in f
                var = f.get("var")
            return _index(h5py, var) if has_matrix else None
    except (OSError, KeyError, ValueError, TypeError, UnicodeDecodeError):
        return None


def _index(h5py: Any, var: Any) -> list[str] | None:
    if isinstance(var, h5py.Group):
        key = var.attrs.get("_index")
        column = var.get(key) if isinstance(key, str) else None
        if (
            isinstance(column, h5py.Dataset)
            and column.ndim == 1
            and h5py.check_string_dtype(column.dtype) is not None
        ):
            return [str(name) for name in column.asstr()[...]]
        return None
    if isinstance(var, h5py.Dataset) and var.dtype.names and "index" in var.dtype.names:
        column = var["index"]
        if column.dtype.kind == "S":
            return [name.decode("utf-8") for name in column]
    return None
