"""Child → parent edges of ontologies: OBO files, parent/child hierarchy tables (Reactome, GO)
and the DrugCell ontology."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._common import (
    RELATION,
    check_filter_values,
    edge_table,
    fail,
    labelled_pairs,
    node_names,
    read_lines,
    read_table,
    require_edges,
)

IS_A = "is_a"
TERM = "term"
NAME = "name"
NAMESPACE = "namespace"

_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_TRAILING_COMMENT = re.compile(r"\s+!.*$")
_TRAILING_MODIFIERS = re.compile(r"\s*\{[^{}]*\}$")
_DRUGCELL_TYPES = ("default", "gene")


@dataclass
class _Stanza:
    """One `[Term]`/`[Typedef]`/… stanza as read: the tags this module uses."""

    kind: str
    line: int
    id: str | None = None
    name: str = ""
    namespace: str = ""
    obsolete: bool = False
    parents: list[tuple[str, str]] = field(default_factory=list)  # (relation, parent id)


def _read_obo(path: Path) -> list[_Stanza]:
    """The stanzas of an OBO file in order; syntax errors name their line."""
    stanzas: list[_Stanza] = []
    for line_no, raw in read_lines(path):
        line = raw.strip()
        if line.startswith("!"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                fail(path, f"malformed stanza header {line!r}", line_no, "e.g. [Term]")
            stanzas.append(_Stanza(kind=line[1:-1].strip(), line=line_no))
            continue
        tag, colon, value = line.partition(":")
        tag = tag.strip()
        if not colon or not _TAG.fullmatch(tag):
            fail(
                path,
                f"expected 'tag: value', got {line!r}",
                line_no,
                hint="OBO lines are '[Stanza]' headers or 'tag: value' pairs",
            )
        if not stanzas:
            continue  # header tags (format-version, ontology, …)
        value = _TRAILING_MODIFIERS.sub("", _TRAILING_COMMENT.sub("", value)).strip()
        stanza = stanzas[-1]
        if tag == "id":
            stanza.id = value
        elif tag == NAME:
            stanza.name = value
        elif tag == NAMESPACE:
            stanza.namespace = value
        elif tag == "is_obsolete":
            stanza.obsolete = value == "true"
        elif tag == IS_A:
            if not value:
                fail(path, "is_a without a parent term", line_no)
            stanza.parents.append((IS_A, value.split()[0]))
        elif tag == "relationship":
            parts = value.split()
            if len(parts) < 2:
                fail(path, f"relationship needs a relation and a term, got {value!r}", line_no)
            stanza.parents.append((parts[0], parts[1]))
    for stanza in stanzas:
        if not stanza.id:
            fail(path, f"[{stanza.kind}] stanza without an id", stanza.line)
    return stanzas


def _terms(stanzas: list[_Stanza], path: Path, namespace: str | None) -> list[_Stanza]:
    """The non-obsolete terms, of `namespace` when given (which must occur in the file)."""
    terms = [s for s in stanzas if s.kind == "Term" and not s.obsolete]
    if namespace is None:
        return terms
    check_filter_values([namespace], (t.namespace for t in terms if t.namespace), path, NAMESPACE)
    return [t for t in terms if t.namespace == namespace]


def load_obo(
    path: Path, *, relations: Sequence[str] = (IS_A,), namespace: str | None = None
) -> pd.DataFrame:
    """Child term → parent term edges of an OBO ontology, with the `relation` of each.

    `relations` picks which links count: `is_a` and/or `relationship:` names such as
    `part_of`, `regulates`. Obsolete terms and links to them are skipped; with `namespace`
    (e.g. `biological_process`) both ends must be terms of it. Edges follow the file.
    """
    stanzas = _read_obo(path)
    declared = {s.id for s in stanzas if s.kind == "Typedef"}
    used = {relation for s in stanzas for relation, _ in s.parents}
    check_filter_values(relations, {IS_A} | declared | used, path, RELATION)
    terms = _terms(stanzas, path, namespace)
    obsolete = {s.id for s in stanzas if s.kind == "Term" and s.obsolete}
    kept_ids = {t.id for t in terms}
    children: list[str] = []
    parents: list[str] = []
    kinds: list[str] = []
    for term in terms:
        for relation, parent in term.parents:
            if relation not in relations or parent in obsolete:
                continue
            if namespace is not None and parent not in kept_ids:
                continue
            children.append(str(term.id))
            parents.append(parent)
            kinds.append(relation)
    edges = edge_table(children, parents, **{RELATION: kinds})
    why = f"relations {list(relations)}" + (f", namespace {namespace}" if namespace else "")
    return require_edges(edges, path, why)


def load_obo_terms(path: Path, *, namespace: str | None = None) -> pd.DataFrame:
    """The non-obsolete terms of an OBO file: columns `term`, `name`, `namespace`."""
    terms = _terms(_read_obo(path), path, namespace)
    return pd.DataFrame(
        {
            TERM: [t.id for t in terms],
            NAME: [t.name for t in terms],
            NAMESPACE: [t.namespace for t in terms],
        }
    )


def load_hierarchy(
    path: Path,
    *,
    parent_col: str = "parent",
    child_col: str = "child",
    relation_col: str | None = None,
    relations: Sequence[str] | None = None,
    sep: str | None = None,
) -> pd.DataFrame:
    """Child → parent edges of a parent/child table with a header (Reactome, GO), file order.

    `relation_col` is kept as `relation`; `relations` keeps only those values (e.g. GO's
    `("isa", "part of")`), each of which must occur in the file.
    """
    return labelled_pairs(
        path,
        source_col=child_col,
        target_col=parent_col,
        label_col=relation_col,
        label=RELATION,
        keep=relations,
        sep=sep,
        must_occur=True,
    )


def load_drugcell_ontology(path: Path) -> pd.DataFrame:
    """Edges of a DrugCell ontology file (`parent child type`, whitespace-separated, no header).

    Type `default` links two terms (edge child term → parent term), type `gene` annotates a
    gene to a term (edge gene → term); the type is kept in `relation`. Edges follow the file.
    """
    table = read_table(path, sep=r"\s+", header=False)
    if table.shape[1] != 3:
        fail(
            path,
            f"a DrugCell ontology line has 3 fields (parent child type), found {table.shape[1]}",
            int(table.index[0]),
        )
    table.columns = ["parent", "child", "type"]
    bad = ~table["type"].isin(_DRUGCELL_TYPES)
    if bad.any():
        line = table.index[bad.argmax()]
        kind = table["type"].loc[line]
        message = f"unknown DrugCell edge type {kind!r}" if kind else "line has fewer than 3 fields"
        fail(path, message, int(line), hint=f"the type is one of {', '.join(_DRUGCELL_TYPES)}")
    edges = edge_table(
        node_names(table, "child", path),
        node_names(table, "parent", path),
        **{RELATION: table["type"].to_numpy()},
    )
    return require_edges(edges, path)
