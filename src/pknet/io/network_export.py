"""Write a network for other tools: SIF (edges) and GraphML with node attributes (Cytoscape).

SIF lines are `source<TAB>interaction<TAB>target`; the interaction names the edge's sign.
GraphML keeps every node, also one without edges, with the columns of a node table as
attributes (numbers, booleans, text; a missing number is NaN, a missing text is left out).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

INTERACTIONS = {1: "activates", -1: "inhibits", 0: "interacts"}


def interaction(sign: int) -> str:
    """The SIF interaction type of an edge sign (+1, -1, or 0 when unsigned)."""
    return INTERACTIONS[int(np.sign(sign))]


def write_sif(path: Path, edges: pd.DataFrame) -> Path:
    """Write `edges` (columns `from`, `to`, `sign`) as tab-separated SIF."""
    lines = [
        f"{source}\t{interaction(sign)}\t{target}\n"
        for source, target, sign in zip(edges["from"], edges["to"], edges["sign"], strict=True)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def write_graphml(path: Path, edges: pd.DataFrame, nodes: pd.DataFrame) -> Path:
    """Write a directed GraphML graph: `nodes` has a `node` column and one column per node
    attribute; `edges` has `from`, `to`, `sign`, `weight` (edge attributes, plus the SIF
    `interaction`)."""
    graph = nx.DiGraph()
    for row in nodes.to_dict("records"):
        name = row.pop("node")
        graph.add_node(name, **{k: _value(v) for k, v in row.items() if _kept(v)})
    for source, target, sign, weight in zip(
        edges["from"], edges["to"], edges["sign"], edges["weight"], strict=True
    ):
        graph.add_edge(
            source, target, sign=int(sign), weight=float(weight), interaction=interaction(sign)
        )
    nx.write_graphml(graph, path, infer_numeric_types=True)
    return path


def _kept(value: object) -> bool:
    """Whether a node gets the attribute: a missing text (None) is left out, a NaN is kept."""
    return value is not None and value is not pd.NA


def _value(value: object) -> object:
    """A plain Python value GraphML can type (NumPy scalars are not)."""
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value)
    return value if isinstance(value, int | str) else str(value)
