"""Readers of prior-knowledge network files (pure I/O, no modelling).

Every loader returns an edge table: a DataFrame with columns `source`, `target` (node names,
in the direction information flows in a model: gene → term → parent term; TF → target),
`sign` (int8: +1, -1, or 0 when unknown) and `weight` (float64, 1.0 when the format has
none), then the extra columns its format carries (`relation`, `confidence`, `score`,
`evidence`). Rows keep the file's order. Bad input raises `pknet.errors.CompileError`
located at the file and line.

Annotation loaders (GAF, annotation tables) take the `TermSet` of an ontology whose terms are a
closed set (an OBO file's `[Term]` stanzas) and reject annotations to other terms, naming the
line. Parent/child hierarchy tables are not closed sets: a term may appear only as an
annotation target (a leaf or root pathway without a hierarchy row), so they define no `TermSet`.
"""

from ._common import (
    CONFIDENCE,
    EDGE_COLUMNS,
    EVIDENCE,
    RELATION,
    SCORE,
    SIGN,
    SOURCE,
    TARGET,
    WEIGHT,
    TermSet,
    read_table,
)
from ._edge_lists import load_edge_list, load_regulons, load_scored_links, load_sif
from ._gene_sets import drop_unknown_terms, load_annotation_table, load_gaf, load_gmt
from ._mapping import load_mapping, load_mapping_lists
from ._ontologies import (
    load_drugcell_ontology,
    load_hierarchy,
    load_obo,
    load_obo_terms,
)

__all__ = [
    "CONFIDENCE",
    "EDGE_COLUMNS",
    "EVIDENCE",
    "RELATION",
    "SCORE",
    "SIGN",
    "SOURCE",
    "TARGET",
    "WEIGHT",
    "TermSet",
    "drop_unknown_terms",
    "load_annotation_table",
    "load_drugcell_ontology",
    "load_edge_list",
    "load_gaf",
    "load_gmt",
    "load_hierarchy",
    "load_mapping",
    "load_mapping_lists",
    "load_obo",
    "load_obo_terms",
    "load_regulons",
    "load_scored_links",
    "load_sif",
    "read_table",
]
