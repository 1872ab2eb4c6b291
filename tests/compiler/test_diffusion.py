"""RWR operators from the sparse LU against the dense inverse; the layer under jit and vmap."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse

from pknet.compiler.model.graphs import adjacency, graph_from_edges
from pknet.compiler.model.layers.diffusion import DiffusionLayer, rwr_operator

pytestmark = pytest.mark.usefixtures("strict_promotion")


def random_adjacency(seed: int, n: int = 8, dangling: bool = False) -> np.ndarray:
    """Dense `A[i, j]` = weight of `j -> i`; every column non-zero unless `dangling`."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.1, 2.0, (n, n)) * (rng.random((n, n)) < 0.35)
    a[(np.arange(n) + 1) % n, np.arange(n)] += 1.0  # a cycle: every node has an out-edge
    if dangling:
        a[:, [1, 4]] = 0.0
    return a


def dense_reference(a: np.ndarray, alpha: float) -> np.ndarray:
    """`(1 - alpha) (I - alpha A D^-1)^-1` with `D^-1 = 0` on zero out-degree."""
    out_degree = a.sum(axis=0)
    inverse = np.where(out_degree > 0, 1.0 / np.where(out_degree > 0, out_degree, 1.0), 0.0)
    walk = a * inverse[None, :]
    return (1.0 - alpha) * np.linalg.inv(np.eye(len(a)) - alpha * walk)


@pytest.mark.parametrize("dangling", [False, True])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.85, 0.99])
def test_factorised_solve_equals_the_dense_inverse(alpha, dangling):
    a = random_adjacency(int(alpha * 100), dangling=dangling)
    got = rwr_operator(scipy.sparse.csr_array(a), alpha)
    np.testing.assert_allclose(got, dense_reference(a, alpha), rtol=1e-10, atol=1e-12)
    sums = got.sum(axis=0)
    if dangling:
        assert np.all(sums <= 1 + 1e-12) and np.any(sums < 1 - 1e-6)
        np.testing.assert_allclose(got[:, [1, 4]], (1 - alpha) * np.eye(8)[:, [1, 4]])
    else:
        np.testing.assert_allclose(sums, 1.0, rtol=1e-12)


def test_several_alphas_stack_along_the_output_axis():
    a = random_adjacency(0)
    got = rwr_operator(scipy.sparse.coo_array(a), [0.3, 0.7])
    want = np.concatenate([dense_reference(a, 0.3), dense_reference(a, 0.7)], axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_sources_and_targets_select_columns_and_rows(monkeypatch):
    a = random_adjacency(1, n=12, dangling=True)
    sources, targets = [5, 0, 11, 3, 5], [2, 9, 7]
    full = rwr_operator(scipy.sparse.csc_array(a), [0.4, 0.9])
    # Chunks of 2 sources: the loop over chunks is exercised too.
    monkeypatch.setattr("pknet.compiler.model.layers.diffusion.SOLVE_CHUNK", 2)
    got = rwr_operator(scipy.sparse.csc_array(a), [0.4, 0.9], sources=sources, targets=targets)
    want = np.concatenate([full[:12][targets][:, sources], full[12:][targets][:, sources]])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_edge_convention_matches_the_graph_adjacency():
    """A chain 0 -> 1 -> 2: heat started at 0 flows to 1 and 2, never back."""
    graph = graph_from_edges(3, senders=[0, 1], receivers=[1, 2])
    f = rwr_operator(adjacency(graph), 0.5)
    want = np.array([[0.5, 0, 0], [0.25, 0.5, 0], [0.125, 0.25, 0.5]])
    np.testing.assert_allclose(f, want, rtol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.2, 1.5, [0.5, 1.0]])
def test_alpha_outside_the_open_unit_interval_raises(alpha):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        rwr_operator(scipy.sparse.eye_array(3), alpha)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="at least one restart alpha"):
        rwr_operator(scipy.sparse.eye_array(3), [])
    with pytest.raises(ValueError, match="square"):
        rwr_operator(scipy.sparse.csr_array(np.ones((2, 3))), 0.5)
    with pytest.raises(ValueError, match="non-negative"):
        rwr_operator(scipy.sparse.csr_array(-np.eye(2)), 0.5)
    with pytest.raises(ValueError, match=r"targets must be node indices in \[0, 3\)"):
        rwr_operator(scipy.sparse.eye_array(3), 0.5, targets=[3])


def test_layer_applies_the_operator_under_jit_and_vmap_and_trains_nothing():
    a = scipy.sparse.csr_array(random_adjacency(2))
    layer = DiffusionLayer(a, [0.2, 0.8], sources=[0, 3, 5], targets=[1, 2])
    assert (layer.n_sources, layer.n_targets, layer.n_parameters) == (3, 2, 0)
    assert jax.tree.leaves(eqx.filter(layer, eqx.is_inexact_array)) == []
    operator = rwr_operator(a, [0.2, 0.8], sources=[0, 3, 5], targets=[1, 2])
    np.testing.assert_array_equal(layer.operator, operator.astype(np.float32))

    x0 = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    got = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(layer, x0)
    np.testing.assert_allclose(got, x0 @ operator.T, rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda x: layer(x).sum())(jnp.asarray(x0[0]))
    np.testing.assert_allclose(grad, operator.sum(axis=0), rtol=1e-5)


def test_layer_keeps_float64_under_x64():
    with jax.enable_x64(True):
        layer = DiffusionLayer(scipy.sparse.csr_array(random_adjacency(3)), 0.5)
        assert layer.operator.dtype == jnp.float64
        np.testing.assert_array_equal(
            layer.operator, rwr_operator(scipy.sparse.csr_array(random_adjacency(3)), 0.5)
        )
