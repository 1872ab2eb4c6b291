"""`prune`: hand-made cases, errors, report, MPS export and solver options."""

from __future__ import annotations

import json
from pathlib import Path

import cvxpy as cp
import highspy
import numpy as np
import pandas as pd
import pytest

from pknet.compiler.network.hygiene import clean_network
from pknet.compiler.network.network import Network
from pknet.compiler.network.prune import PruneResult, prune, write_mps
from pknet.errors import CompileError, InfeasiblePruningError, SolverError


def network(edges: str, extra: tuple[str, ...] = ()) -> Network:
    """Network from 'a>b b>c' shorthand."""
    pairs = [e.split(">") for e in edges.split()]
    return Network.from_edges([p[0] for p in pairs], [p[1] for p in pairs], extra_nodes=extra)


def run(net: Network, inputs: list[str], outputs: list[str], **kwargs) -> PruneResult:
    return prune(net, net.index_of(inputs), net.index_of(outputs), **kwargs)


def kept(result: PruneResult) -> set[tuple[str, str]]:
    frame = result.network.to_frame()
    return set(zip(frame["from"], frame["to"], strict=True))


@pytest.mark.parametrize("formulation", ["auto", "flow", "ordered_arborescence"])
def test_node_feeding_two_outputs_keeps_both_out_edges(formulation: str) -> None:
    # One out-edge per node (Σ_out x = y) would make this infeasible.
    net = network("a>v v>o1 v>o2 a>w w>o1")
    result = run(net, ["a"], ["o1", "o2"], formulation=formulation)
    assert result.report.objective == 3
    assert kept(result) == {("a", "v"), ("v", "o1"), ("v", "o2")}


def test_single_output_tree_picks_shared_parent() -> None:
    net = network("a>p b>p a>q b>r p>o q>o r>o")
    result = run(net, ["a", "b"], ["o"])
    assert result.report.formulation == "arborescence"
    assert result.report.objective == 3
    assert kept(result) == {("a", "p"), ("b", "p"), ("p", "o")}


def test_output_may_feed_another_output() -> None:
    net = network("a>o1 o1>o2")
    assert run(net, ["a"], ["o1", "o2"]).report.objective == 2


def test_required_node_is_kept_on_a_path() -> None:
    net = network("a>o a>r r>o")
    result = run(net, ["a"], ["o"], required=net.index_of(["r"]))
    assert kept(result) == {("a", "r"), ("r", "o")}


@pytest.mark.parametrize("formulation", ["auto", "flow", "ordered_arborescence"])
def test_required_node_only_on_a_cycle_is_infeasible(formulation: str) -> None:
    # t is reachable from a and reaches o only around the cycle p -> q -> t -> p.
    net = network("a>p p>q q>t t>p q>o")
    with pytest.raises(InfeasiblePruningError, match="no acyclic sub-network"):
        run(net, ["a"], ["o"], required=net.index_of(["t"]), formulation=formulation)


def test_cyclic_prior_gives_acyclic_result() -> None:
    net = network("a>b b>c c>b c>o b>o2 o2>c")
    for objective in ("min_edges", "min_nodes"):
        result = run(net, ["a"], ["o"], objective=objective)
        assert result.report.formulation == "ordered_arborescence"
        assert result.report.acyclic and result.network.is_acyclic()
        assert not result.report.prior_acyclic


def test_unreachable_inputs_are_named() -> None:
    net = network("a>o b>c d>o", extra=("e",))
    with pytest.raises(InfeasiblePruningError) as err:
        run(net, ["a", "b", "e", "d"], ["o"])
    message = str(err.value)
    assert "2 required inputs cannot reach any output: b, e;" in message


def test_unreached_output_is_named() -> None:
    net = network("a>o x>o2")
    with pytest.raises(InfeasiblePruningError, match="not reachable from any input: o2"):
        run(net, ["a"], ["o", "o2"])


def test_arborescence_on_cyclic_prior_is_an_error() -> None:
    net = network("a>b b>a b>o")
    with pytest.raises(CompileError, match="needs an acyclic prior"):
        run(net, ["a"], ["o"], formulation="arborescence")
    assert run(net, ["a"], ["o"], formulation="ordered_arborescence").report.objective == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"edge_weights": np.array([1.0, -1.0])}, "non-negative"),
        ({"edge_weights": np.array([1.0])}, "expected 2 weights"),
        ({"node_weights": np.ones(3)}, "need objective 'min_nodes'"),
        ({"objective": "max_flow"}, "unknown objective"),
        ({"formulation": "magic"}, "unknown formulation"),
        ({"required": [7]}, "out of range"),
    ],
)
def test_bad_options_are_compile_errors(kwargs: dict, match: str) -> None:
    net = network("a>b b>o")
    with pytest.raises(CompileError, match=match):
        run(net, ["a"], ["o"], **kwargs)


def test_weights_steer_the_choice() -> None:
    net = network("a>h a>k h>o k>o")  # edges sorted: a>h, a>k, h>o, k>o
    cheap_k = run(net, ["a"], ["o"], edge_weights=np.array([5.0, 1.0, 5.0, 1.0]))
    assert kept(cheap_k) == {("a", "k"), ("k", "o")}
    hub_penalty = np.array([0, 10, 0, 0], dtype=float)  # nodes a, h, k, o
    avoid_h = run(net, ["a"], ["o"], objective="min_nodes", node_weights=hub_penalty)
    assert kept(avoid_h) == {("a", "k"), ("k", "o")}
    assert avoid_h.report.objective == 0


def test_duplicates_and_self_loops_are_presolved() -> None:
    net = network("a>b a>b b>b b>o")
    result = run(net, ["a"], ["o"])
    assert result.report.presolve.duplicate_edges == 1
    assert result.report.presolve.self_loops == 1
    assert result.report.objective == 2
    assert result.edge_mask.sum() == 2


def test_report_is_json_and_sizes_shrink() -> None:
    net = network("a>p b>p a>q b>r p>o q>o r>o c>r")
    result = run(net, ["a", "b", "c"], ["o"], threads=1)
    data = json.loads(json.dumps(result.report.to_dict()))
    assert data["status"] == "optimal"
    assert data["size_after"]["binaries"] <= data["size_before"]["binaries"]
    assert data["presolve"]["forced_edges"] >= 1  # c has a single out-edge
    assert isinstance(result.problem, cp.Problem)


def test_write_mps_round_trips(tmp_path) -> None:
    net = network("a>p b>p a>q b>r p>o q>o r>o")
    result = run(net, ["a", "b"], ["o"])
    path = write_mps(result, tmp_path / "prune.mps")
    text = path.read_text()
    assert "COLUMNS" in text and "x(0)" in text
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.readModel(str(path))
    highs.run()
    assert highs.getInfo().objective_function_value == pytest.approx(result.report.objective)


def test_a_milp_presolve_decides_entirely_is_written_as_an_empty_model(tmp_path) -> None:
    # every edge is the only out-edge of its tail: all forced, no variable left to solve for
    result = run(network("a>p b>p c>q p>o q>o"), ["a", "b", "c"], ["o"])
    assert result.report.size_after.cols == 0
    path = write_mps(result, tmp_path / "prune.mps")
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.readModel(str(path))
    lp = highs.getLp()
    assert (lp.num_col_, lp.num_row_, lp.offset_) == (0, 0, result.report.objective)
    assert result.report.objective == 5


def test_missing_highs_is_a_solver_error(monkeypatch) -> None:
    monkeypatch.setattr(cp, "installed_solvers", lambda: ["SCS"])
    with pytest.raises(SolverError, match="HiGHS") as err:
        run(network("a>o"), ["a"], ["o"])
    assert "pip install highspy" in str(err.value)


DATA = Path(__file__).resolve().parents[2]
TCR = DATA / "examples" / "kpnn_tcr" / "data" / "TCR_Edgelist.csv"
DOROTHEA = DATA / "tests" / "data" / "dorothea_hs_ab.tsv"
DOROTHEA_OUTPUTS = ["HIF1A", "MYC", "NFKB1", "STAT1", "TP53"]


def dorothea() -> tuple[Network, np.ndarray, np.ndarray]:
    """DoRothEA A+B regulons as target gene -> TF (cyclic); target-only genes feed 5 hub TFs."""
    edges = pd.read_csv(DOROTHEA, sep="\t")
    net = Network.from_edges(edges["target"].to_numpy(), edges["tf"].to_numpy())
    leaves = np.flatnonzero(net.in_degree() == 0)
    outputs = net.index_of(DOROTHEA_OUTPUTS)
    cleaned, _ = clean_network(net, leaves, outputs)
    names = [n for n in np.asarray(net.nodes)[leaves] if cleaned.has_node(n)]
    return cleaned, cleaned.index_of(names), cleaned.index_of(DOROTHEA_OUTPUTS)


def test_tcr_network_prunes_to_13268_edges() -> None:
    edges = pd.read_csv(TCR)
    net = Network.from_edges(edges["child"].to_numpy(), edges["parent"].to_numpy())
    inputs = np.flatnonzero(net.in_degree() == 0)
    assert len(inputs) == 13_121
    result = prune(net, inputs, net.index_of(["TCR"]))
    report = result.report
    print(f"TCR prune: {report.seconds:.3f} s total, {report.solve_seconds:.3f} s in HiGHS")
    assert report.status == "optimal" and report.formulation == "arborescence"
    assert report.objective == 13_268 and report.gap == 0
    assert result.network.n_edges == 13_268
    assert report.size_after.binaries < report.size_before.binaries
    reach = net.reachable(net.index_of(["TCR"]), reverse=True, edge_mask=result.edge_mask)
    assert reach[inputs].all()


@pytest.mark.slow
def test_cyclic_dorothea_formulations_agree() -> None:
    net, inputs, outputs = dorothea()
    assert not net.is_acyclic()
    flow = prune(net, inputs, outputs, formulation="flow")
    ordered = prune(net, inputs, outputs)
    assert flow.report.formulation == "flow"
    assert ordered.report.formulation == "ordered_arborescence" and ordered.report.potentials
    assert flow.report.status == ordered.report.status == "optimal"
    assert flow.report.objective == ordered.report.objective == 2683
    assert flow.network.is_acyclic() and ordered.network.is_acyclic()


@pytest.mark.slow
def test_time_limit_keeps_a_feasible_solution_with_a_warning() -> None:
    net, inputs, outputs = dorothea()
    for limit in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2):  # the limit covers canonicalisation too
        try:
            with pytest.warns(RuntimeWarning, match="time limit") as record:
                result = prune(net, inputs, outputs, formulation="flow", time_limit_s=limit)
        except SolverError as err:  # stopped before any feasible point: a clear error
            assert err.problems[0].path == "prune.solver.time_limit_s"
            continue
        except pytest.fail.Exception:  # proved optimal within the limit: no warning
            continue
        report = result.report
        assert report.status == "time_limit" and report.gap > 0
        assert report.objective > report.best_bound
        assert report.warnings and str(record[0].message) == report.warnings[0]
        assert result.network.is_acyclic()
        return
    pytest.skip("no limit stopped HiGHS between a first feasible point and the optimum here")
