"""Graphs over samples or network nodes, as edge index arrays (never a dense n x n matrix).

Convention: edge `e` carries a message from `senders[e]` to `receivers[e]` with weight
`weights[e]`; as an adjacency matrix, `A[receivers[e], senders[e]] = weights[e]` (column = source).
Graphs built from points (kNN, cosine threshold) have unit weights and no self-loops.

`fold_knn_graph` and `fold_cosine_graph` build graphs that are safe inside one cross-validation
fold: training rows are linked among themselves only, and every other row receives edges from
training rows only, so a held-out row never influences a training row nor another held-out row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse
from scipy.spatial import cKDTree

Metric = Literal["euclidean", "cosine"]
METRICS: tuple[Metric, ...] = ("euclidean", "cosine")


@dataclass(frozen=True, eq=False)
class Graph:
    """A weighted directed graph on `n_nodes` nodes: edge `e` is `senders[e] -> receivers[e]`."""

    n_nodes: int
    senders: np.ndarray  # (n_edges,) int64
    receivers: np.ndarray  # (n_edges,) int64
    weights: np.ndarray  # (n_edges,) float64

    @property
    def n_edges(self) -> int:
        return len(self.senders)


def graph_from_edges(
    n_nodes: int,
    senders: np.ndarray,
    receivers: np.ndarray,
    weights: np.ndarray | None = None,
) -> Graph:
    """A checked `Graph` from edge lists (e.g. a network's edges); weights default to 1."""
    senders = np.asarray(senders, dtype=np.int64).reshape(-1)
    receivers = np.asarray(receivers, dtype=np.int64).reshape(-1)
    weights = (
        np.ones(len(senders)) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    )
    if not len(senders) == len(receivers) == len(weights):
        raise ValueError(
            f"senders, receivers and weights must have one entry per edge; got lengths "
            f"{len(senders)}, {len(receivers)} and {len(weights)}"
        )
    for label, nodes in (("senders", senders), ("receivers", receivers)):
        if np.any((nodes < 0) | (nodes >= n_nodes)):
            raise ValueError(f"{label} must be node indices in [0, {n_nodes})")
    if not np.all(np.isfinite(weights)):
        raise ValueError("edge weights must be finite")
    return Graph(n_nodes, senders, receivers, weights)


def adjacency(graph: Graph) -> scipy.sparse.csc_array:
    """Sparse `A` with `A[i, j]` the summed weight of the edges `j -> i`."""
    shape = (graph.n_nodes, graph.n_nodes)
    return scipy.sparse.csc_array((graph.weights, (graph.receivers, graph.senders)), shape=shape)


def symmetrize(graph: Graph) -> Graph:
    """Every edge in both directions, each ordered pair once; a pair given twice keeps the larger
    weight."""
    senders = np.concatenate([graph.senders, graph.receivers])
    receivers = np.concatenate([graph.receivers, graph.senders])
    weights = np.concatenate([graph.weights, graph.weights])
    pair = receivers * graph.n_nodes + senders
    order = np.lexsort((-weights, pair))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair[order][1:] != pair[order][:-1]
    keep = order[first]
    return Graph(graph.n_nodes, senders[keep], receivers[keep], weights[keep])


def _metric_points(points: np.ndarray, metric: Metric) -> np.ndarray:
    """Points in the space where Euclidean distance ranks like `metric`."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric `{metric}`; use one of {list(METRICS)}")
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError(f"points must be a (rows, features) array; got shape {points.shape}")
    if metric == "euclidean":
        return points
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if len(zero):
        raise ValueError(
            f"the cosine metric is undefined for all-zero rows (0-based rows "
            f"{zero[:5].tolist()}{' ...' if len(zero) > 5 else ''})"
        )
    return points / norms


def _check_k(k: int, n_candidates: int, candidates: str) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    if k >= n_candidates:
        raise ValueError(
            f"k = {k} neighbours need more than k {candidates}; there are only {n_candidates}. "
            f"Use k <= {n_candidates - 1}"
        )


def _knn_among(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(senders, receivers): each row receives an edge from each of its k nearest other rows."""
    n = len(points)
    _, neighbours = cKDTree(points).query(points, k=k + 1)
    neighbours = neighbours.reshape(n, k + 1)
    # Row i is usually its own first neighbour, but with duplicate points it may come later or
    # not at all: drop it where it appears, else drop the (k+1)-th neighbour.
    other = neighbours != np.arange(n)[:, None]
    keep = other & (np.cumsum(other, axis=1) <= k)
    return neighbours[keep], np.repeat(np.arange(n), k)


def knn_graph(points: np.ndarray, k: int, metric: Metric = "euclidean") -> Graph:
    """Each row receives unit-weight edges from its `k` nearest other rows (cosine: Euclidean on
    L2-normalised rows, the same ranking)."""
    points = _metric_points(points, metric)
    _check_k(k, len(points), "rows")
    senders, receivers = _knn_among(points, k)
    return Graph(len(points), senders, receivers, np.ones(len(senders)))


def _cosine_radius(threshold: float) -> float:
    """The Euclidean radius between unit vectors whose cosine similarity is `threshold`."""
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"a cosine threshold lies in [-1, 1]; got {threshold}")
    # For unit vectors ||u - v||^2 = 2 - 2 cos(u, v).
    return float(np.sqrt(max(2.0 - 2.0 * threshold, 0.0)))


def cosine_threshold_graph(points: np.ndarray, threshold: float) -> Graph:
    """Unit-weight edges both ways between distinct rows whose cosine similarity is >= threshold."""
    radius = _cosine_radius(threshold)
    points = _metric_points(points, "cosine")
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray").reshape(-1, 2)
    senders = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(np.int64)
    receivers = np.concatenate([pairs[:, 1], pairs[:, 0]]).astype(np.int64)
    return Graph(len(points), senders, receivers, np.ones(len(senders)))


def _checked_rows(train_rows: np.ndarray, n: int) -> np.ndarray:
    train_rows = np.asarray(train_rows, dtype=np.int64).reshape(-1)
    if np.any((train_rows < 0) | (train_rows >= n)) or len(np.unique(train_rows)) < len(train_rows):
        raise ValueError(f"train_rows must be distinct row indices in [0, {n})")
    return train_rows


def fold_knn_graph(
    points: np.ndarray, train_rows: np.ndarray, k: int, metric: Metric = "euclidean"
) -> Graph:
    """A kNN graph safe for one fold: training rows receive edges from their `k` nearest other
    training rows; every other row receives edges from its `k` nearest training rows only."""
    points = _metric_points(points, metric)
    n = len(points)
    train_rows = _checked_rows(train_rows, n)
    _check_k(k, len(train_rows), "training rows")
    senders, receivers = _knn_among(points[train_rows], k)
    held_out = np.setdiff1d(np.arange(n), train_rows)
    _, nearest = cKDTree(points[train_rows]).query(points[held_out], k=k)
    senders = np.concatenate([train_rows[senders], train_rows[nearest.reshape(-1)]])
    receivers = np.concatenate([train_rows[receivers], np.repeat(held_out, k)])
    return Graph(n, senders, receivers, np.ones(len(senders)))


def fold_cosine_graph(points: np.ndarray, train_rows: np.ndarray, threshold: float) -> Graph:
    """A cosine-threshold graph safe for one fold: edges both ways between training rows, and
    from training rows into every other row, wherever the cosine similarity is >= threshold."""
    radius = _cosine_radius(threshold)
    points = _metric_points(points, "cosine")
    n = len(points)
    train_rows = _checked_rows(train_rows, n)
    among = cosine_threshold_graph(points[train_rows], threshold)
    held_out = np.setdiff1d(np.arange(n), train_rows)
    near = cKDTree(points[train_rows]).query_ball_point(points[held_out], radius)
    counts = np.fromiter((len(found) for found in near), dtype=np.int64, count=len(held_out))
    nearest = np.fromiter((j for found in near for j in found), dtype=np.int64, count=counts.sum())
    senders = np.concatenate([train_rows[among.senders], train_rows[nearest]])
    receivers = np.concatenate([train_rows[among.receivers], np.repeat(held_out, counts)])
    return Graph(n, senders, receivers, np.ones(len(senders)))
