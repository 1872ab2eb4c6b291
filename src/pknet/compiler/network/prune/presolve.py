"""The pruning task and the presolve that shrinks it before any MILP is built.

Presolve keeps only edges that some feasible, minimal solution can use:

1. self-loops and all but the cheapest copy of a duplicate edge go;
2. nodes not on any required-input → required-output path go (forward reachability from the
   inputs ∩ backward reachability from the outputs), with their edges;
3. to a fixpoint: a kept node that must reach an output (every kept non-output node does) and
   has a single out-edge left keeps that edge, and its head is kept; symmetrically a kept
   non-input node with a single in-edge keeps it, and its tail is kept.

Step 3 is valid because an optimal solution exists in which every kept edge lies on an
input → output path, so each kept node has a kept out-edge (unless it is an output) and a kept
in-edge (unless it is an input).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pknet.compiler.network.network import Network
from pknet.compiler.network.prune.budget import Budget
from pknet.compiler.network.prune.report import PresolveReport
from pknet.errors import InfeasiblePruningError, Problem

DROPPED, FREE, FIXED = -1, 0, 1

MSG_UNREACHABLE = (
    "the pruning problem is infeasible: {count} {what} {verb} {names}; no sub-network can keep "
    "every required input connected to an output"
)
HINT_UNREACHABLE = (
    "drop these nodes from the inputs/outputs/required nodes, or add the missing edges to the prior"
)
SHOWN_NAMES = 30


@dataclass(frozen=True, eq=False)
class PruneTask:
    """A network, its required node sets (boolean masks) and the objective's costs."""

    net: Network
    is_input: np.ndarray
    is_output: np.ndarray
    is_required: np.ndarray
    edge_cost: np.ndarray
    node_cost: np.ndarray

    @property
    def is_terminal(self) -> np.ndarray:
        """Nodes that every solution keeps: inputs, outputs and extra required nodes."""
        return self.is_input | self.is_output | self.is_required


@dataclass(frozen=True, eq=False)
class Presolved:
    """Per-edge and per-node states (`DROPPED`, `FREE`, `FIXED`) after presolve."""

    edge_state: np.ndarray
    node_state: np.ndarray
    report: PresolveReport

    def active_edges(self) -> np.ndarray:
        return self.edge_state != DROPPED


def _name_list(names: np.ndarray) -> str:
    shown = ", ".join(str(n) for n in names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return shown + (f" … and {more} more" if more > 0 else "")


def unreachable_problems(
    task: PruneTask, forward: np.ndarray, backward: np.ndarray
) -> list[Problem]:
    """One `Problem` per kind of required node off every path (`forward`/`backward`: reach)."""
    names = np.asarray(task.net.nodes, dtype=object)
    checks = (
        (task.is_input & ~backward, "required inputs", "cannot reach any output:"),
        (task.is_output & ~forward, "required outputs", "are not reachable from any input:"),
        (
            task.is_required & ~(forward & backward),
            "required nodes",
            "are on no input→output path:",
        ),
    )
    return [
        Problem(
            MSG_UNREACHABLE.format(
                count=int(bad.sum()), what=what, verb=verb, names=_name_list(names[bad])
            ),
            path="prune",
            hint=HINT_UNREACHABLE,
        )
        for bad, what, verb in checks
        if bad.any()
    ]


def unreduced(task: PruneTask) -> Presolved:
    """The trivial presolve: every edge free, only the required nodes fixed."""
    net = task.net
    node_state = np.where(task.is_terminal, FIXED, FREE).astype(np.int8)
    empty = PresolveReport(0, 0, 0, 0, 0, 0, 0)
    return Presolved(np.full(net.n_edges, FREE, np.int8), node_state, empty)


def presolve(task: PruneTask, budget: Budget) -> Presolved:
    """Apply the reductions in the module docstring; raise when a required node is cut off or
    `budget` runs out."""
    net = task.net
    src, dst = net.src, net.dst
    active = src != dst
    n_loops = int((~active).sum())

    idx = np.flatnonzero(active)
    order = idx[np.lexsort((idx, task.edge_cost[idx], dst[idx], src[idx]))]
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = (src[order][1:] == src[order][:-1]) & (dst[order][1:] == dst[order][:-1])
    active[order[repeat]] = False
    n_dups = int(repeat.sum())

    forward = net.reachable(np.flatnonzero(task.is_input), edge_mask=active)
    backward = net.reachable(np.flatnonzero(task.is_output), reverse=True, edge_mask=active)
    problems = unreachable_problems(task, forward, backward)
    if problems:
        raise InfeasiblePruningError(problems)
    on_path = forward & backward
    n_before = int(active.sum())
    active &= on_path[src] & on_path[dst]
    n_dropped_edges = n_before - int(active.sum())

    node_state = np.where(on_path, FREE, DROPPED).astype(np.int8)
    node_state[task.is_terminal] = FIXED
    out_degree = np.bincount(src[active], minlength=net.n_nodes)
    in_degree = np.bincount(dst[active], minlength=net.n_nodes)
    forced = np.zeros(net.n_edges, dtype=bool)
    rounds = 0
    while True:
        budget.check()
        kept = node_state == FIXED
        single_out = kept & ~task.is_output & (out_degree == 1)
        single_in = kept & ~task.is_input & (in_degree == 1)
        new = active & ~forced & (single_out[src] | single_in[dst])
        if not new.any():
            break
        forced |= new
        node_state[src[new]] = FIXED
        node_state[dst[new]] = FIXED
        rounds += 1

    edge_state = np.where(active, FREE, DROPPED).astype(np.int8)
    edge_state[forced] = FIXED
    report = PresolveReport(
        self_loops=n_loops,
        duplicate_edges=n_dups,
        dropped_nodes=int((~on_path).sum()),
        dropped_edges=n_dropped_edges,
        forced_edges=int(forced.sum()),
        fixed_nodes=int(((node_state == FIXED) & ~task.is_terminal).sum()),
        rounds=rounds,
    )
    return Presolved(edge_state, node_state, report)
