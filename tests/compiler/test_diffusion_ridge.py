"""The `diffusion` layer built from a network inside a model, and the closed-form `ridge` head
(against the dense RWR formula and scikit-learn's `Ridge`)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from pknet.compiler.model.base import group_arrays
from pknet.compiler.model.layers.diffusion import DiffusionLayer
from pknet.compiler.model.layers.ridge import RidgeLayer, solve_ridge
from pknet.compiler.model.model import build_model
from pknet.compiler.network.network import Network
from pknet.errors import CompileError
from pknet.specs.schema.model import DenseLayerSpec, DiffusionLayerSpec, RidgeLayerSpec

# a - b - c - d, plus b - d, with weights
NET = Network.from_edges(["a", "b", "c", "b"], ["b", "c", "d", "d"], weight=[1.0, 2.0, 0.5, 1.5])
ALPHAS = [0.3, 0.8]


def diffusion(**fields) -> DiffusionLayerSpec:
    return DiffusionLayerSpec(kind="diffusion", name="diffusion_1", **{"alpha": ALPHAS, **fields})


def ridge(units: int = 2, **fields) -> RidgeLayerSpec:
    return RidgeLayerSpec(kind="ridge", name="ridge_1", units=units, **fields)


def dense_rwr(a: np.ndarray, alpha: float) -> np.ndarray:
    """`(1 - alpha) (I - alpha A D^-1)^-1` for `A[receiver, sender]` without dangling nodes."""
    return (1 - alpha) * np.linalg.inv(np.eye(len(a)) - alpha * a / a.sum(axis=0))


def symmetric_adjacency() -> np.ndarray:
    """`NET`'s weighted edges both ways, as a dense `A[receiver, sender]`."""
    a = np.zeros((NET.n_nodes, NET.n_nodes))
    a[NET.dst, NET.src] = NET.weight
    return a + a.T


def test_diffusion_in_a_model_equals_the_dense_formula():
    inputs, outputs = NET.index_of(["a", "c"]), NET.index_of(["b", "c", "d"])
    model = build_model(
        [diffusion(), ridge()], NET, inputs, outputs, n_features=2, key=jax.random.key(0)
    )
    layer = model.layers[0]
    assert isinstance(layer, DiffusionLayer) and layer.n_outputs == 6
    a = symmetric_adjacency()
    expected = np.concatenate([dense_rwr(a, alpha)[np.ix_(outputs, inputs)] for alpha in ALPHAS])
    x0 = np.array([[1.0, 0.0], [0.5, -2.0]], dtype=np.float32)
    got = eqx.filter_jit(lambda m, x: jax.vmap(m.layers[0])(x))(model, x0)
    np.testing.assert_allclose(got, x0 @ expected.T, rtol=1e-5, atol=1e-6)
    assert model(x0[0]).shape == (2,)  # the zero-initialised ridge head


def test_diffusion_can_follow_the_edge_direction_only():
    # with `symmetric: false`, d is a sink: give it an edge back so the walk is not lost there
    net = Network.from_edges(["a", "b", "c", "b", "d"], ["b", "c", "d", "d", "a"])
    everything = np.arange(net.n_nodes)
    model = build_model(
        [diffusion(symmetric=False)], net, everything, everything, 4, key=jax.random.key(0)
    )
    a = np.zeros((4, 4))
    a[net.dst, net.src] = 1.0
    expected = np.concatenate([dense_rwr(a, alpha) for alpha in ALPHAS])
    np.testing.assert_allclose(model.layers[0].operator, expected, rtol=1e-5, atol=1e-6)


def test_a_diffusion_layer_has_no_weights_for_the_loss_groups():
    model = build_model(
        [diffusion(), DenseLayerSpec(kind="dense", name="head", units=1)],
        NET,
        np.arange(4),
        np.arange(4),
        4,
        key=jax.random.key(0),
    )
    assert [w.shape for w in group_arrays(model, "weights")] == [(8, 1)]
    assert group_arrays(model, "diffusion_1") == []
    assert model.n_parameters == 9


def test_negative_edge_weights_are_a_compile_error_at_the_layer():
    net = Network.from_edges(["a", "b"], ["b", "c"], weight=[1.0, -1.0])
    with pytest.raises(CompileError) as caught:
        build_model([diffusion()], net, np.arange(3), np.arange(3), 3, key=jax.random.key(0))
    assert caught.value.problems[0].path == "model.layers[0]"
    assert "non-negative edge weights" in caught.value.format()
    zero = Network.from_edges(["a", "b"], ["b", "c"], weight=[0.0, 0.0])
    with pytest.raises(CompileError, match="every edge weight of the network is 0"):
        build_model([diffusion()], zero, np.arange(3), np.arange(3), 3, key=jax.random.key(0))


@pytest.mark.slow
@pytest.mark.parametrize("n, p", [(30, 5), (6, 20)])  # the primal and the dual system
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_solve_ridge_equals_sklearn_ridge(n, p, fit_intercept):
    rng = np.random.default_rng(n + p)
    x = rng.normal(size=(n, p)) + 3.0
    y = x @ rng.normal(size=(p, 3)) + rng.normal(size=(n, 3)) + 1.0
    reference = Ridge(alpha=0.7, fit_intercept=fit_intercept).fit(x, y)
    with jax.enable_x64(True):
        # padding rows (weight 0, arbitrary values) change nothing
        padded_x = np.vstack([x, rng.normal(size=(3, p)) * 100])
        padded_y = np.vstack([y, rng.normal(size=(3, 3)) * 100])
        weight = np.r_[np.ones(n), np.zeros(3)]
        coef, intercept = solve_ridge(
            jnp.asarray(padded_x),
            jnp.asarray(padded_y),
            jnp.asarray(weight),
            0.7,
            fit_intercept=fit_intercept,
        )
    np.testing.assert_allclose(coef, reference.coef_.T, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(intercept, np.broadcast_to(reference.intercept_, (3,)), atol=1e-8)


def test_ridge_layer_applies_its_solved_weights():
    layer = RidgeLayer(3, 2, use_bias=False)
    assert layer.bias is None and layer.n_parameters == 6
    layer = eqx.tree_at(lambda m: m.weight, layer, jnp.arange(6.0).reshape(3, 2))
    np.testing.assert_allclose(layer(jnp.array([1.0, 0.0, 2.0])), [8.0, 11.0])
