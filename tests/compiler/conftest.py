"""Fixtures shared by the compiler tests."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree


def _assert_gradients_match_finite_differences(layer: eqx.Module) -> None:
    """Gradients of a network layer's outputs and node values equal central differences.

    Call inside `jax.enable_x64(True)` with a layer built there (float64 parameters).
    """
    params, static = eqx.partition(layer, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    assert flat.dtype == jnp.float64
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=layer.n_inputs))
    w_out = jnp.asarray(rng.normal(size=layer.output_slot.shape[0]))
    w_all = jnp.asarray(rng.normal(size=layer.n_slots))
    eps = 1e-6

    def loss(theta):
        model = eqx.combine(unravel(theta), static)
        return w_out @ model(x) + w_all @ model.node_values(x)

    @jax.jit
    def grad_and_differences(theta):
        steps = eps * jnp.eye(len(theta))
        fd = jax.vmap(lambda d: (loss(theta + d) - loss(theta - d)) / (2 * eps))(steps)
        return jax.grad(loss)(theta), fd

    grad, fd = grad_and_differences(flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


@pytest.fixture
def assert_gradients_match_finite_differences() -> Callable[[eqx.Module], None]:
    return _assert_gradients_match_finite_differences


@pytest.fixture(scope="module")
def strict_promotion():
    """Strict dtype promotion and no implicit rank promotion (equinox's test habit)."""
    with jax.numpy_dtype_promotion("strict"), jax.numpy_rank_promotion("raise"):
        yield
