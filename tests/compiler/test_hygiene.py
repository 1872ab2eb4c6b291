"""Prior hygiene: duplicates, self-loops, off-path nodes, isolated inputs, cycles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pknet.compiler.network.hygiene import clean_network
from pknet.compiler.network.network import Network

TCR = Path(__file__).resolve().parents[2] / "examples" / "kpnn_tcr" / "data" / "TCR_Edgelist.csv"

EDGES = [
    ("a", "b", 1),
    ("a", "b", -1),  # duplicate with a conflicting sign
    ("a", "b", 1),  # second duplicate
    ("b", "b", 1),  # self-loop
    ("b", "c", 1),
    ("c", "b", 1),  # cycle b <-> c
    ("c", "out", 1),
    ("b", "dead", 1),  # reaches no output
    ("ghost", "c", 1),  # not reachable from an input
    ("lonely", "x", 1),  # isolated input
    ("out", "after", 1),  # downstream of the output only
]


def build(edges: list[tuple[str, str, int]]) -> Network:
    src, dst, sign = zip(*edges, strict=True)
    return Network.from_edges(list(src), list(dst), sign=np.array(sign))


def clean(net: Network):
    return clean_network(net, net.index_of(["a", "lonely"]), net.index_of(["out"]))


def test_counts_and_names() -> None:
    cleaned, report = clean(build(EDGES))
    assert report.self_loops == ("b",)
    assert report.duplicate_edges == (("a", "b"),)
    assert report.n_duplicates_merged == 2
    assert report.sign_conflicts == (("a", "b"),)
    assert report.dropped_nodes == ("after", "dead", "ghost", "lonely", "x")
    assert report.isolated_inputs == ("lonely",)
    assert report.unreached_outputs == ()
    assert not report.acyclic
    assert report.cycle_component_sizes == (2,)
    assert cleaned.nodes == ("a", "b", "c", "out")
    frame = cleaned.to_frame()
    assert list(zip(frame["from"], frame["to"], strict=True)) == [
        ("a", "b"),
        ("b", "c"),
        ("c", "b"),
        ("c", "out"),
    ]
    assert frame["sign"].iloc[0] == 1  # the first copy is kept


def test_to_dict_counts_and_names_on_request() -> None:
    _, report = clean(build(EDGES))
    counts = report.to_dict()
    assert counts["dropped_nodes"] == 5 and "names" not in counts
    full = json.loads(json.dumps(report.to_dict(names=True)))
    assert full["names"]["duplicate_edges"] == [["a", "b"]]
    assert full["names"]["isolated_inputs"] == ["lonely"]
    assert full["largest_cycle_component"] == 2


def test_result_does_not_depend_on_edge_order() -> None:
    rng = np.random.default_rng(0)
    first = clean(build(EDGES))
    for _ in range(5):
        shuffled = [EDGES[i] for i in rng.permutation(len(EDGES))]
        cleaned, report = clean(build(shuffled))
        assert cleaned.nodes == first[0].nodes
        assert np.array_equal(cleaned.src, first[0].src)
        assert np.array_equal(cleaned.dst, first[0].dst)
        assert report == first[1]


def test_unreached_output() -> None:
    net = build([("a", "o", 1), ("z", "o2", 1)])
    _, report = clean_network(net, net.index_of(["a"]), net.index_of(["o", "o2"]))
    assert report.unreached_outputs == ("o2",)


def test_tcr_network_is_clean() -> None:
    edges = pd.read_csv(TCR)
    net = Network.from_edges(edges["child"].to_numpy(), edges["parent"].to_numpy())
    cleaned, report = clean_network(
        net, np.flatnonzero(net.in_degree() == 0), [net.index_of(["TCR"])[0]]
    )
    assert (report.n_nodes_after, report.n_edges_after) == (13_439, 27_579)
    assert report.acyclic and not report.dropped_nodes and not report.duplicate_edges
    assert cleaned.n_edges == net.n_edges
