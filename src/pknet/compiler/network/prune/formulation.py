"""What both MILP formulations share: edge/node columns, incidence matrices, the objective.

Only FREE edges and nodes become binary columns; FIXED ones enter rows as constants, DROPPED ones
not at all. Every constraint block is one vectorised `cvxpy` expression built from
`scipy.sparse` matrices.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from pknet.compiler.network.prune.presolve import DROPPED, FIXED, FREE, Presolved, PruneTask
from pknet.compiler.network.prune.report import ModelSize


def selector(rows: np.ndarray, n_cols: int) -> sp.csr_array:
    """Sparse (len(rows) x n_cols) matrix with a 1 at (k, rows[k])."""
    k = np.arange(len(rows))
    return sp.csr_array((np.ones(len(rows)), (k, rows)), shape=(len(rows), n_cols))


def incidence(ends: np.ndarray, n_nodes: int) -> sp.csr_array:
    """Sparse (n_nodes x len(ends)) matrix with a 1 at (ends[k], k)."""
    k = np.arange(len(ends))
    return sp.csr_array((np.ones(len(ends)), (ends, k)), shape=(n_nodes, len(ends)))


def linear(*terms: tuple[sp.csr_array, cp.Variable | None]) -> cp.Expression | float:
    """Σ M @ v over the terms whose variable exists (columns of size 0 are never created)."""
    parts = [m @ v for m, v in terms if v is not None]
    return reduce(operator.add, parts) if parts else 0.0


def variable(size: int, name: str, **kwargs: object) -> cp.Variable | None:
    return cp.Variable(size, name=name, **kwargs) if size else None


@dataclass(frozen=True, eq=False)
class Columns:
    """Binary x over free edges and y over free nodes, with the matrices that index them."""

    free_edges: np.ndarray
    free_nodes: np.ndarray
    x: cp.Variable | None
    y: cp.Variable | None
    out_x: sp.csr_array  # node x free edge: 1 where the edge leaves the node
    in_x: sp.csr_array  # node x free edge: 1 where the edge enters the node
    y_of: sp.csr_array  # node x free node: selects y_v
    kept: np.ndarray  # 1.0 for FIXED nodes
    forced_out: np.ndarray  # number of forced out-edges per node
    forced_in: np.ndarray

    @classmethod
    def build(cls, task: PruneTask, pre: Presolved) -> Columns:
        net = task.net
        free_edges = np.flatnonzero(pre.edge_state == FREE)
        free_nodes = np.flatnonzero(pre.node_state == FREE)
        forced = pre.edge_state == FIXED
        return cls(
            free_edges=free_edges,
            free_nodes=free_nodes,
            x=variable(len(free_edges), "x", boolean=True),
            y=variable(len(free_nodes), "y", boolean=True),
            out_x=incidence(net.src[free_edges], net.n_nodes),
            in_x=incidence(net.dst[free_edges], net.n_nodes),
            y_of=selector(free_nodes, net.n_nodes).T.tocsr(),
            kept=(pre.node_state == FIXED).astype(np.float64),
            forced_out=np.bincount(net.src[forced], minlength=net.n_nodes),
            forced_in=np.bincount(net.dst[forced], minlength=net.n_nodes),
        )

    def links(self, task: PruneTask, pre: Presolved, skip: np.ndarray) -> list[cp.Constraint]:
        """x_e ≤ y_u for both ends u of every free edge whose end is a free node.

        `skip` is a (2, n_free_edges) mask of links implied elsewhere (tail, head).
        """
        if self.x is None or self.y is None:
            return []
        out = []
        for k, ends in enumerate((task.net.src, task.net.dst)):
            end = ends[self.free_edges]
            rows = np.flatnonzero((pre.node_state[end] == FREE) & ~skip[k])
            if len(rows):
                x_sel = selector(rows, len(self.free_edges))
                out.append(x_sel @ self.x <= (self.y_of[end[rows]] @ self.y))
        return out

    def degree_rows(
        self, task: PruneTask, pre: Presolved, *, tree_out: bool, tree_in: bool
    ) -> list[cp.Constraint]:
        """Kept non-output nodes keep an out-edge, kept non-input nodes an in-edge.

        `tree_out` / `tree_in` turn the `≥ y_v` rows into `= y_v` (exactly one such edge).
        Rows without a variable, or already met by a forced edge, are left out.
        """
        free_node = pre.node_state == FREE
        out = []
        blocks = (
            (self.out_x, self.forced_out, task.is_output, tree_out),
            (self.in_x, self.forced_in, task.is_input, tree_in),
        )
        for incid, forced, exempt, tree in blocks:
            has_var = (incid.sum(axis=1) > 0) | free_node
            needed = has_var if tree else has_var & (forced == 0)
            rows = np.flatnonzero(active_nodes(pre) & ~exempt & needed)
            if not len(rows):
                continue
            lhs = linear((incid[rows], self.x)) + forced[rows]
            rhs = linear((self.y_of[rows], self.y)) + self.kept[rows]
            out.append(lhs == rhs if tree else lhs >= rhs)
        return out

    def objective(self, task: PruneTask, pre: Presolved) -> cp.Expression | float:
        """Σ edge cost · x + Σ node cost · y + the cost of everything presolve fixed."""
        constant = task.edge_cost[pre.edge_state == FIXED].sum()
        constant += task.node_cost[pre.node_state == FIXED].sum()
        terms = []
        if self.x is not None and task.edge_cost[self.free_edges].any():
            terms.append(task.edge_cost[self.free_edges] @ self.x)
        if self.y is not None and task.node_cost[self.free_nodes].any():
            terms.append(task.node_cost[self.free_nodes] @ self.y)
        return reduce(operator.add, terms) + constant if terms else float(constant)


def active_nodes(pre: Presolved) -> np.ndarray:
    return pre.node_state != DROPPED


@dataclass(frozen=True, eq=False)
class Formulation:
    """An emitted MILP and how to read a sub-network back from its solution."""

    name: str
    problem: cp.Problem
    columns: Columns
    potentials: bool

    @property
    def size(self) -> ModelSize:
        variables = self.problem.variables()
        return ModelSize(
            rows=sum(c.size for c in self.problem.constraints),
            cols=sum(v.size for v in variables),
            binaries=sum(v.size for v in variables if v.attributes["boolean"]),
        )

    def kept_edges(self, pre: Presolved) -> np.ndarray:
        """Edge mask of the solution: forced edges plus free edges with x = 1.

        A column that no row or cost mentions is not part of the problem and stays unset (0).
        """
        keep = pre.edge_state == FIXED
        if self.columns.x is not None and self.columns.x.value is not None:
            keep[self.columns.free_edges[self.columns.x.value > 0.5]] = True
        return keep


def cyclic_components(task: PruneTask, pre: Presolved) -> tuple[np.ndarray, np.ndarray]:
    """Per node: its strongly connected component label in the active graph, and the
    component's size where it is > 1 (else 0)."""
    net = task.net
    active = pre.active_edges()
    adjacency = incidence(net.src[active], net.n_nodes) @ incidence(net.dst[active], net.n_nodes).T
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    sizes = np.bincount(labels)[labels]
    return labels, np.where(sizes > 1, sizes, 0)


def potential_rows(task: PruneTask, pre: Presolved, cols: Columns) -> list[cp.Constraint]:
    """Node-order potentials that forbid kept cycles.

    p_v ∈ [0, |C| − 1] for the nodes of each cyclic strongly connected component C and, for every
    edge inside C, p_head − p_tail ≥ 1 − |C|·(1 − x_e) (≥ 1 for a forced edge): |C| is the
    smallest big-M that is always slack when x_e = 0. Edges between components cannot close a
    cycle and get no row.
    """
    net = task.net
    forced_edges = np.flatnonzero(pre.edge_state == FIXED)
    labels, size = cyclic_components(task, pre)
    ordered = np.flatnonzero(size > 0)
    if not len(ordered):
        return []
    position = np.full(net.n_nodes, -1)
    position[ordered] = np.arange(len(ordered))
    p = cp.Variable(len(ordered), name="p", bounds=[0, size[ordered] - 1])
    out = []
    for edges, x in ((cols.free_edges, cols.x), (forced_edges, None)):
        tail, head = net.src[edges], net.dst[edges]
        inside = np.flatnonzero((size[tail] > 0) & (labels[tail] == labels[head]))
        if not len(inside):
            continue
        diff = selector(position[head[inside]], len(ordered)) - selector(
            position[tail[inside]], len(ordered)
        )
        if x is None:
            out.append(diff @ p >= 1)
        else:
            big_m = size[tail[inside]]
            kept = selector(inside, len(edges)) @ x
            out.append(diff @ p >= 1 - big_m + cp.multiply(big_m, kept))
    return out
