"""Activation importance, as NetworkVI reads a structured network.

For every node, a logistic regression on that node's activations (its units) is fitted to the
labels of a fold's training samples and scored by ROC-AUC on the fold's held-out samples: a
node whose activations alone separate the classes matters. All nodes are fitted at once
(`vmap` of a few Newton steps on a ridge-penalised logistic loss).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import rankdata

RIDGE = 1e-2
NEWTON_STEPS = 15


def node_features(layer, x: jax.Array) -> jax.Array:
    """(samples, nodes, max units) activations, zero where a node has fewer units."""
    unit_node = np.asarray(layer.unit_node)
    slot_of = np.argsort(unit_node, kind="stable")
    counts = np.bincount(unit_node, minlength=layer.n_nodes)
    width = int(counts.max())
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(unit_node)) - first[unit_node[slot_of]]
    index = np.full((layer.n_nodes, width), -1)
    index[unit_node[slot_of], rank] = slot_of
    values = jax.vmap(layer.node_values)(x)  # (samples, slots)
    gathered = jnp.take(values, jnp.asarray(np.maximum(index, 0)), axis=1)
    return jnp.where(jnp.asarray(index >= 0), gathered, 0.0)


@jax.jit
def _fit_logistic(features: jax.Array, y: jax.Array) -> jax.Array:
    """Ridge logistic regression of `y` on `features` (samples, units): weights with intercept."""
    design = jnp.concatenate([features, jnp.ones((features.shape[0], 1))], axis=1)
    penalty = RIDGE * jnp.eye(design.shape[1]).at[-1, -1].set(0.0)

    def step(w: jax.Array, _: None) -> tuple[jax.Array, None]:
        p = jax.nn.sigmoid(design @ w)
        grad = design.T @ (p - y) / len(y) + penalty @ w
        hessian = (design.T * (p * (1 - p))) @ design / len(y) + penalty
        return w - jnp.linalg.solve(hessian + 1e-8 * jnp.eye(len(w)), grad), None

    w, _ = jax.lax.scan(step, jnp.zeros(design.shape[1]), None, length=NEWTON_STEPS)
    return w


def _standardise(train: jax.Array, test: jax.Array) -> tuple[jax.Array, jax.Array]:
    mean = train.mean(axis=0)
    sd = train.std(axis=0)
    sd = jnp.where(sd > 1e-8, sd, 1.0)
    return (train - mean) / sd, (test - mean) / sd


def auc_per_column(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC-AUC of each column of `scores` (samples, columns) for binary `y` (ties count 1/2)."""
    positive = y == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(scores.shape[1], np.nan)
    ranks = rankdata(scores, axis=0)
    return (ranks[positive].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def activation_auc(
    layer, x_train: jax.Array, y_train: np.ndarray, x_test: jax.Array, y_test: np.ndarray
) -> np.ndarray:
    """Held-out ROC-AUC of a per-node logistic regression on the node's activations."""
    train, test = _standardise(node_features(layer, x_train), node_features(layer, x_test))
    return _node_aucs(train, y_train, test, y_test)


def activation_auc_per_class(
    layer,
    x_train: jax.Array,
    y_train: np.ndarray,
    x_test: jax.Array,
    y_test: np.ndarray,
    n_classes: int,
) -> np.ndarray:
    """(classes, nodes): `activation_auc` of each class against the rest (one forward pass)."""
    train, test = _standardise(node_features(layer, x_train), node_features(layer, x_test))
    return np.stack([_node_aucs(train, y_train == c, test, y_test == c) for c in range(n_classes)])


def _node_aucs(
    train: jax.Array, y_train: np.ndarray, test: jax.Array, y_test: np.ndarray
) -> np.ndarray:
    y = jnp.asarray(y_train, train.dtype)
    weights = jax.vmap(_fit_logistic, in_axes=(1, None))(train, y)  # (nodes, units + 1)
    scores = jnp.einsum("snu,nu->sn", test, weights[:, :-1]) + weights[:, -1]
    return auc_per_column(np.asarray(scores), np.asarray(y_test, dtype=np.int64))
