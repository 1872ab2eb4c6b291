"""The `node2vec` layer: its walks step with node2vec's second-order probabilities (against a
NumPy reference), its embedding separates planted communities, and samples that only receive
edges (held-out ones) never move the other samples' embeddings."""

from __future__ import annotations

from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import chisquare

from pknet.compiler.model.graph_model import SampleGraphModel
from pknet.compiler.model.layers import DenseLayer
from pknet.compiler.model.layers.node2vec import Node2vecLayer
from pknet.compiler.model.walks import NO_NODE, biased_steps, node2vec_walks, walk_graph

# a small weighted graph as (sender, receiver, weight): some edges both ways, some one way, a
# node (5) that only sends, and two weight-0 padding edges as fold graphs carry them
EDGES = [
    (1, 0, 1.0), (2, 0, 2.0), (3, 0, 0.5),
    (0, 1, 1.0), (2, 1, 1.5), (4, 1, 1.0),
    (0, 2, 2.0), (1, 2, 1.0), (3, 2, 1.0), (4, 2, 3.0),
    (0, 3, 0.5), (2, 3, 1.0), (4, 3, 2.0), (5, 3, 1.0),
    (1, 4, 1.0), (3, 4, 2.0), (5, 4, 0.5),
    (0, 0, 0.0), (0, 0, 0.0),
]  # fmt: skip
N = 6


def _arrays() -> tuple[jax.Array, jax.Array, jax.Array]:
    senders, receivers, weights = zip(*EDGES, strict=True)
    return (
        jnp.asarray(senders, jnp.int32),
        jnp.asarray(receivers, jnp.int32),
        jnp.asarray(weights, jnp.float32),
    )


def reference_step(prev: int, current: int, p: float, q: float) -> np.ndarray:
    """node2vec's exact probabilities of each next node after `prev -> current` (`prev` -1: a
    first step), from the dense adjacency `A[receiver, sender]`."""
    a = np.zeros((N, N))
    for s, r, w in EDGES:
        a[r, s] += w
    weight = a[current].copy()
    if prev >= 0:
        bias = np.where(a[prev] > 0, 1.0, 1.0 / q)
        bias[prev] = 1.0 / p
        weight *= bias
    return weight / weight.sum()


@jax.jit
def _walks(keys: jax.Array, starts: jax.Array, p: jax.Array, q: jax.Array) -> jax.Array:
    return node2vec_walks(walk_graph(*_arrays(), N), keys, starts, 25, p, q)


@pytest.mark.parametrize(("p", "q"), [(0.5, 2.0), (4.0, 0.25)])
def test_walks_step_with_the_second_order_probabilities_of_a_numpy_reference(p, q) -> None:
    keys = jax.random.split(jax.random.key(3), 3000)
    starts = jnp.arange(3000, dtype=jnp.int32) % N
    walks = np.asarray(_walks(keys, starts, jnp.float32(p), jnp.float32(q)))
    # node 5 only sends: a walk that reaches it ends there
    ended = np.concatenate([np.zeros((len(walks), 1), bool), walks[:, :-1] == 5], axis=1)
    ended = np.maximum.accumulate(ended, axis=1)
    assert ((walks == NO_NODE) == ended).all()
    triples = Counter(zip(*(walks[:, i : i + 23].ravel() for i in range(3)), strict=True))
    tested = 0
    for t, v in sorted({(t, v) for t, v, _ in triples if t >= 0 and v >= 0}):
        observed = np.array([triples[(t, v, x)] for x in range(N)])
        if observed.sum() < 500:
            continue
        expected = reference_step(t, v, p, q) * observed.sum()
        assert observed[expected == 0].sum() == 0, (t, v)  # only along edges into v
        nonzero = expected > 0
        result = chisquare(observed[nonzero], expected[nonzero])
        assert result.pvalue > 1e-4, (t, v, observed, expected.round(1))
        tested += 1
    assert tested >= 10


def test_a_first_step_follows_the_weights_and_a_node_without_edges_ends_the_walk() -> None:
    n = 40_000
    keys = jax.random.split(jax.random.key(0), n)
    current = jnp.where(jnp.arange(n) < n - 10, 3, 5).astype(jnp.int32)
    prev = jnp.full(n, NO_NODE, jnp.int32)
    nxt = np.asarray(
        jax.jit(lambda k: biased_steps(walk_graph(*_arrays(), N), k, prev, current, 0.5, 2.0))(keys)
    )
    assert (nxt[-10:] == NO_NODE).all()
    observed = np.bincount(nxt[:-10], minlength=N)
    expected = reference_step(-1, 3, 1.0, 1.0) * (n - 10)
    assert observed[expected == 0].sum() == 0
    assert chisquare(observed[expected > 0], expected[expected > 0]).pvalue > 1e-4


def _two_cliques(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Two cliques of `size` nodes joined by one edge (both ways)."""
    pairs = [(i, j) for c in (0, size) for i in range(c, c + size) for j in range(c, c + size)]
    pairs = [(i, j) for i, j in pairs if i != j] + [(0, size), (size, 0)]
    senders, receivers = np.asarray(pairs).T
    return senders, receivers


LAYER = Node2vecLayer(
    8, walk_length=10, walks_per_node=5, window=3, p=1.0, q=0.5, epochs=60, key=jax.random.key(7)
)


@jax.jit
def embed(x: jax.Array, senders: jax.Array, receivers: jax.Array) -> jax.Array:
    return LAYER(x, senders, receivers, jnp.ones(senders.shape, jnp.float32))


def _nearest_centroid(u: np.ndarray, labels: np.ndarray, train: np.ndarray) -> np.ndarray:
    centroids = np.stack([u[train][labels[train] == c].mean(axis=0) for c in (0, 1)])
    return np.argmin(((u[:, None] - centroids[None]) ** 2).sum(axis=-1), axis=1)


@pytest.mark.slow  # compiles the layer
def test_the_embedding_separates_two_planted_communities() -> None:
    size = 10
    senders, receivers = _two_cliques(size)
    u = np.asarray(embed(jnp.zeros((2 * size, 1)), senders, receivers))
    labels = np.repeat([0, 1], size)
    assert u.shape == (2 * size, 8)
    assert (_nearest_centroid(u, labels, np.arange(2 * size)) == labels).all()


def _with_receivers(
    senders: np.ndarray, receivers: np.ndarray, n: int, fed_by: dict[int, list[int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph with receive-only nodes inserted at the keys of `fed_by` (each fed by the
    listed old nodes): (old node i's new index, senders, receivers)."""
    old = np.setdiff1d(np.arange(n + len(fed_by)), list(fed_by))
    new_senders = np.concatenate([old[senders], *(old[f] for f in fed_by.values())])
    new_receivers = np.concatenate(
        [old[receivers], np.repeat(list(fed_by), [len(f) for f in fed_by.values()])]
    )
    return old, new_senders, new_receivers


@pytest.mark.slow  # three graphs: three compilations of the layer
def test_receive_only_nodes_move_no_other_node_and_join_their_community() -> None:
    """Held-out samples only receive edges: inserting them, anywhere in the node order, leaves
    every other node's embedding as it was; each lands by its own community, and with the same
    embedding whichever other held-out nodes the graph holds (as `pknet predict` relies on)."""
    size = 10
    senders, receivers = _two_cliques(size)
    alone = np.asarray(embed(jnp.zeros((2 * size, 1)), senders, receivers))
    fed_by = {3: [0, 1, 2], 8: [11, 12, 13], 14: [4, 5, 6], 20: [15, 16, 17]}
    old, s, r = _with_receivers(senders, receivers, 2 * size, fed_by)
    u = np.asarray(embed(jnp.zeros((2 * size + 4, 1)), s, r))
    np.testing.assert_allclose(u[old], alone, rtol=1e-4, atol=1e-5)
    labels = np.zeros(2 * size + 4, int)
    labels[old] = np.repeat([0, 1], size)
    held_out = np.array(list(fed_by))
    labels[held_out] = [0, 1, 0, 1]
    assert (_nearest_centroid(u, labels, old)[held_out] == labels[held_out]).all()
    # two of them, now the first nodes of the graph (as `predict` puts new samples last)
    fewer = {0: [4, 5, 6], 1: [11, 12, 13]}
    old2, s2, r2 = _with_receivers(senders, receivers, 2 * size, fewer)
    u2 = np.asarray(embed(jnp.zeros((2 * size + 2, 1)), s2, r2))
    np.testing.assert_allclose(u2[old2], alone, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(u2[[0, 1]], u[[14, 8]], rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # compiles the layer within a model
def test_a_sample_graph_model_prepares_the_embedding_once_and_reads_it() -> None:
    size = 10
    senders, receivers = _two_cliques(size)
    weights = jnp.ones(senders.shape, jnp.float32)
    head = DenseLayer(8, 2, activation="linear", name="dense_1", key=jax.random.key(1))
    model = SampleGraphModel((LAYER, head))
    x = jnp.zeros((2 * size, 3))
    assert model.n_prepared == 1 and model.n_parameters == head.n_parameters
    assert model.output_width(3) == 2

    @jax.jit
    def outputs(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        prepared = model.prepare(x, senders, receivers, weights)
        after = model(prepared, senders, receivers, weights, prepared=True)
        return prepared, model(x, senders, receivers, weights), after

    prepared, whole, after = outputs(x)
    np.testing.assert_allclose(whole, after, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after, jax.vmap(head)(prepared), rtol=1e-5, atol=1e-6)
