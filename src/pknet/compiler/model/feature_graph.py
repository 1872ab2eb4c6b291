"""The graph over the input features (`model.graph: {kind: knn|cosine, over: features}`).

Every input feature (model input column) is a node; its point is its column over all samples
(missing values filled with the feature's mean). No labels are used, so the graph is built once,
before the folds, from all samples' model inputs (before the folds' statistics): a `knn` graph
links each feature both ways with its `k` nearest other features, a `cosine` graph links the
features whose columns' cosine similarity reaches the threshold. The run directory keeps the
edges (`feature_graph.npz`) so `predict` rebuilds the same model.
"""

from __future__ import annotations

import numpy as np

from pknet.compiler.located import spec_problem
from pknet.compiler.model.graphs import Graph, cosine_threshold_graph, knn_graph, symmetrize
from pknet.errors import CompileError
from pknet.specs import Spec
from pknet.specs.schema.graph import KnnGraphSpec

GRAPH_PATH = ("model", "graph")


def feature_graph(spec: Spec, x: np.ndarray, features: tuple[str, ...]) -> Graph | None:
    """The spec's graph over the columns of `x` (samples x features), None without one; raises a
    located `CompileError` when the data cannot carry it."""
    graph = spec.model.feature_graph()
    if graph is None:
        return None
    n_features = x.shape[1]
    if isinstance(graph, KnnGraphSpec) and graph.k >= n_features:
        raise CompileError(
            spec_problem(
                spec,
                (*GRAPH_PATH, "k"),
                f"k = {graph.k} neighbours need more than k features, but the model has "
                f"{n_features} input features",
                f"set `k` below {n_features}",
            )
        )
    points = feature_points(x)
    if not isinstance(graph, KnnGraphSpec) or graph.metric == "cosine":
        _check_nonzero(spec, points, features)
    if isinstance(graph, KnnGraphSpec):
        return symmetrize(knn_graph(points, graph.k, graph.metric))
    return cosine_threshold_graph(points, graph.threshold)


def feature_points(x: np.ndarray) -> np.ndarray:
    """(features, samples): each feature's column, missing values filled with its mean."""
    points = np.asarray(x, dtype=np.float64).T
    if not np.isnan(points).any():
        return points
    means = np.nan_to_num(np.nanmean(points, axis=1, keepdims=True))
    return np.where(np.isnan(points), means, points)


def _check_nonzero(spec: Spec, points: np.ndarray, features: tuple[str, ...]) -> None:
    """The cosine of an all-zero feature is undefined: a located error naming such features."""
    zero = np.flatnonzero(~points.any(axis=1))
    if len(zero):
        shown = ", ".join(features[i] for i in zero[:10]) + (" ..." if len(zero) > 10 else "")
        raise CompileError(
            spec_problem(
                spec,
                GRAPH_PATH,
                f"the cosine similarity is undefined for {len(zero)} all-zero feature(s): {shown}",
                "drop those features (e.g. a minimum-expression filter), or use `kind: knn` "
                "with `metric: euclidean`",
            )
        )
