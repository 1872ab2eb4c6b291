"""Importances mean what they say: checked against direct recomputation on a trained model."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pknet.runtime.explain import bias_importance, gradient_x_input, node_weights

pytestmark = pytest.mark.slow  # one training run shared by every test


@pytest.fixture(scope="module")
def fold(quick_run):
    """Fold 0's model and its standardised held-out samples."""
    outcome = quick_run
    test = outcome.splits[0].test[:40]
    stats = jax.tree.map(lambda a: np.asarray(a)[0], outcome.stats)
    x = jnp.asarray((outcome.dataset.x[test] - stats.shift) / stats.scale)
    return (
        outcome.trained.model(0),
        outcome.program.loss.predict,
        x,
        jnp.asarray(outcome.dataset.y[test]),
    )


def scores(model, predict, x) -> np.ndarray:
    return np.asarray(predict(jax.vmap(model)(x)))


def test_bias_importance_is_the_node_bias(fold) -> None:
    model, *_ = fold
    layer = model.layers[0]
    values = bias_importance(layer)
    slot = np.asarray(layer.node_slot)
    hidden = np.flatnonzero(slot >= layer.n_inputs)
    np.testing.assert_allclose(
        values[hidden], np.asarray(layer.bias)[slot[hidden] - layer.n_inputs]
    )
    assert np.all(np.isnan(np.delete(values, hidden)))


def test_node_weight_equals_removing_the_nodes_out_edges(fold) -> None:
    model, predict, x, y = fold
    layer = model.layers[0]
    values = node_weights(model, predict, x, y)
    node = int(np.nanargmax(values))
    parents = np.asarray(layer.unit_node)[np.asarray(layer.connection_parent)]
    cut = jnp.where(jnp.asarray(parents == node), 0.0, layer.weight)
    without = eqx.tree_at(lambda m: m.layers[0].weight, model, cut)
    change = np.abs(scores(model, predict, x) - scores(without, predict, x)).mean()
    np.testing.assert_allclose(values[node], change, rtol=1e-4)


def test_gradient_x_input_matches_finite_differences(fold) -> None:
    model, predict, x, y = fold
    layer = model.layers[0]
    values = np.asarray(gradient_x_input(model, predict, x, y))
    node = int(np.asarray(layer.unit_node)[0])  # the first input node
    eps = 1e-3

    def shifted(delta: float) -> np.ndarray:
        offset = jnp.zeros(layer.n_nodes).at[node].set(delta)
        return np.asarray(predict(jax.vmap(lambda xi: model.layers[0](xi, offset=offset))(x)))

    grad = (shifted(eps) - shifted(-eps)) / (2 * eps)
    h = np.asarray(jax.vmap(layer.node_values)(x))[:, 0]
    np.testing.assert_allclose(values[node], np.abs(grad * h).mean(), rtol=1e-2, atol=1e-6)


def test_importance_table_reports_the_control_side_by_side() -> None:
    from pknet.runtime.explain import importance_table

    folds = [{"m": np.array([0.9, 0.5, np.nan])}, {"m": np.array([0.8, 0.5, np.nan])}]
    control = [{"m": np.array([0.5, 0.5, np.nan])}, {"m": np.array([0.6, 0.4, np.nan])}]
    kind = np.array(["hidden", "hidden", "input"], dtype=object)
    table = importance_table(folds, ("A", "B", "C"), kind, control).set_index("node")
    assert list(table.index) == ["A", "B"]  # C has no value in any fold
    assert table.loc["A", "mean"] == pytest.approx(0.85)
    assert table.loc["A", "control_mean"] == pytest.approx(0.55)
    assert table.loc["A", "above_control"] and not table.loc["B", "above_control"]
    assert table.loc["A", "fold_1"] == pytest.approx(0.8)


def test_node_fan_in_counts_the_network_edges_into_each_node(quick_run) -> None:
    layer = quick_run.trained.model(0).layers[0]
    net = quick_run.program.network
    is_input = np.zeros(net.network.n_nodes, dtype=bool)
    is_input[net.inputs] = True
    used = ~is_input[net.network.dst]
    expected = np.bincount(net.network.dst[used], minlength=net.network.n_nodes)
    np.testing.assert_array_equal(layer.node_fan_in, expected)


PLANTED_FAN_IN = np.array([0, 0, 1, 2, 4, 8, 16, 32])
PLANTED_KIND = np.array(["input", "input", *["hidden"] * 6], dtype=object)


def planted_importances() -> np.ndarray:
    """Hidden importances growing as sqrt(1 + fan_in); node `h2` (fan-in 2) planted at 3x."""
    values = 0.1 * np.sqrt(1.0 + PLANTED_FAN_IN)
    values[:2] = [5.0, 7.0]  # inputs: another scale, fitted apart
    values[3] *= 3.0
    return values


def test_normalised_importance_removes_the_size_advantage() -> None:
    from pknet.runtime.explain import importance_table

    names = ("i1", "i2", "h1", "h2", "h4", "h8", "h16", "h32")
    values = planted_importances()
    folds = [{"gradient_x_input": values * 0.9}, {"gradient_x_input": values * 1.1}]
    table = importance_table(folds, names, PLANTED_KIND, fan_in=PLANTED_FAN_IN)
    hidden = table[table["kind"] == "hidden"].set_index("node")
    assert hidden["mean"].idxmax() == "h32"  # the biggest node wins on raw importance
    assert hidden["normalized"].idxmax() == "h2"  # the planted one once size is accounted for
    assert hidden.loc["h32", "fan_in"] == 32


def test_normalisation_is_the_ratio_to_a_per_kind_log_log_fit() -> None:
    from pknet.runtime.explain import importance_table

    names = tuple(f"n{i}" for i in range(len(PLANTED_FAN_IN)))
    values = planted_importances()
    folds = [{"node_weights": values, "bias": values - 1.0, "activation_auc": values / 10}]
    table = importance_table(folds, names, PLANTED_KIND, fan_in=PLANTED_FAN_IN)
    weights = table[table["method"] == "node_weights"].set_index("node")
    for group in ("input", "hidden"):
        members = group == PLANTED_KIND
        x, y = np.log1p(PLANTED_FAN_IN[members]), np.log(values[members])
        slope, intercept = np.polyfit(x, y, 1) if np.ptp(x) > 0 else (0.0, y.mean())
        expected = values[members] / np.exp(intercept + slope * x)
        got = weights.loc[list(np.asarray(names)[members]), "normalized"]
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    others = table[table["method"] != "node_weights"]
    assert others["normalized"].isna().all()  # bias is signed; an AUC is already size-free
