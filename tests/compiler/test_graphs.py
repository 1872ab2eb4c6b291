"""Sample graphs against brute-force distances; the fold graph never leaks held-out rows."""

from __future__ import annotations

import numpy as np
import pytest

from pknet.compiler.model.graphs import (
    Graph,
    adjacency,
    cosine_threshold_graph,
    fold_cosine_graph,
    fold_knn_graph,
    graph_from_edges,
    knn_graph,
    symmetrize,
)


def edge_set(graph: Graph) -> set[tuple[int, int]]:
    return set(zip(graph.senders.tolist(), graph.receivers.tolist(), strict=True))


def distances(points: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        unit = points / np.linalg.norm(points, axis=1, keepdims=True)
        return 1.0 - unit @ unit.T
    return np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)


def brute_knn_edges(
    points: np.ndarray, k: int, metric: str, receivers: np.ndarray, candidates: np.ndarray
) -> set[tuple[int, int]]:
    """Each receiver gets edges from its k nearest candidates other than itself."""
    d = distances(points, metric)
    edges = set()
    for i in receivers:
        others = candidates[candidates != i]
        edges |= {(int(j), int(i)) for j in others[np.argsort(d[i, others])[:k]]}
    return edges


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("k", [1, 3, 7])
def test_knn_matches_brute_force(metric, k):
    points = np.random.default_rng(k).normal(size=(40, 5))
    graph = knn_graph(points, k, metric)
    everyone = np.arange(40)
    assert graph.n_nodes == 40 and graph.n_edges == 40 * k
    assert np.all(graph.senders != graph.receivers) and np.all(graph.weights == 1.0)
    assert edge_set(graph) == brute_knn_edges(points, k, metric, everyone, everyone)


def test_knn_on_duplicate_points_links_other_rows_only():
    points = np.zeros((4, 2))
    graph = knn_graph(points, 3)
    assert np.all(graph.senders != graph.receivers)
    assert np.bincount(graph.receivers).tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_fold_graph_is_knn_within_training_rows_and_from_training_rows(metric):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 4))
    train = np.sort(rng.choice(30, size=20, replace=False))
    held_out = np.setdiff1d(np.arange(30), train)
    graph = fold_knn_graph(points, train, 3, metric)
    is_train = np.isin(np.arange(30), train)

    assert np.all(is_train[graph.senders]), "only training rows send messages"
    assert graph.n_edges == 30 * 3
    want = brute_knn_edges(points, 3, metric, train, train)
    want |= brute_knn_edges(points, 3, metric, held_out, train)
    assert edge_set(graph) == want


def test_training_subgraph_does_not_depend_on_held_out_rows():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(25, 3))
    train = np.arange(0, 25, 2)
    moved = points.copy()
    moved[1::2] = rng.normal(size=moved[1::2].shape) * 0.01 + points[train[:12]]  # next to train

    def training_edges(graph: Graph) -> set[tuple[int, int]]:
        into_train = np.isin(graph.receivers, train)
        senders, receivers = graph.senders[into_train], graph.receivers[into_train]
        return set(zip(senders.tolist(), receivers.tolist(), strict=True))

    first, second = fold_knn_graph(points, train, 4), fold_knn_graph(moved, train, 4)
    assert training_edges(first) == training_edges(second)
    assert edge_set(first) != edge_set(second)
    assert not np.any(np.isin(first.senders, np.arange(1, 25, 2)))


def test_fold_graph_with_every_row_in_training_is_the_knn_graph():
    points = np.random.default_rng(2).normal(size=(15, 3))
    assert edge_set(fold_knn_graph(points, np.arange(15), 4)) == edge_set(knn_graph(points, 4))


@pytest.mark.parametrize("threshold", [-0.2, 0.3, 0.8])
def test_cosine_threshold_matches_brute_force(threshold):
    points = np.random.default_rng(3).normal(size=(30, 4))
    similarity = 1.0 - distances(points, "cosine")
    i, j = np.nonzero((similarity >= threshold) & ~np.eye(30, dtype=bool))
    graph = cosine_threshold_graph(points, threshold)
    assert edge_set(graph) == set(zip(i.tolist(), j.tolist(), strict=True))
    assert graph.n_edges == len(i) > 0


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_fold_cosine_graph_links_training_rows_and_feeds_held_out_rows(threshold):
    rng = np.random.default_rng(6)
    points = rng.normal(size=(30, 4))
    train = np.sort(rng.choice(30, size=18, replace=False))
    similar = (1.0 - distances(points, "cosine") >= threshold) & ~np.eye(30, dtype=bool)
    is_train = np.isin(np.arange(30), train)
    j, i = np.nonzero(similar & is_train[:, None])  # sender j (training) -> receiver i
    graph = fold_cosine_graph(points, train, threshold)
    assert edge_set(graph) == set(zip(j.tolist(), i.tolist(), strict=True))
    assert np.all(is_train[graph.senders]) and graph.n_edges > 0
    everyone = fold_cosine_graph(points, np.arange(30), threshold)
    assert edge_set(everyone) == edge_set(cosine_threshold_graph(points, threshold))
    assert fold_cosine_graph(points, train, 1.0).n_edges == 0


def test_symmetrize_adds_reverse_edges_once_with_the_larger_weight():
    graph = graph_from_edges(4, [0, 1, 2, 2], [1, 0, 3, 2], [1.0, 5.0, 2.0, 7.0])
    sym = symmetrize(graph)
    dense = adjacency(sym).toarray()
    want = np.zeros((4, 4))
    want[0, 1] = want[1, 0] = 5.0
    want[3, 2] = want[2, 3] = 2.0
    want[2, 2] = 7.0
    np.testing.assert_array_equal(dense, want)
    assert sym.n_edges == 5
    knn = knn_graph(np.random.default_rng(4).normal(size=(20, 2)), 2)
    edges = edge_set(knn)
    assert edge_set(symmetrize(knn)) == edges | {(r, q) for q, r in edges}


def test_adjacency_puts_edge_j_to_i_at_row_i_column_j():
    graph = graph_from_edges(3, [0, 0, 2], [1, 1, 0], [1.0, 2.0, 4.0])
    want = np.array([[0, 0, 4.0], [3.0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(adjacency(graph).toarray(), want)
    assert np.all(graph_from_edges(3, [0], [1]).weights == 1.0)


def test_bad_input_raises():
    points = np.random.default_rng(5).normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"k = 4 .* only 4\. Use k <= 3"):
        fold_knn_graph(points, [0, 1, 2, 3], 4)
    with pytest.raises(ValueError, match="only 10"):
        knn_graph(points, 10)
    with pytest.raises(ValueError, match="at least 1"):
        knn_graph(points, 0)
    with pytest.raises(ValueError, match="distinct row indices"):
        fold_knn_graph(points, [0, 0, 1, 2], 1)
    with pytest.raises(ValueError, match="unknown metric `manhattan`"):
        knn_graph(points, 2, "manhattan")
    with pytest.raises(ValueError, match="all-zero rows"):
        knn_graph(np.vstack([points, np.zeros(2)]), 2, "cosine")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        cosine_threshold_graph(points, 1.5)
    with pytest.raises(ValueError, match="one entry per edge"):
        graph_from_edges(3, [0, 1], [1])
    with pytest.raises(ValueError, match=r"receivers must be node indices in \[0, 3\)"):
        graph_from_edges(3, [0], [3])
