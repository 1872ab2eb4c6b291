"""Read the spec's network sources into one `Network` (edges of all sources merged)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import pandas as pd

from pknet.compiler.network.network import Network
from pknet.errors import CompileError
from pknet.io import networks as nio
from pknet.specs.diagnostics import format_path
from pknet.specs.schema import NetworkSourceSpec, NetworkSpec
from pknet.specs.schema.network import (
    AnnotationTableSpec,
    DrugCellSpec,
    EdgeListSpec,
    GafSpec,
    GmtSpec,
    HierarchySpec,
    OboSpec,
    RegulonsSpec,
    ScoredLinksSpec,
    SifSpec,
)

_SEPARATORS = {"auto": None, ",": ",", "\t": "\t", "whitespace": r"\s+"}


def read_source(source: NetworkSourceSpec, terms: nio.TermSet | None = None) -> pd.DataFrame:
    """The edge table of one source, read with the loader of its kind.

    Annotations (`gaf`, `annotation_table`) with `unknown_terms: error` must cite `terms`.
    """
    path = source.file
    checked = None if _drops_unknown(source) else terms
    match source:
        case EdgeListSpec():
            return nio.load_edge_list(
                path,
                from_col=source.from_,
                to_col=source.to,
                sign_col=source.sign,
                weight_col=source.weight,
                sep=_SEPARATORS[source.separator],
            )
        case SifSpec():
            return nio.load_sif(path)
        case GmtSpec():
            return nio.load_gmt(path)
        case OboSpec():
            return nio.load_obo(path, relations=tuple(source.relations), namespace=source.namespace)
        case GafSpec():
            return nio.load_gaf(path, evidence=source.evidence, aspect=source.aspect, terms=checked)
        case AnnotationTableSpec():
            return nio.load_annotation_table(
                path,
                member_col=source.member,
                term_col=source.term,
                evidence_col=source.evidence_column,
                evidence=source.evidence,
                sep=_SEPARATORS[source.separator],
                terms=checked,
            )
        case HierarchySpec():
            return nio.load_hierarchy(
                path,
                parent_col=source.parent,
                child_col=source.child,
                relation_col=source.relation,
                relations=source.relations,
                sep=_SEPARATORS[source.separator],
            )
        case DrugCellSpec():
            return nio.load_drugcell_ontology(path)
        case ScoredLinksSpec():
            return nio.load_scored_links(
                path,
                a_col=source.a,
                b_col=source.b,
                score_col=source.score,
                min_score=source.min_score,
                score_max=None if source.weight == "one" else source.score_max,
                strip_species_prefix=source.strip_species_prefix,
                sep=_SEPARATORS[source.separator],
            )
        case RegulonsSpec():
            return nio.load_regulons(
                path,
                tf_col=source.tf,
                target_col=source.target,
                mor_col=source.mor,
                confidence_col=source.confidence,
                confidence=source.levels,
                sep=_SEPARATORS[source.separator],
            )
    raise TypeError(f"unknown network source {source!r}")


def _drops_unknown(source: NetworkSourceSpec) -> bool:
    return isinstance(source, GafSpec | AnnotationTableSpec) and source.unknown_terms == "drop"


@contextlib.contextmanager
def _at_source(index: int) -> Iterator[None]:
    """Give loader errors the spec path of network source `index`."""
    try:
        yield
    except CompileError as exc:
        field = format_path(("network", "edges", index))
        raise type(exc)(
            [dataclasses.replace(p, path=p.path or field) for p in exc.problems]
        ) from None


def ontology_terms(spec: NetworkSpec) -> nio.TermSet | None:
    """The terms the `obo` sources define, when annotations must cite them (else None).

    Only OBO files close the term set; a hierarchy table may miss terms that are annotated
    (pathways with no parent row), so annotations beside one are not checked.
    """
    annotated = any(isinstance(s, GafSpec | AnnotationTableSpec) for s in spec.edges)
    obo = [(i, s) for i, s in enumerate(spec.edges) if isinstance(s, OboSpec)]
    if not annotated or not obo:
        return None
    terms: set[str] = set()
    for i, source in obo:
        with _at_source(i):
            terms.update(nio.load_obo_terms(source.file, namespace=source.namespace)["term"])
    names = ", ".join(
        s.file.name + (f" (namespace {s.namespace})" if s.namespace else "") for _, s in obo
    )
    return nio.TermSet(frozenset(terms), names)


def read_network(spec: NetworkSpec) -> tuple[Network, int]:
    """All sources' edges as one network, and how many annotations to unknown terms were
    dropped (`unknown_terms: drop`); loader errors name the spec field they came from."""
    terms = ontology_terms(spec)
    tables, dropped = [], 0
    for i, source in enumerate(spec.edges):
        with _at_source(i):
            table = read_source(source, terms)
            if terms is not None and _drops_unknown(source):
                table, n = nio.drop_unknown_terms(table, terms, source.file)
                dropped += n
        tables.append(table)
    edges = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    network = Network.from_edges(
        edges[nio.SOURCE].to_numpy(),
        edges[nio.TARGET].to_numpy(),
        edges[nio.SIGN].to_numpy(),
        edges[nio.WEIGHT].to_numpy(),
    )
    return network, dropped
