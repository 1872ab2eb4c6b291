"""Directed Steiner arborescence form, valid only on an acyclic (presolved) prior.

Binary y_v (node kept) and x_e (edge kept). A kept edge joins kept nodes; every kept node that is
not an output keeps an out-edge and every kept node that is not an input keeps an in-edge. On a
DAG these local rules mean every kept node lies on an input → output path, which is the whole
feasibility condition, and some optimal solution satisfies them (drop the edges on no path).

Where a single out-edge per node suffices the `≥ y_v` rows tighten to `= y_v`: with exactly one
output and no extra required node, every optimum contains an in-arborescence rooted at the
output (`tree_out`); symmetrically with one input (`tree_in`). With several outputs a node may
need two out-edges (input → v → o1, v → o2), so the equality would be wrong there.

On a prior with cycles the local rows alone would let a kept cycle justify itself; the
`ordered_arborescence` variant adds node-order potentials inside each cyclic strongly connected
component (`formulation.potential_rows`), so the kept sub-network is acyclic and the DAG argument
applies again. It is exact on any prior, smaller than the flow form, and what `auto` picks on a
cyclic prior (`choice.py`).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from pknet.compiler.network.prune.formulation import Columns, Formulation, potential_rows
from pknet.compiler.network.prune.presolve import Presolved, PruneTask


def build_arborescence(
    task: PruneTask, pre: Presolved, *, tree_out: bool, tree_in: bool, potentials: bool = False
) -> Formulation:
    """Emit the arborescence MILP; `potentials` adds node-order rows for a cyclic prior."""
    net = task.net
    cols = Columns.build(task, pre)
    tails = net.src[cols.free_edges]
    heads = net.dst[cols.free_edges]
    implied = np.stack([tree_out & ~task.is_output[tails], tree_in & ~task.is_input[heads]])
    constraints = cols.links(task, pre, implied)

    constraints += cols.degree_rows(task, pre, tree_out=tree_out, tree_in=tree_in)
    if potentials:
        constraints += potential_rows(task, pre, cols)
    problem = cp.Problem(cp.Minimize(cols.objective(task, pre)), constraints)
    name = "ordered_arborescence" if potentials else "arborescence"
    return Formulation(name, problem, cols, potentials=potentials)
