"""Read the spec's network sources into one `Network` (edges of all sources merged)."""

from __future__ import annotations

import dataclasses

import pandas as pd

from pknet.compiler.network import Network
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


def read_source(source: NetworkSourceSpec) -> pd.DataFrame:
    """The edge table of one source, read with the loader of its kind."""
    path = source.file
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
            return nio.load_gaf(path, evidence=source.evidence, aspect=source.aspect)
        case AnnotationTableSpec():
            return nio.load_annotation_table(
                path,
                member_col=source.member,
                term_col=source.term,
                evidence_col=source.evidence_column,
                evidence=source.evidence,
                sep=_SEPARATORS[source.separator],
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


def read_network(spec: NetworkSpec) -> Network:
    """All sources' edges as one network; loader errors name the spec field they came from."""
    tables = []
    for i, source in enumerate(spec.edges):
        try:
            tables.append(read_source(source))
        except CompileError as exc:
            field = format_path(("network", "edges", i))
            raise type(exc)(
                [dataclasses.replace(p, path=p.path or field) for p in exc.problems]
            ) from None
    edges = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    return Network.from_edges(
        edges[nio.SOURCE].to_numpy(),
        edges[nio.TARGET].to_numpy(),
        edges[nio.SIGN].to_numpy(),
        edges[nio.WEIGHT].to_numpy(),
    )
