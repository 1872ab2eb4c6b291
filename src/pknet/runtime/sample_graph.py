"""Per-fold sample graphs for `model.graph`: built from each fold's inputs, padded to one shape.

Fold k's graph is built on the inputs after fold k's statistics (optionally projected on
principal components fitted on fold k's training rows), with fold k's training rows as the
graph's training rows: they are linked among themselves only, and every other row (validation,
test) receives edges from training rows only. So a training row's prediction never depends on a
held-out row's features, and the folds' graphs differ only where their training rows do.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from pknet.compiler.model.graphs import Graph, fold_cosine_graph, fold_knn_graph
from pknet.compiler.model.run_plan import SampleGraphPlan
from pknet.errors import CompileError, Problem
from pknet.runtime.transforms import InputStats, apply_input_stats

GRAPH_PATH = "model.graph"


@dataclass(frozen=True)
class FoldGraphs:
    """K folds' graphs as `(K, n_edges)` edge arrays, padded with weight-0 edges `0 -> 0`, and
    each fold's training rows (the rows that send edges)."""

    senders: np.ndarray  # int32
    receivers: np.ndarray  # int32
    weights: np.ndarray  # float32
    train_rows: tuple[np.ndarray, ...]

    def take(self, folds: list[int]) -> FoldGraphs:
        """The graphs of `folds` only, in that order."""
        return FoldGraphs(
            self.senders[folds],
            self.receivers[folds],
            self.weights[folds],
            tuple(self.train_rows[k] for k in folds),
        )

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(senders, receivers, weights), each with a leading fold axis."""
        return self.senders, self.receivers, self.weights

    @property
    def n_edges(self) -> np.ndarray:
        """Real (non-padding) edges per fold."""
        return (self.weights != 0).sum(axis=1)


def pad_graphs(graphs: list[Graph], train_rows: list[np.ndarray]) -> FoldGraphs:
    """Stack graphs on a fold axis, each padded to the most edges with weight-0 edges."""
    width = max(max((g.n_edges for g in graphs), default=0), 1)
    senders = np.zeros((len(graphs), width), np.int32)
    receivers = np.zeros((len(graphs), width), np.int32)
    weights = np.zeros((len(graphs), width), np.float32)
    for k, g in enumerate(graphs):
        senders[k, : g.n_edges] = g.senders
        receivers[k, : g.n_edges] = g.receivers
        weights[k, : g.n_edges] = g.weights
    return FoldGraphs(senders, receivers, weights, tuple(np.asarray(r) for r in train_rows))


def sample_graphs(
    graph: SampleGraphPlan | None, x: np.ndarray, fit_rows: list[np.ndarray], stats: InputStats
) -> FoldGraphs | None:
    """Each fold's graph over the samples of `x` (None when the model has no such graph).

    `fit_rows[k]` are fold k's training rows and `stats` its input statistics (leading fold
    axis); raises a `CompileError` at `model.graph` when a fold cannot carry the graph.
    """
    if graph is None:
        return None
    graphs = []
    for k, rows in enumerate(fit_rows):
        fold_stats = jax.tree.map(lambda a, k=k: np.asarray(a)[k], stats)
        graphs.append(fold_graph(graph, apply_input_stats(x, fold_stats), rows, k))
    return pad_graphs(graphs, fit_rows)


def fold_graph(
    graph: SampleGraphPlan, inputs: np.ndarray, train_rows: np.ndarray, fold: int
) -> Graph:
    """The graph of one fold over the rows of `inputs` (already transformed by its statistics)."""
    knn = graph.kind == "knn"
    if knn and graph.k >= len(train_rows):
        raise CompileError(
            Problem(
                f"k = {graph.k} neighbours need more than k training rows, but fold {fold} "
                f"trains on {len(train_rows)} rows",
                path=f"{GRAPH_PATH}.k",
                hint=f"set `k` below {len(train_rows)}, or use fewer folds",
            )
        )
    points = inputs if graph.pca is None else _principal_components(inputs, train_rows, graph.pca)
    try:
        if knn:
            return fold_knn_graph(points, train_rows, graph.k, graph.metric)
        return fold_cosine_graph(points, train_rows, graph.threshold)
    except ValueError as exc:  # the cosine of an all-zero row
        other = "`metric: euclidean`" if knn else "`kind: knn` with `metric: euclidean`"
        raise CompileError(
            Problem(
                f"cannot build the graph of fold {fold}: {exc}",
                path=GRAPH_PATH,
                hint=f"drop the samples without any signal, or use {other}",
            )
        ) from None


def _principal_components(
    inputs: np.ndarray, train_rows: np.ndarray, n_components: int
) -> np.ndarray:
    """Every row projected on the top `n_components` principal components of the training
    rows."""
    train = np.asarray(inputs[train_rows], dtype=np.float64)
    most = min(train.shape)
    if n_components > most:
        raise CompileError(
            Problem(
                f"`pca: {n_components}` asks for more components than the {train.shape[0]} "
                f"training rows x {train.shape[1]} inputs of a fold give ({most})",
                path=f"{GRAPH_PATH}.pca",
                hint=f"set `pca` to at most {most}",
            )
        )
    mean = train.mean(axis=0)
    components = _top_components(train - mean, n_components)
    return (np.asarray(inputs, dtype=np.float64) - mean) @ components


def _top_components(centred: np.ndarray, n_components: int) -> np.ndarray:
    """(features, n_components): the top right singular vectors of `centred`, from the
    eigendecomposition of the smaller of its Gram and covariance matrices (cheaper than a full
    SVD when one side is small)."""
    rows, features = centred.shape
    if features <= rows:
        _, vectors = np.linalg.eigh(centred.T @ centred)
        return vectors[:, ::-1][:, :n_components]
    values, vectors = np.linalg.eigh(centred @ centred.T)
    singular = np.sqrt(np.maximum(values[::-1][:n_components], 0.0))
    projected = centred.T @ vectors[:, ::-1][:, :n_components]
    # directions without variance (rank below n_components) get a zero component
    real = singular > 1e-10 * max(singular.max(initial=0.0), 1.0)
    return np.divide(projected, singular, out=np.zeros_like(projected), where=real)
