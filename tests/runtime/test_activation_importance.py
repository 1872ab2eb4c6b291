"""Activation importance against scikit-learn: the per-node fits and their held-out AUC."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from pknet.runtime.activation_importance import (
    RIDGE,
    _fit_logistic,
    activation_auc,
    auc_per_column,
)

pytestmark = pytest.mark.slow  # end-to-end runs

rng = np.random.default_rng(0)


def test_auc_per_column_matches_sklearn_with_ties() -> None:
    y = rng.integers(0, 2, 60)
    scores = np.round(rng.normal(size=(60, 5)) + y[:, None] * [0, 0.5, 1, 2, -1], 1)
    expected = [roc_auc_score(y, scores[:, j]) for j in range(5)]
    np.testing.assert_allclose(auc_per_column(scores, y), expected)


def test_logistic_fit_matches_sklearn_ridge() -> None:
    n = 200
    x = rng.normal(size=(n, 2))
    y = (x @ [1.5, -1.0] + rng.normal(size=n) > 0).astype(float)
    w = np.asarray(_fit_logistic(jnp.asarray(x), jnp.asarray(y)))
    # sklearn minimises C * sum(logloss) + |w|^2 / 2, i.e. mean(logloss) + |w|^2 / (2 C n)
    reference = LogisticRegression(C=1 / (RIDGE * n), tol=1e-10).fit(x, y)
    np.testing.assert_allclose(w[:-1], reference.coef_[0], rtol=1e-4)
    np.testing.assert_allclose(w[-1], reference.intercept_[0], rtol=1e-4, atol=1e-6)


def test_activation_auc_ranks_the_informative_node_first(quick_run) -> None:
    outcome = quick_run
    split = outcome.splits[0]
    layer = outcome.trained.model(0).layers[0]
    x = jnp.asarray(outcome.dataset.x)
    auc = activation_auc(
        layer,
        x[split.train],
        outcome.dataset.y[split.train],
        x[split.test],
        outcome.dataset.y[split.test],
    )
    assert auc.shape == (layer.n_nodes,)
    tcr = outcome.network.network.nodes.index("TCR")
    assert auc[tcr] > 0.9  # the output node's activation is the model's prediction
