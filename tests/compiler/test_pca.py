"""The `pca` layer: a weighted fit equals scikit-learn's PCA on the rows with weight, under vmap
too, and a model refuses more components than it has features."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.decomposition import PCA

from pknet.compiler.model.layers.pca import PcaLayer, fit_pca
from pknet.compiler.model.model import build_model
from pknet.errors import CompileError
from pknet.specs.schema.model import PcaLayerSpec, RidgeLayerSpec

RNG = np.random.default_rng(3)


def correlated(n: int, p: int) -> np.ndarray:
    return (RNG.normal(size=(n, p)) @ RNG.normal(size=(p, p)) + RNG.normal(size=p)).astype(
        np.float32
    )


@pytest.mark.slow
@pytest.mark.parametrize("whiten", [False, True])
def test_a_fit_on_the_weighted_rows_equals_scikit_learn(whiten: bool) -> None:
    x = correlated(30, 7)
    weight = np.ones(30, np.float32)
    weight[[2, 11, 29]] = 0.0  # padding rows: they must not count
    kept = x[weight > 0]
    reference = PCA(n_components=4, whiten=whiten, svd_solver="full").fit(kept)

    layer = PcaLayer(7, 4, whiten=whiten).fitted(jnp.asarray(x), jnp.asarray(weight))
    np.testing.assert_allclose(layer.mean, reference.mean_, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.components, reference.components_, atol=1e-4)
    projected = jax.vmap(layer)(jnp.asarray(kept))
    np.testing.assert_allclose(projected, reference.transform(kept), rtol=1e-4, atol=1e-3)
    # sign rule: each component's largest-magnitude loading is positive
    components = np.asarray(layer.components)
    largest = components[np.arange(4), np.abs(components).argmax(axis=1)]
    assert (largest > 0).all()


@pytest.mark.slow
def test_folds_fitted_under_vmap_equal_fits_one_by_one() -> None:
    x = jnp.asarray(correlated(20, 5))
    weights = jnp.asarray((RNG.random((3, 20)) > 0.3).astype(np.float32))
    together = jax.vmap(lambda w: fit_pca(x, w, 3, True))(weights)
    for k in range(3):
        alone = fit_pca(x, weights[k], 3, True)
        for a, b in zip(together, alone, strict=True):
            np.testing.assert_allclose(a[k], b, rtol=1e-5, atol=1e-5)


def test_more_components_than_features_is_a_located_error() -> None:
    layers = [
        PcaLayerSpec(kind="pca", name="pca_1", components=9),
        RidgeLayerSpec(kind="ridge", name="ridge_1", units=2),
    ]
    with pytest.raises(CompileError) as caught:
        build_model(layers, None, None, None, 6, key=jax.random.key(0))
    problem = caught.value.problems[0]
    assert problem.path == "model.layers[0].components"
    assert "keeps 9 components of 6 features" in problem.message
