"""Flat graphs: CSV/TSV edge lists, SIF, STRING-style scored links and TF regulons."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._common import (
    CONFIDENCE,
    RELATION,
    SCORE,
    edge_table,
    fail,
    node_names,
    parse_numbers,
    parse_signs,
    read_lines,
    read_table,
    require_columns,
    require_edges,
    sign_of,
)

_SPECIES_PREFIX = re.compile(r"^\d+\.")


def load_edge_list(
    path: Path,
    *,
    from_col: str,
    to_col: str,
    sign_col: str | None = None,
    weight_col: str | None = None,
    sep: str | None = None,
) -> pd.DataFrame:
    """Edges `from_col` → `to_col` of a delimited file with a header, in file order.

    `from_col`/`to_col` name the direction information flows (for KPNN's `parent,child` file:
    from `child` to `parent`). `sign_col` holds ±1 words or numbers (see `MSG_SIGN_VALUES`),
    `weight_col` numbers. `sep` defaults to the suffix's separator.
    """
    table = read_table(path, sep=sep)
    require_columns(table, path, [from_col, to_col, sign_col, weight_col])
    edges = edge_table(
        node_names(table, from_col, path),
        node_names(table, to_col, path),
        sign=None if sign_col is None else parse_signs(table[sign_col], path, sign_col),
        weight=None if weight_col is None else parse_numbers(table[weight_col], path, weight_col),
    )
    return require_edges(edges, path)


def load_sif(path: Path) -> pd.DataFrame:
    """Edges of a SIF file: `A <relation> B [C ...]` gives A → B, A → C, … in file order.

    Fields are tab-separated when a line has a tab, else whitespace-separated. The relation
    text is kept in `relation`; `sign` is ±1 where the relation is a sign word or number
    (`activates`, `inhibits`, `1`, `-1`, …) and 0 otherwise. A lone node name adds no edge.
    """
    sources: list[str] = []
    targets: list[str] = []
    relations: list[str] = []
    for line_no, line in read_lines(path):
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
        fields = [f for f in fields if f]
        if len(fields) == 2:
            fail(
                path,
                f"SIF line has a relation {fields[1]!r} but no target",
                line_no,
                hint="a SIF line is 'source relation target [target ...]'",
            )
        for target in fields[2:]:
            sources.append(fields[0])
            targets.append(target)
            relations.append(fields[1])
    signs = [sign_of(relation) or 0 for relation in relations]
    return require_edges(edge_table(sources, targets, sign=signs, **{RELATION: relations}), path)


def load_scored_links(
    path: Path,
    *,
    a_col: str,
    b_col: str,
    score_col: str,
    min_score: float | None = None,
    score_max: float | None = None,
    strip_species_prefix: bool = False,
    sep: str | None = None,
) -> pd.DataFrame:
    """Undirected scored links (STRING style) as edges in both directions, with `score`.

    Rows with `score < min_score` are dropped. Each unordered pair is kept once (its first
    row) and gives A → B then B → A (a self-link gives one edge). `strip_species_prefix`
    removes a leading taxon like `9606.` from node names. The edge weight is
    `score / score_max` (a kept score outside 0..score_max is an error), or 1 without
    `score_max`.
    """
    table = read_table(path, sep=sep)
    require_columns(table, path, [a_col, b_col, score_col])
    a = node_names(table, a_col, path)
    b = node_names(table, b_col, path)
    scores = parse_numbers(table[score_col], path, score_col)
    if strip_species_prefix:
        a = np.asarray([_SPECIES_PREFIX.sub("", name) for name in a], dtype=object)
        b = np.asarray([_SPECIES_PREFIX.sub("", name) for name in b], dtype=object)
    kept = np.arange(len(scores)) if min_score is None else np.flatnonzero(scores >= min_score)
    ordered = a <= b
    unordered = pd.DataFrame({"low": np.where(ordered, a, b), "high": np.where(ordered, b, a)})
    kept = kept[~unordered.iloc[kept].duplicated().to_numpy()]
    if score_max is not None:
        _check_score_range(scores[kept], score_max, path, score_col)
    a, b = a[kept], b[kept]
    sources = np.column_stack([a, b]).ravel()
    targets = np.column_stack([b, a]).ravel()
    repeat_of_self_link = np.column_stack([np.zeros(len(a), dtype=bool), a == b]).ravel()
    edge_scores = np.repeat(scores[kept], 2)[~repeat_of_self_link]
    edges = edge_table(
        sources[~repeat_of_self_link],
        targets[~repeat_of_self_link],
        weight=None if score_max is None else edge_scores / score_max,
        **{SCORE: edge_scores},
    )
    why = None
    if min_score is not None and len(scores):
        why = (
            f"min_score={min_score:g} kept none of {len(scores)} links "
            f"(scores range from {scores.min():g} to {scores.max():g})"
        )
    return require_edges(edges, path, why)


def _check_score_range(scores: np.ndarray, score_max: float, path: Path, column: str) -> None:
    """Weights `score / score_max` lie in 0..1: a score outside 0..score_max is a mistake of
    scale (STRING's own files score 0-1000)."""
    outside = np.flatnonzero((scores < 0) | (scores > score_max))
    if len(outside):
        fail(
            path,
            f"column {column!r} holds scores from {scores.min():g} to {scores.max():g}, outside "
            f"0..score_max={score_max:g} ({len(outside)} kept link(s))",
            None,
            hint="set `score_max` to the file's scale (1000 for STRING's `combined_score`), or "
            "`weight: one`",
        )


def load_regulons(
    path: Path,
    *,
    tf_col: str = "tf",
    target_col: str = "target",
    mor_col: str = "mor",
    confidence_col: str | None = "confidence",
    confidence: Sequence[str] | None = None,
    sep: str | None = None,
) -> pd.DataFrame:
    """TF → target edges of a regulon table (DoRothEA: `tf confidence target mor`).

    `sign` is the sign of the mode of regulation `mor` and `weight` its magnitude; the
    `confidence` column is kept when `confidence_col` is given, and `confidence` keeps only
    rows with those levels (e.g. `("A", "B", "C")`).
    """
    if confidence is not None and confidence_col is None:
        fail(path, "a confidence filter needs the confidence column (confidence_col)")
    table = read_table(path, sep=sep)
    require_columns(table, path, [tf_col, target_col, mor_col, confidence_col])
    mor = parse_numbers(table[mor_col], path, mor_col)
    extra = {} if confidence_col is None else {CONFIDENCE: table[confidence_col].to_numpy()}
    edges = edge_table(
        node_names(table, tf_col, path),
        node_names(table, target_col, path),
        sign=np.sign(mor),
        weight=np.abs(mor),
        **extra,
    )
    if confidence is None:
        return require_edges(edges, path)
    kept = edges[edges[CONFIDENCE].isin(list(confidence))].reset_index(drop=True)
    levels = ", ".join(sorted(set(edges[CONFIDENCE])))
    return require_edges(kept, path, f"confidence in {list(confidence)} (levels present: {levels})")
