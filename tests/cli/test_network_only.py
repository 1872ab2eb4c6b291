"""A spec with only a network and `prune` validates and compiles; `run` names what it lacks.
`compile` writes the pruned network as SIF and GraphML too, with node attributes."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pknet import compile_spec, load_spec
from pknet.cli import app
from pknet.compiler.network.network_files import node_table
from pknet.io.network_export import write_graphml

runner = CliRunner()

# A reaches the output D directly and through C, B only through C, E through F and G
EDGES = """from,to,sign
A,C,1
B,C,-1
C,D,1
A,D,1
E,F,0
F,G,-1
G,D,1
"""
SPEC = """version: 1
name: prune-only
network:
  edges: {file: edges.csv, from: from, to: to, sign: sign}
  inputs: leaves
prune: {objective: min_edges}
"""
SIGNS = {1: "activates", -1: "inhibits", 0: "interacts"}


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "edges.csv").write_text(EDGES)
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def test_a_network_only_spec_validates_and_compiles(spec: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 0, result.output
    assert "network only" in result.output
    result = runner.invoke(app, ["compile", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / "network"
    pruned = pd.read_csv(folder / "edges.pruned.tsv", sep="\t")
    edges = list(zip(pruned["from"], pruned["to"], pruned["sign"], strict=True))
    # the fewest edges that keep A, B and E connected to D: A -> C or A -> D goes
    assert len(pruned) == 6 and {("B", "C", -1), ("C", "D", 1)} <= set(edges)

    sif = [line.split("\t") for line in (folder / "network.sif").read_text().splitlines()]
    expected = [[f, SIGNS[s], t] for f, t, s in edges]
    assert sif == expected

    graph = nx.read_graphml(folder / "network.graphml")
    assert graph.is_directed()
    assert set(graph.edges) == {(f, t) for f, t, _ in edges}
    for f, t, s in edges:
        assert graph.edges[f, t]["sign"] == s and graph.edges[f, t]["interaction"] == SIGNS[s]
    kinds = {node: graph.nodes[node]["kind"] for node in graph.nodes}
    assert kinds == {"A": "input", "B": "input", "E": "input", "C": "hidden", "F": "hidden",
                     "G": "hidden", "D": "output"}  # fmt: skip
    assert not any(graph.nodes[node]["measured"] for node in graph.nodes)


def test_run_names_the_sections_a_network_only_spec_lacks(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(spec), "--out", str(out)])
    assert result.exit_code == 2
    assert "spec.yaml:1:1: data: `run` needs a `data` section" in result.output
    assert "model: `run` needs a `model` section" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_measured_needs_data(spec: Path) -> None:
    spec.write_text(SPEC.replace("inputs: leaves", "inputs: leaves & measured"))
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "spec.yaml:5:11: network.inputs: `network.inputs: leaves & measured` selects" in (
        result.output
    )


def test_nodes_named_like_data_columns_are_measured(spec: Path, tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("sample,A,E,Z\ns1,1,2,3\n")
    (tmp_path / "y.csv").write_text("sample,y\ns1,1\n")
    data = "data: {expression: {file: x.csv}, target: {file: y.csv, column: y}}\n"
    spec.write_text(SPEC + data)
    table = node_table(compile_spec(spec))
    assert table[table["measured"]]["node"].tolist() == ["A", "E"]


def test_graphml_carries_a_runs_importances(spec: Path, tmp_path: Path) -> None:
    compiled = compile_spec(load_spec(spec))
    importances = pd.DataFrame(
        {
            "node": ["C", "D", "G", "C", "not_in_network"],
            "method": ["bias", "bias", "bias", "node_weights", "bias"],
            "mean": [0.5, -1.0, 2.0, 0.25, 9.0],
            "sd": [0.1, 0.2, 0.3, 0.05, 9.0],
            "above_control": [True, False, True, False, True],
        }
    )
    path = write_graphml(
        tmp_path / "g.graphml", compiled.network.to_frame(), node_table(compiled, importances)
    )
    graph = nx.read_graphml(path)
    assert "not_in_network" not in graph.nodes
    for row in importances[importances["node"] != "not_in_network"].itertuples():
        attributes = graph.nodes[row.node]
        assert attributes[f"{row.method}_mean"] == row.mean
        assert attributes[f"{row.method}_sd"] == row.sd
        assert attributes[f"{row.method}_above_control"] == row.above_control
    # a node a method does not score: NaN statistics, no verdict against the control
    assert (
        math.isnan(graph.nodes["A"]["bias_mean"]) and "bias_above_control" not in graph.nodes["A"]
    )
    assert np.isnan(graph.nodes["D"]["node_weights_sd"])
