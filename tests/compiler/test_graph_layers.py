"""GCN and GAT layers against dense-adjacency NumPy references, with padding, jit and vmap."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from pknet.compiler.model.layers.graph import GatLayer, GcnLayer

pytestmark = pytest.mark.usefixtures("strict_promotion")


NUMPY_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "linear": lambda z: z,
}


def random_graph(rng: np.random.Generator, n: int, p: float = 0.4):
    """Distinct edges `j -> i` (i != j) with positive weights, plus one explicit self-loop."""
    pairs = [(j, i) for i in range(n) for j in range(n) if i != j and rng.random() < p]
    pairs.append((n - 1, n - 1))
    senders, receivers = (np.asarray(a, dtype=np.int32) for a in zip(*pairs, strict=True))
    return senders, receivers, rng.uniform(0.5, 2.0, len(pairs))


def pad(senders, receivers, weights, extra: int, rng: np.random.Generator, n: int):
    """Append `extra` zero-weight edges between random (possibly equal) nodes."""
    return (
        np.concatenate([senders, rng.integers(0, n, extra, dtype=np.int32)]),
        np.concatenate([receivers, rng.integers(0, n, extra, dtype=np.int32)]),
        np.concatenate([weights, np.zeros(extra)]),
    )


def dense_adjacency(n, senders, receivers, weights) -> np.ndarray:
    a = np.zeros((n, n))
    np.add.at(a, (receivers, senders), weights)
    return a


def gcn_reference(layer: GcnLayer, x, senders, receivers, weights) -> np.ndarray:
    n = len(x)
    a_hat = dense_adjacency(n, senders, receivers, weights) + np.eye(n)
    d = a_hat.sum(axis=1) ** -0.5
    z = (d[:, None] * a_hat * d[None, :]) @ x @ np.asarray(layer.weight)
    if layer.bias is not None:
        z = z + np.asarray(layer.bias)
    return NUMPY_ACTIVATIONS[layer.activation](z)


def gat_reference(layer: GatLayer, x, senders, receivers, weights) -> np.ndarray:
    n, heads, f = len(x), layer.heads, layer.out_features
    mask = dense_adjacency(n, senders, receivers, weights) != 0
    np.fill_diagonal(mask, True)
    h = (x @ np.asarray(layer.weight)).reshape(n, heads, f)
    outs = []
    for k in range(heads):
        e = (h[:, k] @ np.asarray(layer.attention_receiver[k]))[:, None] + (
            h[:, k] @ np.asarray(layer.attention_sender[k])
        )[None, :]
        e = np.where(e > 0, e, 0.2 * e)
        e = np.where(mask, np.exp(e - e.max()), 0.0)
        outs.append((e / e.sum(axis=1, keepdims=True)) @ h[:, k])
    z = np.concatenate(outs, axis=1) if layer.concat else np.mean(outs, axis=0)
    if layer.bias is not None:
        z = z + np.asarray(layer.bias)
    return NUMPY_ACTIVATIONS[layer.activation](z)


def with_bias(layer):
    """Non-zero bias so that it is seen by the comparison."""
    if layer.bias is None:
        return layer
    bias = np.linspace(-0.5, 0.5, layer.bias.shape[0], dtype=layer.bias.dtype)
    return eqx.tree_at(lambda m: m.bias, layer, jnp.asarray(bias))


def build(kind: str, in_features: int, out_features: int, **kwargs):
    cls = {"gcn": GcnLayer, "gat": GatLayer}[kind]
    return with_bias(cls(in_features, out_features, key=jax.random.key(0), **kwargs))


REFERENCES = {"gcn": gcn_reference, "gat": gat_reference}
CASES = [
    ("gcn", {"activation": "relu"}),
    ("gcn", {"activation": "tanh", "bias": False}),
    ("gat", {"activation": "tanh", "heads": 3, "concat": True}),
    ("gat", {"activation": "relu", "heads": 2, "concat": False, "bias": False}),
]


@eqx.filter_jit
def apply(layer, x, senders, receivers, weights, key=None):
    return layer(x, senders, receivers, weights, key=key)


@eqx.filter_jit
def apply_batch(layer, xs, senders, receivers, weights):
    return jax.vmap(layer)(xs, senders, receivers, weights)


@pytest.mark.parametrize(("kind", "kwargs"), CASES)
def test_padded_graph_matches_dense_reference_of_the_real_edges(kind, kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 4)).astype(np.float32)
    graph = random_graph(rng, 7)
    senders, receivers, weights = pad(*graph, extra=6, rng=rng, n=7)
    layer = build(kind, 4, 3, **kwargs)
    want = REFERENCES[kind](layer, x.astype(np.float64), *graph)
    assert want.shape == (7, 3 * kwargs.get("heads", 1) if kwargs.get("concat", True) else 3)
    got = apply(layer, x, senders, receivers, weights.astype(np.float32))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gcn", "gat"])
def test_gradients_match_finite_differences_on_a_padded_graph(kind):
    rng = np.random.default_rng(1)
    graph = pad(*random_graph(rng, 5), extra=4, rng=rng, n=5)
    with jax.enable_x64(True):
        layer = build(kind, 4, 3, activation="tanh", **({"heads": 2} if kind == "gat" else {}))
        params, static = eqx.partition(layer, eqx.is_inexact_array)
        flat, unravel = ravel_pytree((params, jnp.asarray(rng.normal(size=(5, 4)))))
        probe = jnp.asarray(rng.normal(size=(5, 6 if kind == "gat" else 3)))

        def loss(theta):
            params, x = unravel(theta)
            return jnp.sum(probe * eqx.combine(params, static)(x, *graph))

        @jax.jit
        def grad_and_differences(theta):
            steps = 1e-6 * jnp.eye(len(theta))
            fd = jax.vmap(lambda d: (loss(theta + d) - loss(theta - d)) / 2e-6)(steps)
            return jax.grad(loss)(theta), fd

        grad, fd = grad_and_differences(flat)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("kind", "kwargs"), [CASES[0], CASES[2]])
def test_vmap_over_a_batch_of_padded_graphs(kind, kwargs):
    rng = np.random.default_rng(2)
    n, n_edges = 7, 50
    graphs = [random_graph(rng, n) for _ in range(3)]
    graphs = [pad(*g, extra=n_edges - len(g[0]), rng=rng, n=n) for g in graphs]
    xs = rng.normal(size=(3, n, 4)).astype(np.float32)
    layer = build(kind, 4, 3, **kwargs)
    stacked = [np.stack(parts) for parts in zip(*graphs, strict=True)]
    batched = apply_batch(layer, xs, stacked[0], stacked[1], stacked[2].astype(np.float32))
    for b, graph in enumerate(graphs):
        want = REFERENCES[kind](layer, xs[b].astype(np.float64), *graph)
        np.testing.assert_allclose(batched[b], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["gcn", "gat"])
def test_one_node_without_edges_is_a_dense_layer(kind):
    layer = build(kind, 4, 3, activation="linear", **({"heads": 2} if kind == "gat" else {}))
    x = np.random.default_rng(3).normal(size=(1, 4)).astype(np.float32)
    none = jnp.zeros(0, jnp.int32)
    got = apply(layer, x, none, none, jnp.zeros(0))
    want = x @ np.asarray(layer.weight) + np.asarray(layer.bias)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gcn", "gat"])
def test_dropout_masks_input_features_only_with_a_key(kind):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(7, 4)).astype(np.float32)
    graph = random_graph(rng, 7)
    layer = build(kind, 4, 3, dropout=0.5, **({"heads": 2} if kind == "gat" else {}))
    key = jax.random.key(7)
    keep = np.asarray(jax.random.bernoulli(key, 0.5, x.shape))
    masked = np.where(keep, 2.0 * x, 0.0)
    f32 = (graph[0], graph[1], graph[2].astype(np.float32))
    plain = REFERENCES[kind](layer, x, *graph)
    np.testing.assert_allclose(apply(layer, x, *f32), plain, rtol=1e-5, atol=1e-6)
    want = REFERENCES[kind](layer, masked, *graph)
    np.testing.assert_allclose(apply(layer, x, *f32, key=key), want, rtol=1e-5, atol=1e-6)
    assert 0 < keep.sum() < keep.size


def test_parameter_counts():
    key = jax.random.key(0)
    assert GcnLayer(4, 3, key=key).n_parameters == 4 * 3 + 3
    assert GcnLayer(4, 3, bias=False, key=key).n_parameters == 12
    assert GatLayer(4, 3, heads=2, key=key).n_parameters == 4 * 6 + 2 * 6 + 6
    assert GatLayer(4, 3, heads=2, concat=False, key=key).n_parameters == 4 * 6 + 2 * 6 + 3
    for layer in (GcnLayer(4, 3, key=key), GatLayer(4, 3, heads=2, key=key)):
        leaves = jax.tree.leaves(eqx.filter(layer, eqx.is_inexact_array))
        assert sum(a.size for a in leaves) == layer.n_parameters


def test_bad_settings_raise():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="unknown activation `swish`"):
        GcnLayer(4, 3, activation="swish", key=key)
    with pytest.raises(ValueError, match="dropout must lie in"):
        GatLayer(4, 3, dropout=1.0, key=key)
    with pytest.raises(ValueError, match="at least one head"):
        GatLayer(4, 3, heads=0, key=key)
