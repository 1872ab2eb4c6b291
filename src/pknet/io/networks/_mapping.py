"""Node ↔ feature name mapping tables (e.g. UniProt accession → gene symbol)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ._common import fail, node_names, read_table, require_columns

DuplicatePolicy = Literal["error", "first"]


def load_mapping(
    path: Path,
    *,
    from_col: str | None = None,
    to_col: str | None = None,
    duplicates: DuplicatePolicy = "error",
    sep: str | None = None,
) -> dict[str, str]:
    """A `from → to` name mapping from a delimited file with a header, in file order.

    Without `from_col`/`to_col` the file must have exactly two columns. A key repeated with
    the same value is harmless; a key mapped to two different values is an error naming the
    key and its lines, unless `duplicates="first"` keeps the first value. Several keys may
    map to the same value.
    """
    table = read_table(path, sep=sep)
    if from_col is None or to_col is None:
        if table.shape[1] != 2 or (from_col or to_col) is not None:
            fail(
                path,
                f"{path.name} has {table.shape[1]} columns ({', '.join(table.columns)})",
                1,
                hint="name both the from and the to column",
            )
        from_col, to_col = table.columns
    require_columns(table, path, [from_col, to_col])
    keys = node_names(table, from_col, path)
    values = node_names(table, to_col, path)
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, key, value in zip(table.index, keys, values, strict=True):
        if key not in mapping:
            mapping[key] = value
            first_line[key] = int(line)
        elif mapping[key] != value and duplicates == "error":
            fail(
                path,
                f"{key!r} is mapped twice: to {mapping[key]!r} (line {first_line[key]}) "
                f"and to {value!r} (line {line})",
                int(line),
                hint="remove one of the rows, or keep the first mapping of each name",
            )
    return mapping
