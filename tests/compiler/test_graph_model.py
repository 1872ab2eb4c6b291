"""Sample-graph models built from specs: the layers applied along a fold graph, dense per sample."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pknet.compiler.model.base import group_arrays, group_names
from pknet.compiler.model.graph_model import SampleGraphModel
from pknet.compiler.model.graphs import adjacency, fold_knn_graph
from pknet.compiler.model.layers.graph import GatLayer, GcnLayer
from pknet.compiler.model.model import build_model
from pknet.specs.schema.model import StackModelSpec

GRAPH = {"kind": "knn", "over": "samples", "k": 3}


def model_spec(*layers: dict) -> StackModelSpec:
    return StackModelSpec.model_validate({"graph": GRAPH, "layers": list(layers)})


def fold_graph(n: int = 12, d: int = 5, seed: int = 0):
    """Points and a fold kNN graph whose first two thirds are training rows."""
    points = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    graph = fold_knn_graph(points, np.arange(2 * n // 3), 3)
    edges = (
        jnp.asarray(graph.senders, jnp.int32),
        jnp.asarray(graph.receivers, jnp.int32),
        jnp.asarray(graph.weights, jnp.float32),
    )
    return points, graph, edges


def test_gcn_then_dense_equals_a_dense_adjacency_reference() -> None:
    spec = model_spec(
        {"kind": "gcn", "units": 4, "activation": "tanh"}, {"kind": "dense", "units": 2}
    )
    model = build_model(spec, None, None, None, 5, key=jax.random.key(1))
    assert isinstance(model, SampleGraphModel)
    gcn, dense = model.layers
    gcn = eqx.tree_at(lambda m: m.bias, gcn, jnp.linspace(-0.5, 0.5, 4))
    model = SampleGraphModel((gcn, dense))
    points, graph, edges = fold_graph()

    a_hat = adjacency(graph).toarray() + np.eye(graph.n_nodes)
    scale = a_hat.sum(axis=1) ** -0.5
    hidden = np.tanh(
        (scale[:, None] * a_hat * scale[None, :]) @ points @ np.asarray(gcn.weight)
        + np.asarray(gcn.bias)
    )
    want = hidden @ np.asarray(dense.weight) + np.asarray(dense.bias)  # last layer: logits
    got = eqx.filter_jit(lambda m, x: m(x, *edges))(model, jnp.asarray(points))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_gat_model_equals_its_layer_on_the_fold_graph() -> None:
    spec = model_spec({"kind": "gat", "units": 3, "heads": 2, "concat": False})
    model = build_model(spec, None, None, None, 5, key=jax.random.key(2))
    (layer,) = model.layers
    assert isinstance(layer, GatLayer) and layer.activation == "linear"  # the last layer
    points, _, edges = fold_graph()
    x = jnp.asarray(points)
    np.testing.assert_array_equal(np.asarray(model(x, *edges)), np.asarray(layer(x, *edges)))
    assert model.output_width(5) == 3


@pytest.mark.slow
def test_widths_names_groups_and_parameter_count() -> None:
    spec = model_spec(
        {"kind": "gat", "units": 4, "heads": 3, "name": "attend"},
        {"kind": "gcn", "units": 2, "bias": False},
    )
    model = build_model(spec, None, None, None, 6, key=jax.random.key(3))
    attend, gcn = model.layers
    assert isinstance(gcn, GcnLayer) and gcn.weight.shape == (12, 2)  # 3 heads x 4 concatenated
    assert attend.activation == "relu" and gcn.activation == "linear"
    assert model.output_width(6) == 2
    assert group_names(model) == ("weights", "bias", "attend", "gcn_1")
    assert [a.shape for a in group_arrays(model, "weights")] == [(6, 12), (12, 2)]
    assert [a.shape for a in group_arrays(model, "bias")] == [(12,)]
    assert len(group_arrays(model, "attend")) == 4  # weight, two attention vectors, bias
    assert model.n_parameters == 6 * 12 + 2 * 3 * 4 + 12 + 12 * 2


@pytest.mark.slow
def test_dropout_only_with_a_key_and_the_same_key_gives_the_same_output() -> None:
    spec = model_spec(
        {"kind": "gcn", "units": 8, "dropout": 0.5},
        {"kind": "dense", "units": 3, "dropout": 0.5},
    )
    model = build_model(spec, None, None, None, 5, key=jax.random.key(4))
    points, _, edges = fold_graph()
    x = jnp.asarray(points)
    plain = np.asarray(model(x, *edges))
    first = np.asarray(model(x, *edges, key=jax.random.key(7)))
    again = np.asarray(model(x, *edges, key=jax.random.key(7)))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, plain)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gcn", "gat"])
def test_training_rows_do_not_see_held_out_rows(kind: str) -> None:
    spec = model_spec({"kind": kind, "units": 4}, {"kind": kind, "units": 2})
    model = build_model(spec, None, None, None, 5, key=jax.random.key(5))
    points, _, edges = fold_graph()
    moved = points.copy()
    moved[8:] += 10.0  # held-out rows: 8..11
    before = np.asarray(model(jnp.asarray(points), *edges))
    after = np.asarray(model(jnp.asarray(moved), *edges))
    np.testing.assert_array_equal(before[:8], after[:8])
    assert not np.allclose(before[8:], after[8:])
