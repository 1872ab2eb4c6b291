"""Map a solver solution back to a minimal acyclic set of needed edges.

Where edges cost nothing (`min_nodes`, zero weights) the solver may keep edges that no
requirement needs, and without ordering constraints those could close a cycle. From any feasible
edge set S this keeps a subset H ⊆ S that is still feasible and acyclic whenever S is acyclic or
has no extra required node:

1. every node that must reach an output follows its next hop on a shortest path to the outputs
   in S (hop counts strictly decrease, so these edges form an in-forest);
2. every output or required node not yet reached from an input gets a shortest path in S from the
   nodes already reached; such a path's inner nodes were unreached, so they had no edges in H
   and cannot close a cycle.

With non-negative costs H costs no more than S, so an optimal S with positive costs is kept whole.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from pknet.compiler.network.prune.presolve import PruneTask


def _bfs_parents(n: int, tail: np.ndarray, head: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """BFS tree from all `starts` at once: parent of each node (`n` for starts, < 0 unreached)."""
    rows = np.concatenate([tail, np.full(len(starts), n)])
    cols = np.concatenate([head, starts])
    graph = sp.csr_array((np.ones(len(rows), np.int8), (rows, cols)), shape=(n + 1, n + 1))
    _, parents = breadth_first_order(graph, n, directed=True, return_predecessors=True)
    return parents[:n]


def _walk(
    parents: np.ndarray, starts: np.ndarray, stop: np.ndarray, edge_id: sp.csr_array, reverse: bool
) -> np.ndarray:
    """Edge ids along parent pointers from `starts` until a node in `stop` (vectorised by depth)."""
    seen = stop.copy()
    frontier = np.unique(starts[~stop[starts]])
    found = []
    while len(frontier):
        frontier = frontier[parents[frontier] >= 0]  # unreachable: left to the caller's check
        seen[frontier] = True
        nxt = parents[frontier]
        ends = (frontier, nxt) if not reverse else (nxt, frontier)
        found.append(np.asarray(edge_id[ends[0], ends[1]]).ravel() - 1)
        frontier = np.unique(nxt[~seen[nxt]])
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def needed_edges(task: PruneTask, keep: np.ndarray) -> np.ndarray:
    """Edge mask H ⊆ `keep` built as in the module docstring."""
    net = task.net
    n = net.n_nodes
    idx = np.flatnonzero(keep)
    tail, head = net.src[idx], net.dst[idx]
    edge_id = sp.csr_array((idx + 1, (tail, head)), shape=(n, n))

    toward_output = _bfs_parents(n, head, tail, np.flatnonzero(task.is_output))
    must_leave = np.flatnonzero(task.is_input | task.is_required)
    chosen = _walk(toward_output, must_leave, task.is_output.copy(), edge_id, reverse=False)
    out = np.zeros(net.n_edges, dtype=bool)
    out[chosen] = True

    reached = net.reachable(np.flatnonzero(task.is_input), edge_mask=out)
    targets = np.flatnonzero((task.is_output | task.is_required) & ~reached)
    if len(targets):
        from_reached = _bfs_parents(n, tail, head, np.flatnonzero(reached))
        out[_walk(from_reached, targets, reached, edge_id, reverse=True)] = True
    return out
