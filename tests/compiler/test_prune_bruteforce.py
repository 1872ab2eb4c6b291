"""`prune` against exhaustive enumeration of edge subsets on small random graphs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from prune_reference import brute_force

from pknet.compiler.network.network import Network
from pknet.compiler.network.prune import prune
from pknet.errors import InfeasiblePruningError

N_GRAPHS = 240


def draw_case(rng: np.random.Generator) -> dict:
    n = int(rng.integers(3, 8))
    m = int(rng.integers(2, 13))
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    if rng.random() < 0.5:  # a DAG: edges go from lower to higher index (self-loops dropped)
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        keep = lo != hi
        src, dst = lo[keep], hi[keep]
    if len(src) == 0:
        src, dst = np.array([0]), np.array([n - 1])
    nodes = rng.permutation(n)
    k_in = int(rng.integers(1, 3))
    k_out = int(rng.integers(1, 3))
    inputs = np.sort(nodes[:k_in])
    # outputs may overlap inputs now and then
    outputs = np.sort(nodes[k_in - int(rng.random() < 0.1) :][:k_out])
    required = np.sort(nodes[k_in + k_out :][: int(rng.random() < 0.4)])
    return {"n": n, "src": src, "dst": dst, "inputs": inputs, "outputs": outputs, "req": required}


def random_case(seed: int) -> dict:
    """A random case; redrawn until feasible except for every eighth seed."""
    rng = np.random.default_rng(seed)
    while True:
        case = draw_case(rng)
        if seed % 8 == 0:
            return case
        net = as_network(case)
        unit = brute_force(
            net.n_nodes,
            net.src,
            net.dst,
            case["inputs"],
            case["outputs"],
            case["req"],
            np.ones(net.n_edges),
            np.zeros(net.n_nodes),
        )
        if np.isfinite(unit):
            return case


def as_network(case: dict) -> Network:
    """Network over names n0..n{n-1} (sorted names keep the index order for n <= 10)."""
    names = np.array([f"n{i}" for i in range(case["n"])], dtype=object)
    return Network.from_edges(names[case["src"]], names[case["dst"]], extra_nodes=list(names))


def check_result(case: dict, result, net: Network) -> None:
    sub = result.network
    assert sub.is_acyclic()
    keep = result.edge_mask
    fwd = net.reachable(case["inputs"], edge_mask=keep)
    bwd = net.reachable(case["outputs"], reverse=True, edge_mask=keep)
    assert bwd[case["inputs"]].all()
    assert fwd[case["outputs"]].all()
    assert (fwd & bwd)[case["req"]].all()


CASES = [random_case(seed) for seed in range(N_GRAPHS)]


@pytest.mark.parametrize("seed", range(N_GRAPHS))
def test_matches_brute_force(seed: int) -> None:
    case = CASES[seed]
    net = as_network(case)
    rng = np.random.default_rng(10_000 + seed)
    src, dst = net.src, net.dst
    m, n = net.n_edges, net.n_nodes
    weights = rng.integers(0, 4, m).astype(float) if seed % 3 == 0 else None
    node_w = rng.integers(0, 4, n).astype(float) if seed % 4 == 0 else None
    variants = [
        ("min_edges", weights, None, weights if weights is not None else np.ones(m), np.zeros(n)),
        ("min_nodes", None, node_w, np.zeros(m), node_w if node_w is not None else np.ones(n)),
    ]
    for objective, ew, nw, edge_cost, node_cost in variants:
        expected = brute_force(
            n, src, dst, case["inputs"], case["outputs"], case["req"], edge_cost, node_cost
        )
        for formulation in ("auto", "flow", "ordered_arborescence"):
            kwargs = dict(
                objective=objective,
                required=case["req"],
                edge_weights=ew,
                node_weights=nw,
                formulation=formulation,
            )
            if not np.isfinite(expected):
                with pytest.raises(InfeasiblePruningError):
                    prune(net, case["inputs"], case["outputs"], **kwargs)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                result = prune(net, case["inputs"], case["outputs"], **kwargs)
            assert result.report.status == "optimal"
            assert result.report.objective == pytest.approx(expected), (formulation, objective)
            check_result(case, result, net)
