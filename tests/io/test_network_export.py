"""SIF and GraphML as other tools read them: GraphML read back with networkx's reader."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import pandas as pd

from pknet.io.network_export import write_graphml, write_sif

EDGES = pd.DataFrame(
    {
        "from": ['a<b & "c"', "x", "y"],
        "to": ["x", "y", "lonely's neighbour"],
        "sign": [1, -1, 0],
        "weight": [0.5, 1.0, 2.0],
    }
)
NODES = pd.DataFrame(
    {
        "node": ['a<b & "c"', "x", "y", "lonely's neighbour", "isolated"],
        "kind": ["input", "hidden", "hidden", "output", "input"],
        "measured": [True, False, True, False, False],
        "bias_mean": [0.25, math.nan, math.inf, -1e-300, 3.0],
        "bias_above_control": [True, None, False, None, True],
    }
)


def test_graphml_reads_back_as_written(tmp_path: Path) -> None:
    graph = nx.read_graphml(write_graphml(tmp_path / "g.graphml", EDGES, NODES))
    assert graph.is_directed() and list(graph.nodes) == NODES["node"].tolist()
    for row in NODES.to_dict("records"):
        attributes = graph.nodes[row.pop("node")]
        verdict = row.pop("bias_above_control")
        assert attributes.get("bias_above_control") == verdict  # None: left out
        mean = row.pop("bias_mean")
        assert attributes["bias_mean"] == mean or (
            math.isnan(mean) and math.isnan(attributes["bias_mean"])
        )
        assert {k: attributes[k] for k in row} == row
    for edge in EDGES.itertuples():
        attributes = graph.edges[edge[1], edge.to]
        assert attributes["sign"] == edge.sign and attributes["weight"] == edge.weight
    assert {graph.edges[e]["interaction"] for e in graph.edges} == {
        "activates",
        "inhibits",
        "interacts",
    }


def test_sif_lines_name_the_sign(tmp_path: Path) -> None:
    lines = write_sif(tmp_path / "n.sif", EDGES).read_text(encoding="utf-8").splitlines()
    assert [line.split("\t") for line in lines] == [
        ['a<b & "c"', "activates", "x"],
        ["x", "inhibits", "y"],
        ["y", "interacts", "lonely's neighbour"],
    ]
