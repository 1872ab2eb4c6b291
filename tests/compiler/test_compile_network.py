"""`compile_spec` on the real KPNN example: selection, mapping, hygiene, pruning, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import pknet
from pknet.errors import CompileError, InfeasiblePruningError

EXAMPLE = Path(__file__).parents[2] / "examples" / "kpnn_tcr"
TCR_LEAVES = 13_121
TCR_OPTIMUM = 13_268  # edges of the smallest sub-network keeping every leaf connected to TCR


def spec_file(tmp_path: Path, body: str) -> Path:
    """A spec extending the KPNN example (its data paths stay relative to the example)."""
    path = tmp_path / "spec.yaml"
    path.write_text(f"extends: {EXAMPLE / 'spec.yaml'}\n{body}")
    return path


def reaches(net: pknet.compiler.Network, start: int, goal: int) -> bool:
    return bool(net.reachable(np.array([start]))[goal])


def test_kpnn_example_prunes_to_a_tree_over_measured_leaves() -> None:
    compiled = pknet.compile_spec(EXAMPLE / "spec.yaml")
    net = compiled.network
    report = compiled.report()
    assert report["mapping"]["n_inputs_measured"] == report["mapping"]["n_inputs"] == 612
    assert report["prune"]["status"] == "optimal"
    assert report["prune"]["formulation"] == "arborescence"
    assert net.n_edges == net.n_nodes - 1  # a tree into TCR
    assert [net.nodes[i] for i in compiled.outputs] == ["TCR"]
    tcr = int(compiled.outputs[0])
    assert all(reaches(net, int(i), tcr) for i in compiled.inputs)
    assert np.all(compiled.input_columns >= 0)
    columns = [compiled.feature_names[c] for c in compiled.input_columns]
    assert columns == [net.nodes[i].removesuffix("_gene") for i in compiled.inputs]


def test_all_leaves_reach_the_known_optimum() -> None:
    compiled = pknet.compile_spec(EXAMPLE / "spec.yaml", {"network.inputs": "leaves"})
    report = compiled.pruning.report
    assert report.status == "optimal"
    assert report.objective == TCR_OPTIMUM == compiled.network.n_edges
    assert len(compiled.inputs) == TCR_LEAVES


def test_unpruned_spec_keeps_every_path(tmp_path: Path) -> None:
    compiled = pknet.compile_spec(spec_file(tmp_path, "prune: null\n"))
    assert compiled.pruning is None
    assert compiled.network.n_edges == compiled.hygiene.n_edges_after == 1434


def test_compile_writes_network_files(tmp_path: Path) -> None:
    pknet.compile_spec(EXAMPLE / "spec.yaml", out=tmp_path / "out")
    folder = tmp_path / "out" / "network"
    edges = (folder / "edges.pruned.tsv").read_text().splitlines()
    assert edges[0].split("\t")[:2] == ["from", "to"]
    assert len(edges) - 1 == 681
    assert '"status": "optimal"' in (folder / "report.json").read_text()
    assert (folder / "prune.mps").read_text().startswith("NAME")


def located_error(tmp_path: Path, body: str, error=CompileError) -> str:
    path = spec_file(tmp_path, body)
    with pytest.raises(error) as caught:
        pknet.compile_spec(path)
    return caught.value.format()


def test_selector_matching_nothing_names_the_spec_line(tmp_path: Path) -> None:
    text = located_error(tmp_path, "network:\n  inputs: leaves & roots\n")
    assert "spec.yaml:3:11: network.inputs: selector `leaves & roots` matches no node" in text


def test_unknown_node_name_suggests_one(tmp_path: Path) -> None:
    text = located_error(tmp_path, "network:\n  outputs: name(TCRR)\n")
    assert "spec.yaml:3:12" in text and "`TCRR`" in text and "did you mean `TCR`" in text


def test_unmapped_features_explain_the_mapping(tmp_path: Path) -> None:
    text = located_error(tmp_path, "network:\n  features: {strip_suffix: null}\n")
    assert "matches no node" in text and "after `network.features`, is a data column" in text


def test_missing_column_lists_the_available_ones(tmp_path: Path) -> None:
    edges = f"{{file: {EXAMPLE / 'data' / 'TCR_Edgelist.csv'}, from: kid, to: parent}}"
    text = located_error(tmp_path, f"network:\n  edges: {edges}\n")
    assert "column 'kid' not found" in text and "child" in text
    assert "network.edges[0]" in text


def test_reversed_edges_reach_no_output(tmp_path: Path) -> None:
    edges = f"{{file: {EXAMPLE / 'data' / 'TCR_Edgelist.csv'}, from: parent, to: child}}"
    body = f'network:\n  edges: {edges}\n  inputs: match("*_gene") & measured\n'
    text = located_error(tmp_path, body, InfeasiblePruningError)
    assert "reaches any of the 1 outputs" in text and "spec.yaml:4:" in text


def test_unconnected_inputs_can_be_an_error(tmp_path: Path) -> None:
    table = tmp_path / "edges.csv"
    table.write_text("from,to\nA_gene,TCR\nB_gene,OTHER\n")
    body = (
        f"network:\n  edges: {{file: {table}, from: from, to: to}}\n"
        "  inputs: name(A_gene, B_gene)\n  outputs: name(TCR)\n  unconnected: error\n"
        "data:\n  transform: []\n"
    )
    text = located_error(tmp_path, body, InfeasiblePruningError)
    assert "1 input(s) reach no output: B_gene" in text
    dropped = pknet.compile_spec(spec_file(tmp_path, body.replace("error", "drop")))
    assert dropped.hygiene.isolated_inputs == ("B_gene",)
    assert [dropped.network.nodes[i] for i in dropped.inputs] == ["A_gene"]


def test_empty_network_file_is_an_error(tmp_path: Path) -> None:
    table = tmp_path / "edges.csv"
    table.write_text("from,to\n")
    text = located_error(tmp_path, f"network:\n  edges: {{file: {table}, from: from, to: to}}\n")
    assert "edges.csv" in text


def test_required_node_off_every_path_is_infeasible(tmp_path: Path) -> None:
    text = located_error(tmp_path, "prune:\n  required: name(A1BG_gene)\n", InfeasiblePruningError)
    assert "prune.required" in text and "A1BG_gene" in text


def test_edge_weights_steer_the_pruned_tree(tmp_path: Path) -> None:
    """Two equally short routes from A to T; weighting one route's edge makes the other win."""
    table = tmp_path / "edges.csv"
    table.write_text("from,to\nA_gene,K1\nA_gene,K2\nK1,TCR\nK2,TCR\n")
    weights = tmp_path / "weights.csv"
    body = (
        f"network:\n  edges: {{file: {table}, from: from, to: to}}\n"
        "  inputs: name(A_gene)\n  outputs: name(TCR)\ndata:\n  transform: []\n"
        f"prune:\n  weights: {{file: {weights}, on: edges}}\n"
    )
    kept = {}
    for heavy in ("K1", "K2"):
        weights.write_text(f"from,to,weight\n{heavy},TCR,5\n")
        net = pknet.compile_spec(spec_file(tmp_path, body)).network
        kept[heavy] = sorted(set(net.nodes) - {"A_gene", "TCR"})
    assert kept == {"K1": ["K2"], "K2": ["K1"]}
    weights.write_text("from,to,weight\nTCR,K1,5\nK9,TCR,2\n")  # reversed, unknown: none fits
    with pytest.raises(CompileError) as caught:
        pknet.compile_spec(spec_file(tmp_path, body))
    text = caught.value.format()
    assert "prune.weights: none of the 2 weights in weights.csv names an edge" in text
    assert "`TCR -> K1`" in text


def test_min_nodes_prefers_fewer_nodes_over_fewer_edges(tmp_path: Path) -> None:
    """Inputs A, B reach T via one shared hub H (3 nodes) or via direct edges (fewer edges)."""
    table = tmp_path / "edges.csv"
    table.write_text("from,to\nA_gene,H\nB_gene,H\nH,TCR\nA_gene,X\nX,TCR\nB_gene,TCR\n")
    body = (
        f"network:\n  edges: {{file: {table}, from: from, to: to}}\n"
        "  inputs: name(A_gene, B_gene)\n  outputs: name(TCR)\ndata:\n  transform: []\n"
        "prune:\n  objective: min_nodes\n"
    )
    compiled = pknet.compile_spec(spec_file(tmp_path, body))
    assert compiled.pruning.report.status == "optimal"
    assert compiled.network.n_nodes == 4  # A, B, one hub, TCR


@pytest.mark.parametrize(
    ("inputs", "warned"),
    [("leaves", "612 of the 13121 input nodes (5%) are measured"), ("leaves & measured", None)],
)
def test_few_measured_inputs_warn(tmp_path: Path, inputs: str, warned: str | None) -> None:
    path = spec_file(tmp_path, f"network:\n  inputs: {inputs}\nprune: null\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pknet.compile_spec(path)
    messages = [str(w.message) for w in caught if "input nodes" in str(w.message)]
    assert messages == ([] if warned is None else [messages[0]])
    if warned is not None:
        assert warned in messages[0] and "`A1BG_gene`" in messages[0]


def test_compile_cli_prints_the_unmeasured_warning(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pknet.cli import app

    body = "network:\n  features: {strip_suffix: _GENE}\n  inputs: leaves\nprune: null\n"
    path = spec_file(tmp_path, body)
    result = CliRunner().invoke(app, ["compile", str(path), "--out", str(tmp_path / "out")])
    assert "warning: 0 of the 13121 input nodes (0%) are measured" in result.output
