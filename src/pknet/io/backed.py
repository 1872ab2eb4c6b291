"""A sparse `.h5ad` matrix read row block by row block, without loading it (`backed: true`).

Only the CSR row pointers stay in memory; the values and column indices of a block of rows are
read when asked for. The file's size and modification time are recorded at opening, and
`check_unchanged` fails when either moved, so a run never mixes two versions of a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pknet.errors import CompileError, Location, Problem

if TYPE_CHECKING:
    import h5py
    from scipy import sparse


def _group_path(f: h5py.File, layer: str) -> str:
    """The HDF5 path of `layer`'s matrix (both on-disk layouts of `.raw`)."""
    if layer == "raw":
        return "raw/X" if "raw" in f else "raw.X"
    return "X" if layer == "X" else f"layers/{layer}"


@dataclass(frozen=True)
class FileStamp:
    """What identifies one version of a file: its size and modification time."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        stat = os.stat(path)
        return cls(stat.st_size, stat.st_mtime_ns)


class BackedCSR:
    """The rows of a CSR matrix stored in an `.h5ad` file, read on demand."""

    def __init__(self, path: Path, layer: str = "X"):
        import h5py

        self.path = Path(path)
        self.stamp = FileStamp.of(self.path)
        self._file = h5py.File(self.path, "r")
        name = _group_path(self._file, layer)
        group = self._file.get(name)
        if group is None:
            self.close()
            raise self._problem(f"has no matrix `{name}`", "check `layer`")
        encoding = _text(group.attrs.get("encoding-type", ""))
        if isinstance(group, h5py.Dataset) or encoding != "csr_matrix":
            stored = "dense" if isinstance(group, h5py.Dataset) else encoding or "not CSR"
            self.close()
            raise self._problem(
                f"stores `{name}` as a {stored} matrix; `backed: true` streams rows of a sparse "
                "CSR matrix",
                "write it as CSR, e.g. `adata.X = scipy.sparse.csr_matrix(adata.X)` before "
                "`adata.write_h5ad(...)`, or remove `backed`",
            )
        for part in ("data", "indices"):
            missing = _unavailable_filters(group[part])
            if missing:
                self.close()
                raise self._problem(
                    f"compresses `{name}/{part}` with HDF5 filter {missing[0]}, which this "
                    "installation cannot decode",
                    "rewrite it uncompressed or with gzip or lzf "
                    "(`adata.write_h5ad(path, compression='gzip')`)",
                )
        self.shape = tuple(int(n) for n in group.attrs["shape"])
        self.indptr = group["indptr"][...].astype(np.int64)
        self._data, self._indices = group["data"], group["indices"]

    def _problem(self, message: str, hint: str) -> CompileError:
        return CompileError(
            Problem(f"{self.path.name} {message}", Location(str(self.path)), hint=hint)
        )

    def rows(self, start: int, stop: int) -> sparse.csr_matrix:
        """Rows `start:stop` as a float32 CSR matrix (all columns)."""
        from scipy import sparse

        first, last = int(self.indptr[start]), int(self.indptr[stop])
        return sparse.csr_matrix(
            (
                self._data[first:last].astype(np.float32, copy=False),
                self._indices[first:last],
                self.indptr[start : stop + 1] - first,
            ),
            shape=(stop - start, self.shape[1]),
        )

    def check_unchanged(self) -> None:
        """Fail when the file was rewritten since it was opened."""
        if FileStamp.of(self.path) != self.stamp:
            raise self._problem(
                "changed while the run read it (its size or modification time moved)",
                "do not rewrite the data file during a run; start the run again",
            )

    def close(self) -> None:
        self._file.close()


def _unavailable_filters(dataset: h5py.Dataset) -> list[str]:
    """The filters of `dataset`'s pipeline this HDF5 build cannot apply (e.g. blosc, zstd
    plugins that are not installed), as `id (name)`."""
    import h5py

    plist = dataset.id.get_create_plist()
    found = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    return [
        f"{code} ({_text(name) or 'unnamed'})"
        for code, _, _, name in found
        if not h5py.h5z.filter_avail(code)
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
