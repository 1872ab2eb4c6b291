"""`GcnOperator` (padded rows and a dense block, gathers both ways) against `gcn_propagate`
(`segment_sum`), values and gradients; and `NetworkGraphModel.batched` against `vmap`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from pknet.compiler.model.graphs import knn_graph, symmetrize
from pknet.compiler.model.layers import gcn_operator
from pknet.compiler.model.layers.gcn_operator import GcnOperator
from pknet.compiler.model.layers.graph import gcn_propagate
from pknet.compiler.model.model import build_model
from pknet.specs.schema.model import StackModelSpec

pytestmark = pytest.mark.usefixtures("strict_promotion")


def directed(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random directed edges: node 0 receives from every other node (a hub), the last two nodes
    have no edges at all, and some edges are explicit self-loops or repeated."""
    senders = rng.integers(0, n - 2, 3 * n)
    receivers = rng.integers(0, n - 2, 3 * n)
    hub = np.arange(1, n - 2)
    senders = np.r_[senders, hub, senders[:5], 3]
    receivers = np.r_[receivers, np.zeros_like(hub), receivers[:5], 3]
    return senders, receivers


def knn(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A symmetrised kNN graph (each ordered pair once, no self-loops)."""
    graph = symmetrize(knn_graph(rng.normal(size=(n, 4)), 3, "cosine"))
    return graph.senders, graph.receivers


GRAPHS = {"directed": directed, "knn": knn}


def reference(senders: np.ndarray, receivers: np.ndarray):
    s, r = jnp.asarray(senders, jnp.int32), jnp.asarray(receivers, jnp.int32)
    return lambda h: gcn_propagate(h, s, r, jnp.ones(s.shape, h.dtype))


@pytest.fixture(params=[gcn_operator.MAX_WIDTH, 2], ids=["rows", "dense_block"])
def max_width(request, monkeypatch) -> int:
    """The default, and a width of 2 that sends most nodes to the dense block."""
    monkeypatch.setattr(gcn_operator, "MAX_WIDTH", request.param)
    return request.param


@pytest.mark.parametrize("kind", GRAPHS)
def test_values_and_gradients_equal_segment_sum(kind: str, max_width: int):
    rng = np.random.default_rng(0)
    n = 40  # the directed graph's hub receives more than MAX_WIDTH edges
    senders, receivers = GRAPHS[kind](rng, n)
    operator = GcnOperator.of(senders, receivers, n)
    assert (operator.rows.dense.shape[0] > 0) == (max_width == 2 or kind == "directed")
    # examples on an axis after the nodes, as `NetworkGraphModel.batched` has them
    propagate = jax.vmap(reference(senders, receivers), in_axes=1, out_axes=1)
    h = jnp.asarray(rng.normal(size=(n, 5, 3)), jnp.float32)
    g = jnp.asarray(rng.normal(size=(n, 5, 3)), jnp.float32)
    np.testing.assert_allclose(operator(h), propagate(h), rtol=1e-5, atol=1e-6)

    def loss(fn):
        return lambda h: jnp.sum(g * jnp.tanh(fn(h)))

    np.testing.assert_allclose(
        jax.jit(jax.grad(loss(operator)))(h), jax.grad(loss(propagate))(h), rtol=1e-5, atol=1e-6
    )


def test_a_directed_graph_differs_from_its_transpose_and_matches_both_ways():
    rng = np.random.default_rng(1)
    senders, receivers = directed(rng, 12)
    forward, backward = (
        GcnOperator.of(senders, receivers, 12),
        GcnOperator.of(receivers, senders, 12),
    )
    h = jnp.asarray(rng.normal(size=(12, 2)), jnp.float32)
    assert not np.allclose(forward(h), backward(h))
    np.testing.assert_allclose(backward(h), reference(receivers, senders)(h), rtol=1e-5, atol=1e-6)


def test_gradients_match_finite_differences(max_width: int):
    rng = np.random.default_rng(2)
    senders, receivers = directed(rng, 15)
    operator = GcnOperator.of(senders, receivers, 15)
    h = jnp.asarray(rng.normal(size=(15, 2)), jnp.float32)
    check_grads(lambda h: jnp.tanh(operator(h)), (h,), order=1, modes=["rev"], atol=2e-2, rtol=2e-2)


def test_vmap_over_examples_and_folds_equals_the_reference():
    rng = np.random.default_rng(3)
    senders, receivers = knn(rng, 30)
    operator, propagate = GcnOperator.of(senders, receivers, 30), reference(senders, receivers)
    h = jnp.asarray(rng.normal(size=(2, 4, 30, 3)), jnp.float32)

    def loss(fn):
        return lambda h: jnp.sum(jnp.tanh(fn(h)) ** 2)

    got = jax.jit(jax.vmap(jax.vmap(jax.value_and_grad(loss(operator)))))(h)
    want = jax.vmap(jax.vmap(jax.value_and_grad(loss(propagate))))(h)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


POINTS = np.random.default_rng(4).normal(size=(9, 12))  # 9 features x 12 samples
FEATURE_GRAPH = symmetrize(knn_graph(POINTS, 2))


def feature_model(*layers: dict, readout: str = "mean"):
    spec = StackModelSpec.model_validate(
        {
            "graph": {"kind": "knn", "over": "features", "k": 2, "readout": readout},
            "layers": list(layers),
        }
    )
    return build_model(
        spec, None, None, None, 9, key=jax.random.key(0), feature_graph=FEATURE_GRAPH
    )


@pytest.mark.slow
@pytest.mark.parametrize("readout", ["mean", "max"])
def test_batched_equals_vmap_of_one_example(readout: str):
    model = feature_model(
        {"kind": "gcn", "units": 4},
        {"kind": "gcn", "units": 3},
        {"kind": "dense", "units": 5, "dropout": 0.5},
        {"kind": "dense", "units": 2},
        readout=readout,
    )
    x = jnp.asarray(np.random.default_rng(5).normal(size=(6, 9)), jnp.float32)
    np.testing.assert_allclose(model.batched(x), jax.vmap(model)(x), rtol=1e-5, atol=1e-6)
    keys = jax.random.split(jax.random.key(1), 6)  # dropout in the dense head: the same masks
    want = jax.vmap(lambda xi, ki: model(xi, key=ki))(x, keys)
    np.testing.assert_allclose(model.batched(x, keys=keys), want, rtol=1e-5, atol=1e-6)
