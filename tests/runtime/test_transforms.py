"""Fold-fitted imputation and standardisation: training rows only, NaN-aware, NumPy and JAX."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pknet.runtime.transforms import (
    InputStats,
    apply_input_stats,
    fit_input_stats,
    identity_stats,
    stack_stats,
)

PROTEOMICS = Path(__file__).parents[1] / "data" / "matrices" / "plasma_proteomics_20x30.csv"


def proteins() -> np.ndarray:
    """30 samples x 20 proteins with 47 missing values (real)."""
    return pd.read_csv(PROTEOMICS, index_col=0).T.to_numpy(np.float32)


def test_matches_sklearn_imputer_then_scaler_on_real_missing_values() -> None:
    x = proteins()
    train = np.arange(0, 30, 3)
    train = np.setdiff1d(np.arange(30), train)
    stats = fit_input_stats(x, train, standardize=True, impute_mean=True)
    reference = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()).fit(x[train])
    np.testing.assert_allclose(apply_input_stats(x, stats), reference.transform(x), atol=1e-4)
    for field in (stats.fill, stats.shift, stats.scale):
        assert field.dtype == np.float32 and field.shape == (20,)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_test_rows_do_not_change_the_statistics(seed: int, with_mean: bool, with_std: bool) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(3, 2, size=(25, 4)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    train = np.sort(rng.choice(25, size=15, replace=False))
    test = np.setdiff1d(np.arange(25), train)
    kwargs = {"standardize": True, "with_mean": with_mean, "with_std": with_std}
    before = fit_input_stats(x, train, impute_mean=True, **kwargs)
    changed = x.copy()
    changed[test] = rng.normal(100, 50, size=(len(test), 4))
    after = fit_input_stats(changed, train, impute_mean=True, **kwargs)
    for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True):
        np.testing.assert_array_equal(a, b)
    if not with_mean:
        assert np.all(before.shift == 0)
    if not with_std:
        assert np.all(before.scale == 1)


def test_nan_handling_edge_cases() -> None:
    x = np.array(
        [[1.0, np.nan, 5.0], [3.0, np.nan, 5.0], [np.nan, 7.0, 5.0], [100.0, 1.0, 9.0]],
        dtype=np.float32,
    )
    stats = fit_input_stats(x, np.array([0, 1, 2]), standardize=True, impute_mean=True)
    np.testing.assert_array_equal(stats.fill, [2.0, 7.0, 5.0])  # NaN-aware training means
    np.testing.assert_array_equal(stats.scale[1:], [1.0, 1.0])  # constant columns keep scale 1
    out = apply_input_stats(x, stats)
    assert not np.isnan(out).any()
    np.testing.assert_allclose(out[2], [0.0, 0.0, 0.0])  # an imputed value is the mean
    missing_in_train = fit_input_stats(x, np.array([0, 1]), standardize=False, impute_mean=True)
    assert missing_in_train.fill[1] == 0  # no training value at all: fill 0


def test_identity_when_no_transform() -> None:
    x = proteins()
    x = x[:, ~np.isnan(x).any(axis=0)]  # the 12 complete proteins
    stats = fit_input_stats(x, np.arange(20), standardize=False, impute_mean=False)
    for a, b in zip(jax.tree.leaves(stats), jax.tree.leaves(identity_stats(12)), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(apply_input_stats(x, stats), x)


def test_jax_under_jit_and_vmap_over_stacked_folds() -> None:
    x = proteins()
    folds = [np.arange(0, 20), np.arange(10, 30), np.arange(5, 25)]
    stats = [fit_input_stats(x, f, standardize=True, impute_mean=True) for f in folds]
    stacked = stack_stats(stats)
    assert isinstance(stacked, InputStats) and stacked.fill.shape == (3, 20)
    out = jax.jit(jax.vmap(apply_input_stats, in_axes=(None, 0)))(jnp.asarray(x), stacked)
    assert out.shape == (3, 30, 20)
    for k, s in enumerate(stats):
        np.testing.assert_allclose(out[k], apply_input_stats(x, s), rtol=1e-6, atol=1e-6)
    # numpy x, traced stats: the JAX branch is taken
    per_example = jax.vmap(jax.vmap(apply_input_stats, in_axes=(0, None)), in_axes=(None, 0))
    np.testing.assert_allclose(per_example(x, stacked), out, rtol=1e-6, atol=1e-6)


def test_stats_are_frozen() -> None:
    with pytest.raises(AttributeError):
        identity_stats(2).fill = np.zeros(2)  # type: ignore[misc]
