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
    lines, keys, values = _pairs(path, from_col, to_col, sep)
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, key, value in zip(lines, keys, values, strict=True):
        if key not in mapping:
            mapping[key] = value
            first_line[key] = int(line)
        elif mapping[key] != value and duplicates == "error":
            fail(
                path,
                f"{key!r} is mapped twice: to {mapping[key]!r} (line {first_line[key]}) "
                f"and to {value!r} (line {line})",
                int(line),
                hint="remove one of the rows, or set the table's `duplicates` (first, sum, mean)",
            )
    return mapping


def load_mapping_lists(
    path: Path, *, from_col: str | None = None, to_col: str | None = None, sep: str | None = None
) -> dict[str, list[str]]:
    """Every value each key maps to (distinct, in file order): a key mapped to several names
    stands for all of them (e.g. their sum or mean)."""
    mapping: dict[str, list[str]] = {}
    for _, key, value in zip(*_pairs(path, from_col, to_col, sep), strict=True):
        values = mapping.setdefault(key, [])
        if value not in values:
            values.append(value)
    return mapping


def _pairs(
    path: Path, from_col: str | None, to_col: str | None, sep: str | None
) -> tuple[list[int], list[str], list[str]]:
    """(line, from name, to name) of each row of a mapping table."""
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
    return [int(i) for i in table.index], list(keys), list(values)
