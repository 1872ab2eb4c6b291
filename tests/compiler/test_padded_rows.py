"""`padded_product` against a NumPy scatter-add reference: one example, vmapped over examples
(the batched rule), over weights (the fallback), folds x examples, gradients both ways; and a
network layer whose levels all use padded rows against the same layer with `segment_sum`, with
finite differences."""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pknet.compiler.model.layers import NetworkLayer, network_layer, plan_kpnn, wiring
from pknet.compiler.model.layers.padded_rows import PaddedRows, padded_product
from pknet.compiler.network.network import Network


def connections(seed: int, n_parents: int, n_children: int, n: int):
    """Random connections sorted by child; some parents and children have none."""
    rng = np.random.default_rng(seed)
    parent = rng.integers(0, max(n_parents - 1, 1), size=n)  # the last parent feeds nothing
    child = np.sort(rng.integers(0, max(n_children - 1, 1), size=n))  # nor the last child
    return parent, child


def reference(weight, parents, parent, child, n_children):
    z = np.zeros(n_children)
    np.add.at(z, child, weight * parents[parent])
    return z


CASES = [(0, 7, 5, 30), (1, 40, 9, 300), (2, 3, 3, 1), (3, 20, 1, 64)]


@pytest.mark.parametrize(("seed", "n_parents", "n_children", "n"), CASES)
def test_product_and_its_gradients_match_a_scatter_add(seed, n_parents, n_children, n):
    parent, child = connections(seed, n_parents, n_children, n)
    rows = PaddedRows.of(parent, child, n_parents, n_children)
    rng = np.random.default_rng(seed + 10)
    w = rng.normal(size=(2, n)).astype(np.float32)  # folds
    h = rng.normal(size=(2, 4, n_parents)).astype(np.float32)  # folds x examples
    cot = rng.normal(size=(2, 4, n_children)).astype(np.float32)
    one = jax.jit(padded_product)(w[0], h[0, 0], rows)
    np.testing.assert_allclose(one, reference(w[0], h[0, 0], parent, child, n_children), atol=1e-5)

    def loss(w, h, segment):
        if segment:
            z = jax.vmap(
                lambda v: jax.ops.segment_sum(w * v[parent], child, num_segments=n_children)
            )(h)
        else:
            z = jax.vmap(lambda v: padded_product(w, v, rows))(h)
        return jnp.sum(jnp.tanh(z) * cot[0])

    # the trainer's shape: the gradient of a vmap over examples, vmapped over folds
    got = jax.jit(jax.vmap(jax.grad(lambda w, h: loss(w, h, False), argnums=(0, 1))))(w, h)
    want = jax.vmap(jax.grad(lambda w, h: loss(w, h, True), argnums=(0, 1)))(w, h)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)
    per_weight = jax.vmap(padded_product, in_axes=(0, None, None))(w, h[0, 0], rows)
    for k in range(2):
        np.testing.assert_allclose(
            per_weight[k], reference(w[k], h[0, 0], parent, child, n_children), atol=1e-5
        )


def random_network(seed: int) -> tuple[Network, list[int], list[int]]:
    """A layered DAG: 12 inputs, two hidden levels of 6 and 4 nodes, one output."""
    rng = np.random.default_rng(seed)
    sizes = [12, 6, 4, 1]
    names = [[f"l{i}_{j}" for j in range(s)] for i, s in enumerate(sizes)]
    edges = [
        (u, v)
        for below, above in itertools.pairwise(names)
        for v in above
        for u in map(str, rng.choice(below, size=min(3, len(below)), replace=False))
    ]
    edges += [(names[0][0], names[2][0]), (names[1][0], names[3][0])]  # skips levels
    net = Network.from_edges(
        [u for u, _ in edges],
        [v for _, v in edges],
        extra_nodes=[n for level in names for n in level],
    )
    index = {name: i for i, name in enumerate(net.nodes)}
    return net, [index[n] for n in names[0]], [index[names[3][0]]]


def layer(net, inputs, outputs, units: int) -> NetworkLayer:
    plan = plan_kpnn(net, inputs, outputs, units_per_node=units, last=True)
    return NetworkLayer(
        plan,
        name="kpnn_1",
        activation="tanh",
        dropout=0.0,
        bias=True,
        input_batchnorm=True,
        key=jax.random.key(0),
    )


@pytest.mark.parametrize("units", [1, 2])
def test_a_layer_on_padded_rows_equals_the_segment_sum_layer(units, monkeypatch):
    net, inputs, outputs = random_network(units)
    plain = layer(net, inputs, outputs, units)
    assert all(run.rows is None for run in plain.level_runs)
    monkeypatch.setattr(network_layer, "PADDED_ROWS_MIN", 1)
    monkeypatch.setattr(wiring, "SCAN_LIMIT", 0)  # every level alone
    padded = layer(net, inputs, outputs, units)
    assert sum(run.rows is not None for run in padded.level_runs) >= 2
    xs = jnp.asarray(np.random.default_rng(0).normal(size=(5, len(inputs))), jnp.float32)

    def loss(model, xs):
        return jnp.sum(jax.vmap(model.node_values)(xs) ** 2)

    for got, want in zip(
        (eqx.filter_jit(jax.vmap(padded))(xs), eqx.filter_jit(eqx.filter_grad(loss))(padded, xs)),
        (jax.vmap(plain)(xs), eqx.filter_grad(loss)(plain, xs)),
        strict=True,
    ):
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_padded_rows_gradients_match_finite_differences(
    monkeypatch, assert_gradients_match_finite_differences
):
    monkeypatch.setattr(network_layer, "PADDED_ROWS_MIN", 1)
    monkeypatch.setattr(wiring, "SCAN_LIMIT", 0)
    with jax.enable_x64(True):
        net, inputs, outputs = random_network(3)
        assert_gradients_match_finite_differences(layer(net, inputs, outputs, 2))
