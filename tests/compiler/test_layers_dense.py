"""The dense layer against `act(x @ W + b)` in NumPy, under jit and vmap."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pknet.compiler.model.layers import DenseLayer
from pknet.specs.schema.model import DenseLayerSpec

NUMPY_ACTIVATIONS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: 0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3))),
    "softplus": lambda z: np.logaddexp(z, 0.0),
    "linear": lambda z: z,
}


def dense(in_features: int, *, last: bool = False, **fields) -> DenseLayer:
    spec = DenseLayerSpec(kind="dense", name="dense_1", **{"units": 3, **fields})
    layer = DenseLayer(
        in_features,
        spec.units,
        activation="linear" if last else spec.activation,
        dropout=spec.dropout,
        use_bias=spec.bias,
        name=spec.name,
        key=jax.random.key(0),
    )
    if layer.bias is not None:
        layer = eqx.tree_at(lambda m: m.bias, layer, jnp.linspace(-0.5, 0.5, layer.units))
    return layer


@eqx.filter_jit
def batch(layer: DenseLayer, xs, keys=None):
    if keys is None:
        return jax.vmap(layer)(xs)
    return jax.vmap(lambda x, k: layer(x, key=k))(xs, keys)


CASES = [(activation, False, True) for activation in NUMPY_ACTIVATIONS]
CASES += [("tanh", True, True), ("relu", False, False)]


@pytest.mark.parametrize(("activation", "last", "bias"), CASES)
def test_forward_matches_numpy(activation, last, bias):
    layer = dense(4, last=last, activation=activation, bias=bias)
    xs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    z = xs.astype(np.float64) @ np.asarray(layer.weight, np.float64)
    if bias:
        z = z + np.asarray(layer.bias, np.float64)
    want = z if last else NUMPY_ACTIVATIONS[activation](z)
    np.testing.assert_allclose(batch(layer, xs), want, rtol=1e-5, atol=1e-6)


def test_shapes_parameters_and_init():
    layer = dense(4, units=3)
    assert layer.weight.shape == (4, 3) and layer.n_parameters == 4 * 3 + 3
    assert dense(4, units=3, bias=False).n_parameters == 12
    fresh = DenseLayer(4, 3, activation="linear", name="d", key=jax.random.key(1))
    assert np.all(np.abs(np.asarray(fresh.weight)) <= 0.5) and not np.any(fresh.bias)
    leaves = jax.tree.leaves(eqx.filter(fresh, eqx.is_inexact_array))
    assert len(leaves) == 2 and leaves[0] is fresh.weight and leaves[1] is fresh.bias


def test_dropout_only_with_a_key_and_keeps_the_expectation():
    layer = dense(4, activation="linear", dropout=0.4)
    x = np.array([0.5, -1.0, 2.0, 1.5], np.float32)
    xs = np.repeat(x[None], 20000, axis=0)
    np.testing.assert_array_equal(
        batch(layer, xs[:2]), batch(dense(4, activation="linear"), xs[:2])
    )
    keys = jax.random.split(jax.random.key(3), len(xs))
    samples = np.asarray(batch(layer, xs, keys))
    assert np.unique(samples[:, 0]).size > 1
    sd = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - np.asarray(batch(layer, xs[:1])[0])) <= 5 * sd)
