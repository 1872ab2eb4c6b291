"""Model inputs of a backed `.h5ad` file (`data.expression.backed: true`), read on demand.

`StreamedInputs` stands where an in-memory dataset holds its dense `x`: `inputs[rows]` reads
those rows from the file and prepares them exactly as `load_dataset` prepares the whole matrix
(the same missing-value policy and per-sample transforms, on the same float32 values), so a
block of rows equals the same rows of the in-memory inputs, bit for bit. Only the rows asked for
are densified, and only the columns the model reads (every column of a row while
`normalize_total` needs its total).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pknet.io.backed import BackedCSR
from pknet.io.data import Matrix

CHUNK_BYTES = 16 * 2**20
"""Dense bytes of one block of rows read at once (training streams the file in such blocks).
Below glibc's largest mmap threshold (32 MB), so freed blocks are reused rather than returned
to the system and faulted in again (benchmarks/README.md, "Data larger than memory")."""
GAP_ROWS = 16  # rows asked for that lie closer than this are read in one request

Prepare = Callable[[Matrix], np.ndarray]
"""Block of rows (dense, the columns read) -> model inputs (float32, input order)."""


class StreamedInputs:
    """`n` samples x `p` model inputs, kept on disk: `inputs[rows]` is float32 (rows x p).

    `file_rows[i]` is the file row of sample `i` (ascending); `columns` the file columns read
    (None: all), `prepare` turns a read block into model inputs.
    """

    dtype = np.dtype(np.float32)

    def __init__(
        self,
        reader: BackedCSR,
        file_rows: np.ndarray,
        samples: tuple[str, ...],
        features: tuple[str, ...],
        columns: np.ndarray | None,
        n_inputs: int,
        prepare: Prepare,
    ):
        self.reader = reader
        self.file_rows = np.asarray(file_rows, dtype=np.int64)
        self.samples = samples
        self.features = features
        self.columns = columns
        self.shape = (len(self.file_rows), n_inputs)
        self.prepare = prepare
        width = reader.shape[1] if columns is None else len(columns)
        self.chunk_rows = max(1, CHUNK_BYTES // (4 * max(width, n_inputs, 1)))

    @property
    def nbytes(self) -> int:
        """The memory the inputs hold at a time: a few blocks of rows."""
        return 3 * self.chunk_rows * self.shape[1] * 4

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: np.ndarray | slice) -> np.ndarray:
        index = np.arange(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows)
        flat = index.reshape(-1).astype(np.int64)
        order = np.argsort(flat, kind="stable")
        wanted = flat[order]
        out = np.empty((len(flat), self.shape[1]), dtype=np.float32)
        breaks = np.flatnonzero(np.diff(self.file_rows[wanted]) > GAP_ROWS) + 1
        for part in np.split(np.arange(len(wanted)), breaks):
            for start in range(0, len(part), self.chunk_rows):
                piece = part[start : start + self.chunk_rows]
                out[order[piece]] = self._read(wanted[piece])
        return out.reshape(*index.shape, self.shape[1])

    def block(self, start: int, stop: int) -> np.ndarray:
        """Samples `start:stop`, prepared."""
        return self._read(np.arange(start, stop))

    def _read(self, samples: np.ndarray) -> np.ndarray:
        """Prepared inputs of `samples` (ascending, close together in the file)."""
        if len(samples) == 0:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        rows = self.file_rows[samples]
        first, last = int(rows[0]), int(rows[-1]) + 1
        block = self.reader.rows(first, last)[rows - first]
        if self.columns is not None:
            block = block[:, self.columns]
        names = tuple(self.samples[i] for i in samples)
        return self.prepare(Matrix(block.toarray(), names, self.features))

    def check_unchanged(self) -> None:
        """Fail when the file changed since it was opened."""
        self.reader.check_unchanged()
