"""Read pruning costs: a table naming edges (`from`, `to`) or nodes (`node`) with a weight."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pknet.io.networks._common import fail, parse_numbers, read_table, require_columns


def load_weights(path: Path, *, on: str, column: str) -> dict[tuple[str, ...], float]:
    """Non-negative weights keyed by `(from, to)` for edges or `(node,)` for nodes."""
    keys = ["from", "to"] if on == "edges" else ["node"]
    table = read_table(path)
    require_columns(table, path, [*keys, column])
    values = parse_numbers(table[column], path, column)
    negative = values < 0
    if negative.any():
        line = int(table.index[np.argmax(negative)])
        fail(
            path,
            f"negative weight {values[negative][0]} in column {column!r}",
            line,
            "pruning costs must be >= 0",
        )
    names = zip(*(table[k].tolist() for k in keys), strict=True)
    return {tuple(key): float(v) for key, v in zip(names, values, strict=True)}
