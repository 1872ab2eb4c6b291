"""`prune`: presolve → emit MILP → solve with HiGHS → map back to an acyclic sub-network.

`min_edges` (CORNETO's KPNN case): the cheapest edge subset whose sub-network is acyclic, in which
every required input reaches some required output and every required output is reached from some
required input; extra required nodes must be kept on an input → output path. `min_nodes` counts
(or weighs) kept nodes instead, under the same constraints.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import cvxpy as cp
import numpy as np

from pknet.compiler.network.network import Network
from pknet.compiler.network.prune.arborescence import build_arborescence
from pknet.compiler.network.prune.budget import Budget
from pknet.compiler.network.prune.choice import choose_formulation
from pknet.compiler.network.prune.extract import needed_edges
from pknet.compiler.network.prune.flow import build_flow
from pknet.compiler.network.prune.formulation import Formulation
from pknet.compiler.network.prune.presolve import (
    Presolved,
    PruneTask,
    presolve,
    unreachable_problems,
    unreduced,
)
from pknet.compiler.network.prune.report import PruneReport
from pknet.compiler.network.prune.solve import require_highs, solve
from pknet.errors import CompileError, InfeasiblePruningError, Problem, SolverError

Objective = Literal["min_edges", "min_nodes"]
FormulationName = Literal["auto", "arborescence", "ordered_arborescence", "flow"]
FORMULATIONS = ("auto", "arborescence", "ordered_arborescence", "flow")

MSG_NO_ACYCLIC = (
    "the pruning problem is infeasible: no acyclic sub-network puts every required node "
    "({names}) on an input→output path"
)
MSG_BAD_RESULT = "the solver's solution does not meet the pruning requirements: {detail}"


@dataclass(frozen=True, eq=False)
class PruneResult:
    """The pruned network, which edges of the input network it keeps, the report, the MILP."""

    network: Network
    edge_mask: np.ndarray
    report: PruneReport
    problem: cp.Problem


def _error(message: str, path: str, hint: str | None = None) -> CompileError:
    return CompileError(Problem(message, path=f"prune.{path}", hint=hint))


def _mask(net: Network, nodes: Sequence[int] | np.ndarray, path: str) -> np.ndarray:
    idx = np.asarray(nodes, dtype=np.int64).ravel()
    if len(idx) and (idx.min() < 0 or idx.max() >= net.n_nodes):
        raise _error(f"node index out of range 0..{net.n_nodes - 1}", path)
    mask = np.zeros(net.n_nodes, dtype=bool)
    mask[idx] = True
    return mask


def _costs(weights: np.ndarray | None, size: int, path: str) -> np.ndarray:
    if weights is None:
        return np.ones(size)
    costs = np.asarray(weights, dtype=np.float64)
    if costs.shape != (size,):
        raise _error(f"expected {size} weights, got shape {costs.shape}", path)
    if not np.all(np.isfinite(costs)) or np.any(costs < 0):
        raise _error(
            "weights must be finite and non-negative",
            path,
            hint="negative weights could make a cycle pay, which this pruning does not model",
        )
    return costs


def make_task(
    net: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    objective: Objective,
    required: Sequence[int] | np.ndarray,
    edge_weights: np.ndarray | None,
    node_weights: np.ndarray | None,
) -> PruneTask:
    """Validate the options and turn them into masks and per-edge/per-node costs."""
    is_input = _mask(net, inputs, "inputs")
    is_output = _mask(net, outputs, "outputs")
    if not is_input.any() or not is_output.any():
        raise _error("pruning needs at least one input and one output node", "inputs")
    if objective == "min_edges":
        if node_weights is not None:
            raise _error("node weights need objective 'min_nodes'", "node_weights")
        edge_cost = _costs(edge_weights, net.n_edges, "edge_weights")
        node_cost = np.zeros(net.n_nodes)
    elif objective == "min_nodes":
        if edge_weights is not None:
            raise _error("edge weights need objective 'min_edges'", "edge_weights")
        edge_cost = np.zeros(net.n_edges)
        node_cost = _costs(node_weights, net.n_nodes, "node_weights")
    else:
        raise _error(f"unknown objective {objective!r}", "objective", "use min_edges or min_nodes")
    is_required = _mask(net, required, "required")
    return PruneTask(net, is_input, is_output, is_required, edge_cost, node_cost)


def _build(task: PruneTask, pre: Presolved, name: str, potentials: bool) -> Formulation:
    extra = (task.is_required & ~task.is_input & ~task.is_output).any()
    if name in ("arborescence", "ordered_arborescence"):
        return build_arborescence(
            task,
            pre,
            tree_out=task.is_output.sum() == 1 and not extra,
            tree_in=task.is_input.sum() == 1 and not extra,
            potentials=potentials,
        )
    return build_flow(task, pre, potentials=potentials)


def prune(
    net: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    objective: Objective = "min_edges",
    required: Sequence[int] | np.ndarray = (),
    edge_weights: np.ndarray | None = None,
    node_weights: np.ndarray | None = None,
    formulation: FormulationName = "auto",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    threads: int | None = None,
    verbose: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> PruneResult:
    """Prune `net` to the cheapest acyclic sub-network meeting the requirements (module doc).

    `inputs`, `outputs`, `required` are node indices of `net`; weights are non-negative, one per
    edge (`min_edges`) or per node (`min_nodes`), 1 when not given. `formulation="auto"` picks the
    arborescence when the presolved prior is acyclic and `ordered_arborescence` (arborescence rows
    plus node-order potentials, exact on any prior) otherwise (`choice.py`); the report says which
    and why. `time_limit_s` (on `clock`) bounds the whole call: HiGHS gets what presolve,
    formulation and canonicalisation leave. Raises
    `InfeasiblePruningError` naming the nodes that cannot be connected and `SolverError` when
    HiGHS is missing or finds nothing, or when the time runs out before a feasible solution.
    """
    budget = Budget(time_limit_s, clock)
    if formulation not in FORMULATIONS:
        raise _error(
            f"unknown formulation {formulation!r}", "formulation", f"use one of {FORMULATIONS}"
        )
    require_highs()
    task = make_task(
        net,
        inputs,
        outputs,
        objective=objective,
        required=required,
        edge_weights=edge_weights,
        node_weights=node_weights,
    )
    with budget.stage("presolve"):
        pre = presolve(task, budget)
        choice = choose_formulation(formulation, task, pre)
    budget.check()
    name = choice.name
    prior_acyclic = not choice.cycles.components
    extra = task.is_required & ~task.is_input & ~task.is_output
    needs_order = name == "ordered_arborescence" or extra.any()
    potentials = bool(not prior_acyclic and needs_order)
    with budget.stage("formulation"):
        size_before = _build(task, unreduced(task), name, potentials).size
        form = _build(task, pre, name, potentials)
    budget.check()

    outcome = solve(
        form.problem,
        budget=budget,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        verbose=verbose,
    )
    for message in outcome.warnings:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    if outcome.status == "infeasible":
        names = np.asarray(net.nodes, dtype=object)[task.is_required]
        raise InfeasiblePruningError(
            Problem(MSG_NO_ACYCLIC.format(names=", ".join(names)), path="prune.required")
        )
    with budget.stage("extraction"):  # a feasible solution is in hand: no time check from here
        solver_edges = form.kept_edges(pre)
        keep = needed_edges(task, solver_edges)
        result_net = net.subnetwork(keep, keep_nodes=np.flatnonzero(task.is_terminal))
        _check(task, keep, result_net)

    report = PruneReport(
        formulation=form.name,
        formulation_requested=formulation,
        formulation_reason=choice.reason,
        cycles=choice.cycles,
        objective_kind=objective,
        potentials=form.potentials,
        status=outcome.status,
        objective=outcome.objective,
        best_bound=outcome.best_bound,
        gap=outcome.gap,
        stage_seconds=dict(budget.seconds),
        solve_seconds=outcome.seconds,
        seconds=clock() - budget.start,
        size_before=size_before,
        size_after=form.size,
        presolve=pre.report,
        prior_acyclic=prior_acyclic,
        n_nodes_kept=result_net.n_nodes,
        n_edges_kept=result_net.n_edges,
        trimmed_edges=int(solver_edges.sum() - keep.sum()),
        acyclic=result_net.is_acyclic(),
        warnings=outcome.warnings,
    )
    return PruneResult(result_net, keep, report, form.problem)


def _check(task: PruneTask, keep: np.ndarray, result: Network) -> None:
    """Re-verify the result with reachability; a failure means the solver answer was wrong."""
    net = task.net
    forward = net.reachable(np.flatnonzero(task.is_input), edge_mask=keep)
    backward = net.reachable(np.flatnonzero(task.is_output), reverse=True, edge_mask=keep)
    problems = unreachable_problems(task, forward, backward)
    detail = "; ".join(p.message for p in problems)
    if not result.is_acyclic():
        detail = "the kept sub-network has a cycle"
    if detail:
        raise SolverError(Problem(MSG_BAD_RESULT.format(detail=detail), path="prune"))
