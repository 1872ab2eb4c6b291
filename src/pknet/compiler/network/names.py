"""Readable node names from `network.names` tables (GO term names, Reactome pathway names)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from pknet.compiler.located import spec_problem
from pknet.errors import CompileError
from pknet.io import networks as nio
from pknet.specs import Spec
from pknet.specs.diagnostics import format_path
from pknet.suggest import did_you_mean

_SEPARATORS = {"auto": None, ",": ",", "\t": "\t", "whitespace": r"\s+"}


def read_names(spec: Spec, nodes: tuple[str, ...]) -> dict[str, str]:
    """`node id -> name` for the `nodes` that a `network.names` table names. The first table
    (and within a table, the first row) naming an id wins; an empty name names nothing."""
    if spec.network is None:
        return {}
    wanted, names = set(nodes), {}
    for i, table_spec in enumerate(spec.network.names):
        with _at_table(i):
            table = nio.read_table(table_spec.file, sep=_SEPARATORS[table_spec.separator])
        problems = [
            spec_problem(
                spec,
                ("network", "names", i, field),
                f"column `{column}` not found in {table_spec.file.name} (its columns: "
                f"{', '.join(table.columns)})",
                did_you_mean(column, table.columns),
            )
            for field, column in (("id", table_spec.id), ("name", table_spec.name))
            if column not in table.columns
        ]
        if problems:
            raise CompileError(problems)
        for node, name in zip(table[table_spec.id], table[table_spec.name], strict=True):
            if node in wanted and name and node not in names:
                names[node] = name
    return {node: names[node] for node in nodes if node in names}


@contextlib.contextmanager
def _at_table(index: int) -> Iterator[None]:
    """Give a reader's error (located in the file) the spec path of name table `index`."""
    try:
        yield
    except CompileError as exc:
        field = format_path(("network", "names", index))
        raise type(exc)(
            [dataclasses.replace(p, path=p.path or field) for p in exc.problems]
        ) from None
