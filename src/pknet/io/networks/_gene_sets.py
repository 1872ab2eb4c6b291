"""Member → set edges: GMT gene sets, GO annotation files (GAF) and annotation tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ._common import (
    EVIDENCE,
    TARGET,
    TermSet,
    check_known_terms,
    edge_table,
    fail,
    labelled_pairs,
    read_lines,
    require_edges,
)

_GAF_MIN_COLUMNS = 15
_GAF_ASPECTS = ("P", "F", "C")


def load_gmt(path: Path) -> pd.DataFrame:
    """Gene → set edges of a GMT file (`set<TAB>description<TAB>gene1<TAB>gene2…`).

    Edges follow the file: sets in order, genes in order within a set; empty fields are
    skipped. A set name defined on two lines is an error.
    """
    genes: list[str] = []
    sets: list[str] = []
    first_line: dict[str, int] = {}
    for line_no, line in read_lines(path):
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 2 or not fields[0]:
            fail(
                path,
                "a GMT line starts with a set name and a description",
                line_no,
                hint="GMT fields are tab-separated: name, description, then the genes",
            )
        name = fields[0]
        if name in first_line:
            twice = f"gene set {name!r} is defined twice (lines {first_line[name]} and {line_no})"
            fail(path, twice, line_no)
        first_line[name] = line_no
        members = [gene for gene in fields[2:] if gene]
        genes.extend(members)
        sets.extend([name] * len(members))
    return require_edges(edge_table(genes, sets), path)


def load_gaf(
    path: Path,
    *,
    evidence: Sequence[str] | None = None,
    aspect: str | None = None,
    terms: TermSet | None = None,
) -> pd.DataFrame:
    """Gene → GO term edges of a GO Annotation File (GAF 2.x, tab-separated, `!` comments).

    Uses column 3 (symbol), 5 (GO id), 7 (evidence code, kept in `evidence`) and 9 (aspect
    P/F/C). Rows qualified `NOT` are skipped; `evidence` keeps only those codes and `aspect`
    only that ontology. With `terms`, every kept row's GO id must be one of them.
    """
    if aspect is not None and aspect not in _GAF_ASPECTS:
        fail(path, f"aspect must be one of {', '.join(_GAF_ASPECTS)}, not {aspect!r}")
    genes: list[str] = []
    go_ids: list[str] = []
    codes: list[str] = []
    lines: list[int] = []
    seen: set[str] = set()
    for line_no, line in read_lines(path):
        if line.startswith("!"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < _GAF_MIN_COLUMNS:
            fail(
                path,
                f"a GAF line has {_GAF_MIN_COLUMNS} to 17 tab-separated columns, "
                f"this one has {len(fields)}",
                line_no,
                hint="for a plain gene/term table use the annotation-table loader",
            )
        symbol, qualifier, term, code, ontology = (fields[i] for i in (2, 3, 4, 6, 8))
        if not symbol or not term:
            fail(path, "GAF line without a gene symbol (column 3) or GO id (column 5)", line_no)
        if "NOT" in qualifier.split("|"):
            continue
        seen.add(code)
        if (evidence is None or code in evidence) and (aspect is None or ontology == aspect):
            genes.append(symbol)
            go_ids.append(term)
            codes.append(code)
            lines.append(line_no)
    filters = []
    if evidence is not None:
        filters.append(f"evidence in {list(evidence)} (codes present: {', '.join(sorted(seen))})")
    if aspect is not None:
        filters.append(f"aspect {aspect}")
    edges = edge_table(genes, go_ids, **{EVIDENCE: codes})
    if terms is not None:
        check_known_terms(edges, lines, terms, path)
    return require_edges(edges, path, "; ".join(filters) or None)


def load_annotation_table(
    path: Path,
    *,
    member_col: str,
    term_col: str,
    evidence_col: str | None = None,
    evidence: Sequence[str] | None = None,
    sep: str | None = None,
    terms: TermSet | None = None,
) -> pd.DataFrame:
    """Member → term edges of a delimited annotation table with a header, in file order.

    For GO annotations (`gene`, `go_id`, `evidence`) or pathway membership (Reactome
    `uniprot`, `pathway`). `evidence_col` is kept as `evidence`; `evidence` keeps only those
    codes. With `terms`, every kept row's term must be one of them.
    """
    return labelled_pairs(
        path,
        source_col=member_col,
        target_col=term_col,
        label_col=evidence_col,
        label=EVIDENCE,
        keep=evidence,
        sep=sep,
        must_occur=False,
        terms=terms,
    )


def drop_unknown_terms(edges: pd.DataFrame, terms: TermSet, path: Path) -> tuple[pd.DataFrame, int]:
    """Annotation edges without those to terms outside `terms`, and how many were dropped."""
    known = edges[TARGET].isin(terms.terms).to_numpy()
    kept = edges[known].reset_index(drop=True)
    why = f"annotations to terms outside {terms.source} dropped"
    return require_edges(kept, path, why), int((~known).sum())
