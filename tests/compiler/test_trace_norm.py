"""Trace norms against NumPy's nuclear norm; gradients against `U V^T` and the subgradient rule."""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pknet.compiler.model.trace_norm import MODES, trace_norm

pytestmark = pytest.mark.usefixtures("strict_promotion")


SHAPES = [(3, 5), (1, 4), (2, 3, 4), (3, 1, 2), (2, 2, 2, 3)]


def numpy_unfold(tensor: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(tensor, axis, 0)
    return moved.reshape(moved.shape[0], math.prod(moved.shape[1:]))


def numpy_fold(matrix: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    moved_shape = (shape[axis], *(s for k, s in enumerate(shape) if k != axis % len(shape)))
    return np.moveaxis(matrix.reshape(moved_shape), 0, axis)


def mode_axes(mode: str, ndim: int) -> list[int]:
    return {"task": [0], "last": [ndim - 1], "all": list(range(ndim))}[mode]


def reference(tensor: np.ndarray, mode: str) -> float:
    return sum(np.linalg.norm(numpy_unfold(tensor, k), "nuc") for k in mode_axes(mode, tensor.ndim))


def reference_gradient(tensor: np.ndarray, mode: str) -> np.ndarray:
    """Sum over the mode's unfoldings of `U V^T`, folded back to the tensor's shape."""
    total = np.zeros_like(tensor)
    for k in mode_axes(mode, tensor.ndim):
        u, _, vt = np.linalg.svd(numpy_unfold(tensor, k), full_matrices=False)
        total += numpy_fold(u @ vt, k, tensor.shape)
    return total


RANDOM = [np.random.default_rng(k).normal(size=shape) for k, shape in enumerate(SHAPES)]
DEGENERATE = [
    np.zeros((2, 3, 4)),
    np.eye(4),
    np.diag([2.0, 2.0, 2.0, 1.0, 1.0])[:, :4],  # singular values 2, 2, 2, 1
    np.ones((3, 2, 2)),  # one non-zero singular value, the rest 0
    np.zeros((0, 3)),
]


@pytest.fixture(scope="module")
def computed():
    """Per mode, the trace norm and gradient of each RANDOM and DEGENERATE tensor (float64).

    One jitted call for every shape: compiling once keeps the tests fast.
    """

    @jax.jit
    def norms_and_gradients(tensors):
        value_and_grad = jax.value_and_grad(trace_norm)
        return {mode: [value_and_grad(t, mode) for t in tensors] for mode in MODES}

    with jax.enable_x64(True):
        results = norms_and_gradients([jnp.asarray(t) for t in RANDOM + DEGENERATE])
    return jax.tree.map(np.asarray, results)


@pytest.mark.slow
def test_value_and_gradient_match_numpy(computed):
    """Value: NumPy's nuclear norm; gradient: `U V^T` (random tensors: distinct singular values)."""
    for mode in MODES:
        for tensor, (value, grad) in zip(RANDOM, computed[mode][: len(RANDOM)], strict=True):
            where = f"mode {mode}, shape {tensor.shape}"
            assert value.shape == () and grad.dtype == np.float64
            np.testing.assert_allclose(value, reference(tensor, mode), 1e-10, err_msg=where)
            want = reference_gradient(tensor, mode)
            np.testing.assert_allclose(grad, want, 1e-8, 1e-10, err_msg=where)
    # A (T, d) tensor has one nuclear norm; `all` counts both of its (transposed) unfoldings.
    assert computed["all"][0][0] == pytest.approx(2 * computed["task"][0][0], rel=1e-12)
    assert computed["last"][0][0] == pytest.approx(computed["task"][0][0], rel=1e-12)


def assert_subgradient(grad: np.ndarray, tensor: np.ndarray, axis: int) -> None:
    """A subgradient of the nuclear norm of an unfolding: <G, A> = ||A||_* and ||G||_2 <= 1."""
    g, a = numpy_unfold(grad, axis), numpy_unfold(tensor, axis)
    assert g.size == 0 or np.linalg.norm(g, 2) <= 1 + 1e-10
    np.testing.assert_allclose(np.sum(g * a), np.linalg.norm(a, "nuc"), atol=1e-10)


@pytest.mark.slow
def test_gradient_is_finite_on_zero_and_repeated_singular_values(computed):
    for mode in MODES:
        for tensor, (value, grad) in zip(DEGENERATE, computed[mode][len(RANDOM) :], strict=True):
            assert grad.shape == tensor.shape
            assert np.all(np.isfinite(grad)), f"mode {mode}, tensor {tensor}"
            np.testing.assert_allclose(value, reference(tensor, mode), atol=1e-12)
            if mode != "all":
                assert_subgradient(grad, tensor, mode_axes(mode, tensor.ndim)[0])
    np.testing.assert_allclose(computed["task"][len(RANDOM) + 1][1], np.eye(4), atol=1e-12)


def test_a_group_sums_its_tensors_norms():
    value_and_grad = jax.jit(jax.value_and_grad(trace_norm), static_argnums=1)
    rng = np.random.default_rng(3)
    group = [rng.normal(size=(3, 4)), rng.normal(size=(3, 2, 5)), rng.normal(size=(3,))]
    value, grads = value_and_grad([jnp.asarray(t, jnp.float32) for t in group], "all")
    assert value.dtype == jnp.float32
    np.testing.assert_allclose(value, sum(reference(t, "all") for t in group), rtol=1e-5)
    for grad, tensor in zip(grads, group, strict=True):
        np.testing.assert_allclose(grad, reference_gradient(tensor, "all"), rtol=1e-4, atol=1e-5)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="unknown trace_norm mode `rows`"):
        trace_norm(jnp.ones((2, 2)), "rows")
    with pytest.raises(ValueError, match="empty group"):
        trace_norm([], "task")
    with pytest.raises(ValueError, match="leading task axis"):
        trace_norm(jnp.ones(()), "task")


@pytest.mark.slow
def test_vmapped_folds_call_lapack_one_matrix_at_a_time() -> None:
    """A batched LAPACK SVD waits on XLA's thread pool; two at once deadlocked on 2 cores
    (`mode=all` with the folds vmapped). Under vmap every SVD must get a single matrix."""
    stacked = jnp.ones((2, 5, 3, 4))  # folds, tasks, inputs, outputs
    gradient = jax.vmap(jax.grad(lambda a: trace_norm(a, "all")))
    text = jax.jit(gradient).lower(stacked).as_text()
    operands = re.findall(r"custom_call @lapack_\w*gesvd\w*\(.*?\) .*?: \((tensor<[^>]*>)", text)
    assert sorted(operands) == ["tensor<3x20xf32>", "tensor<4x15xf32>", "tensor<5x12xf32>"]
    np.testing.assert_allclose(
        gradient(stacked)[1], jax.grad(lambda a: trace_norm(a, "all"))(stacked[1]), rtol=1e-6
    )
