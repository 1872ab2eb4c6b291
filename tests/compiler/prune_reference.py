"""Reference optimum of the pruning problem by enumerating every edge subset (small graphs)."""

from __future__ import annotations

import itertools

import numpy as np


def closure(adj: np.ndarray) -> np.ndarray:
    """Batched transitive closure (paths of length ≥ 1) of boolean adjacency (..., n, n)."""
    reach = adj.copy()
    for _ in range(int(np.ceil(np.log2(max(adj.shape[-1], 2)))) + 1):
        step = np.matmul(reach.astype(np.int32), reach.astype(np.int32)) > 0
        reach = reach | step
    return reach


def brute_force(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    inputs: np.ndarray,
    outputs: np.ndarray,
    required: np.ndarray,
    edge_cost: np.ndarray,
    node_cost: np.ndarray,
) -> float:
    """Optimum over all edge subsets (inf when none is feasible), by the definition in pipeline."""
    m = len(src)
    subsets = np.array(list(itertools.product([False, True], repeat=m)), dtype=bool)
    adj = np.zeros((len(subsets), n, n), dtype=bool)
    for e in range(m):
        adj[:, src[e], dst[e]] |= subsets[:, e]
    reach = closure(adj)
    acyclic = ~np.any(np.diagonal(reach, axis1=1, axis2=2), axis=1)
    is_in = np.isin(np.arange(n), inputs)
    is_out = np.isin(np.arange(n), outputs)
    reaches_out = reach[:, :, is_out].any(axis=2) | is_out  # (subset, node)
    from_in = reach[:, is_in, :].any(axis=1) | is_in
    ok = acyclic
    ok &= reaches_out[:, is_in].all(axis=1)
    ok &= from_in[:, is_out].all(axis=1)
    ok &= (reaches_out[:, required] & from_in[:, required]).all(axis=1)
    touched = np.zeros((len(subsets), n), dtype=bool)
    for e in range(m):
        touched[:, src[e]] |= subsets[:, e]
        touched[:, dst[e]] |= subsets[:, e]
    touched |= is_in | is_out | np.isin(np.arange(n), required)
    cost = subsets @ edge_cost + touched @ node_cost
    return float(cost[ok].min()) if ok.any() else np.inf
