"""Single-commodity flow form, valid on any prior (cycles included).

A super-source feeds every required input and every required output feeds a super-sink; each of
these boundary edges carries between 1 and K units, and each extra required node receives at
least one unit. Flows are integer-scaled: f_e ≤ K·x_e with K = inputs + outputs + extra required
nodes, enough to route one unit per requirement along an acyclic solution. Positive flow out of an
input must end at an output and flow into an output starts at an input, so the kept edges meet the
requirements.

For inputs and outputs alone a minimal solution never needs a cycle (the pipeline checks the
result), so no ordering constraints are added. An extra required node, however, can be reachable
from an input and reach an output only around a cycle (a → p → q → t → p, q → o with t required);
then node-order potentials (`formulation.potential_rows`) forbid kept cycles.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from pknet.compiler.network.prune.formulation import (
    Columns,
    Formulation,
    active_nodes,
    incidence,
    linear,
    potential_rows,
    selector,
    variable,
)
from pknet.compiler.network.prune.presolve import FIXED, Presolved, PruneTask


def build_flow(task: PruneTask, pre: Presolved, *, potentials: bool) -> Formulation:
    """Emit the flow MILP; `potentials` adds the node-order rows."""
    net = task.net
    cols = Columns.build(task, pre)
    forced_edges = np.flatnonzero(pre.edge_state == FIXED)
    inputs = np.flatnonzero(task.is_input)
    outputs = np.flatnonzero(task.is_output)
    extra = np.flatnonzero(task.is_required & ~task.is_input & ~task.is_output)
    big_k = len(inputs) + len(outputs) + len(extra)

    f = variable(len(cols.free_edges), "f", bounds=[0, big_k])
    g = variable(len(forced_edges), "f_forced", bounds=[0, big_k])
    source = variable(len(inputs), "f_source", bounds=[1, big_k])
    sink = variable(len(outputs), "f_sink", bounds=[1, big_k])
    in_g = incidence(net.dst[forced_edges], net.n_nodes)
    out_g = incidence(net.src[forced_edges], net.n_nodes)
    feed = selector(inputs, net.n_nodes).T.tocsr()
    drain = selector(outputs, net.n_nodes).T.tocsr()

    constraints = cols.links(task, pre, np.zeros((2, len(cols.free_edges)), dtype=bool))
    if f is not None:
        constraints.append(f <= big_k * cols.x)
    rows = np.flatnonzero(active_nodes(pre))
    net_inflow = linear(
        ((cols.in_x - cols.out_x)[rows], f),
        ((in_g - out_g)[rows], g),
        (feed[rows], source),
        (-drain[rows], sink),
    )
    constraints.append(net_inflow == 0)
    if len(extra):
        constraints.append(linear((cols.in_x[extra], f), (in_g[extra], g)) >= 1)
    # The local rows of the arborescence hold for some optimum here too and tighten the LP.
    constraints += cols.degree_rows(task, pre, tree_out=False, tree_in=False)
    if potentials:
        constraints += potential_rows(task, pre, cols)

    problem = cp.Problem(cp.Minimize(cols.objective(task, pre)), constraints)
    return Formulation("flow", problem, cols, potentials=potentials)
