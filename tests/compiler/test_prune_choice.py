"""`formulation: auto`: what it picks from the presolved cycles, and that its optimum is exact."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prune_reference import brute_force

from pknet.compiler.network.hygiene import clean_network
from pknet.compiler.network.network import Network
from pknet.compiler.network.prune import PruneReport, PruneResult, prune
from pknet.compiler.network.prune.budget import Budget
from pknet.compiler.network.prune.choice import cycle_structure
from pknet.compiler.network.prune.flow import build_flow
from pknet.compiler.network.prune.pipeline import make_task
from pknet.compiler.network.prune.presolve import PruneTask, presolve

N_SMALL = 60
N_LARGER = 8


def signed_cyclic_prior(rng: np.random.Generator, n: int, m: int) -> tuple[Network, dict]:
    """A random signed prior (70% activations) over n nodes, with a feedback loop through its
    middle: inputs are the first nodes, outputs the last, most edges point downstream."""
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    forward = rng.random(m) < 0.75
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    src, dst = np.where(forward, lo, hi), np.where(forward, hi, lo)
    mid = n // 2
    loop_src = np.array([mid - 1, mid, mid + 1])
    loop_dst = np.array([mid, mid + 1, mid - 1])
    src, dst = np.concatenate([src, loop_src]), np.concatenate([dst, loop_dst])
    sign = np.where(rng.random(len(src)) < 0.7, 1, -1)
    names = np.array([f"n{i:03d}" for i in range(n)], dtype=object)
    net = Network.from_edges(names[src], names[dst], sign=sign, extra_nodes=list(names))
    k_in = int(rng.integers(1, 3 if n < 10 else 6))
    k_out = int(rng.integers(1, 3 if n < 10 else 6))
    inputs, outputs = np.arange(k_in), np.arange(n - k_out, n)
    fwd = net.reachable(inputs)
    bwd = net.reachable(outputs, reverse=True)
    inputs, outputs = inputs[bwd[inputs]], outputs[fwd[outputs]]
    return net, {"inputs": inputs, "outputs": outputs}


def draw_feasible(
    seed: int, n_range: tuple[int, int], m_range: tuple[int, int]
) -> tuple[Network, dict]:
    rng = np.random.default_rng(seed)
    while True:
        net, case = signed_cyclic_prior(
            rng, int(rng.integers(*n_range)), int(rng.integers(*m_range))
        )
        if len(case["inputs"]) and len(case["outputs"]):
            return net, case


def solve(net: Network, case: dict, formulation: str, objective: str) -> PruneResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return prune(
            net, case["inputs"], case["outputs"], objective=objective, formulation=formulation
        )


@pytest.mark.parametrize("seed", range(N_SMALL))
def test_auto_matches_brute_force_on_small_signed_cyclic_priors(seed: int) -> None:
    net, case = draw_feasible(seed, (4, 8), (3, 10))
    for objective in ("min_edges", "min_nodes"):
        edge_cost = np.ones(net.n_edges) if objective == "min_edges" else np.zeros(net.n_edges)
        node_cost = np.zeros(net.n_nodes) if objective == "min_edges" else np.ones(net.n_nodes)
        expected = brute_force(
            net.n_nodes,
            net.src,
            net.dst,
            case["inputs"],
            case["outputs"],
            np.zeros(0, np.int64),
            edge_cost,
            node_cost,
        )
        auto = solve(net, case, "auto", objective).report
        assert auto.status == "optimal"
        assert auto.objective == pytest.approx(expected)
        assert auto.objective == pytest.approx(solve(net, case, "flow", objective).report.objective)
        assert auto.acyclic
        cyclic = auto.cycles.components > 0
        assert auto.formulation == ("ordered_arborescence" if cyclic else "arborescence")


@pytest.mark.parametrize("seed", range(N_LARGER))
def test_auto_matches_flow_on_larger_signed_cyclic_priors(seed: int) -> None:
    net, case = draw_feasible(1_000 + seed, (30, 60), (60, 180))
    for objective in ("min_edges", "min_nodes"):
        auto = solve(net, case, "auto", objective).report
        flow = solve(net, case, "flow", objective).report
        assert auto.status == flow.status == "optimal"
        assert auto.objective == pytest.approx(flow.objective), objective


def min_edges_task(net: Network, inputs: np.ndarray, outputs: np.ndarray) -> PruneTask:
    return make_task(
        net,
        inputs,
        outputs,
        objective="min_edges",
        required=(),
        edge_weights=None,
        node_weights=None,
    )


def choice_of(net: Network, inputs: list[str], outputs: list[str]) -> PruneReport:
    result = prune(net, net.index_of(inputs), net.index_of(outputs))
    return result.report


def test_cycles_off_every_path_leave_the_arborescence() -> None:
    # b <-> c hangs off the only path a -> o: presolve drops it, the prior left is a DAG.
    net = Network.from_edges(["a", "b", "c", "b"], ["o", "c", "b", "o"])
    report = choice_of(net, ["a"], ["o"])
    assert report.formulation == "arborescence" and report.formulation_requested == "auto"
    assert report.cycles.components == 0 and "acyclic" in report.formulation_reason


def test_cycle_structure_counts_components_after_presolve() -> None:
    # Two cycles on input -> output paths: p <-> q and r -> s -> t -> r.
    pairs = "a>p p>q q>p q>o a>r r>s s>t t>r t>o"
    src, dst = zip(*(e.split(">") for e in pairs.split()), strict=True)
    net = Network.from_edges(list(src), list(dst))
    task = min_edges_task(net, net.index_of(["a"]), net.index_of(["o"]))
    cycles = cycle_structure(task, presolve(task, Budget(60.0)))
    assert (cycles.components, cycles.largest, cycles.nodes, cycles.edges) == (2, 3, 5, 5)
    report = choice_of(net, ["a"], ["o"])
    assert report.formulation == "ordered_arborescence" and report.potentials
    assert report.cycles == cycles
    assert "2 cyclic strongly connected component(s) (largest 3 nodes" in report.formulation_reason


def test_named_formulation_is_kept_and_reported() -> None:
    net = Network.from_edges(["a", "b", "c", "b"], ["b", "c", "b", "o"])
    report = prune(net, net.index_of(["a"]), net.index_of(["o"]), formulation="flow").report
    assert report.formulation == report.formulation_requested == "flow"
    assert report.formulation_reason == "asked for by name"


DOROTHEA = Path(__file__).resolve().parents[1] / "data" / "dorothea_hs_ab.tsv"
DOROTHEA_OUTPUTS = ["HIF1A", "MYC", "NFKB1", "STAT1", "TP53"]


def test_auto_picks_the_smaller_exact_form_on_dorothea() -> None:
    """DoRothEA A+B (cyclic): auto emits ordered_arborescence, proves the optimum that the flow
    form proves (2683, test_prune.py) with a smaller MILP than the flow form's."""
    edges = pd.read_csv(DOROTHEA, sep="\t")
    net = Network.from_edges(edges["target"].to_numpy(), edges["tf"].to_numpy())
    leaves = np.flatnonzero(net.in_degree() == 0)
    net, _ = clean_network(net, leaves, net.index_of(DOROTHEA_OUTPUTS))
    inputs = np.flatnonzero(net.in_degree() == 0)
    outputs = net.index_of(DOROTHEA_OUTPUTS)
    report = prune(net, inputs, outputs).report
    assert report.formulation == "ordered_arborescence" and report.status == "optimal"
    assert report.objective == 2683 and report.cycles.components >= 1
    task = min_edges_task(net, inputs, outputs)
    flow = build_flow(task, presolve(task, Budget(60.0)), potentials=False).size
    assert report.size_after.rows < flow.rows and report.size_after.cols < flow.cols
