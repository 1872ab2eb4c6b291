"""Graph layers over a graph of the input features: the network-graph model with data edges."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from pknet.compiler.model.graphs import knn_graph, symmetrize
from pknet.compiler.model.model import build_model
from pknet.compiler.model.network_graph_model import NetworkGraphModel
from pknet.specs import load_spec
from pknet.specs.schema.model import StackModelSpec

POINTS = np.random.default_rng(3).normal(size=(6, 9))  # 6 features x 9 samples
EDGES = symmetrize(knn_graph(POINTS, 2))


def gcn_reference(a_hat: np.ndarray, h: np.ndarray, layer) -> np.ndarray:
    """Kipf & Welling's propagation with a dense adjacency (self-loops included)."""
    scale = a_hat.sum(axis=1) ** -0.5
    propagated = (scale[:, None] * a_hat * scale[None, :]) @ h
    return propagated @ np.asarray(layer.weight) + np.asarray(layer.bias)


def model_spec(graph: dict, *layers: dict) -> StackModelSpec:
    return StackModelSpec.model_validate(
        {"graph": {"kind": "knn", "over": "features", "k": 2, **graph}, "layers": list(layers)}
    )


@pytest.mark.slow
@pytest.mark.parametrize("readout", ["mean", "max"])
def test_gcn_over_features_equals_a_dense_adjacency_reference(readout: str) -> None:
    spec = model_spec(
        {"readout": readout},
        {"kind": "gcn", "units": 4, "activation": "tanh"},
        {"kind": "gcn", "units": 3, "activation": "tanh"},
        {"kind": "dense", "units": 2},
    )
    model = build_model(spec, None, None, None, 6, key=jax.random.key(0), feature_graph=EDGES)
    assert isinstance(model, NetworkGraphModel)
    gcn_1, gcn_2, dense = model.layers
    a_hat = np.eye(6)
    a_hat[EDGES.receivers, EDGES.senders] = 1
    np.testing.assert_array_equal(a_hat, a_hat.T)  # the kNN graph is symmetrised
    x = np.random.default_rng(0).normal(size=(7, 6)).astype(np.float32)
    pool = np.mean if readout == "mean" else np.max
    want = []
    for sample in x:
        h = np.tanh(gcn_reference(a_hat, sample[:, None], gcn_1))
        h = pool(np.tanh(gcn_reference(a_hat, h, gcn_2)), axis=0)
        want.append(h @ np.asarray(dense.weight) + np.asarray(dense.bias))
    got = jax.vmap(model)(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(got), np.stack(want), rtol=1e-5, atol=1e-5)


def test_a_graph_over_features_needs_its_edges() -> None:
    spec = model_spec({}, {"kind": "gcn", "units": 2}, {"kind": "dense", "units": 1})
    with pytest.raises(ValueError, match="needs its edges over 5 features"):
        build_model(spec, None, None, None, 5, key=jax.random.key(0), feature_graph=EDGES)
    assert spec.feature_graph() is spec.graph and spec.sample_graph() is None


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ({"readout": "outputs"}, "readout"),
        ({"pca": 5}, "`pca` projects samples"),
        ({"over": "samples", "readout": "mean"}, "`readout` pools feature nodes"),
    ],
)
def test_fields_of_the_other_kind_of_graph_are_rejected(graph: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model_spec(graph, {"kind": "gcn", "units": 2}, {"kind": "dense", "units": 1})


def test_the_feature_gcn_example_spec_validates() -> None:
    spec = load_spec(Path(__file__).parents[2] / "examples" / "gnn_celltype" / "feature_gcn.yaml")
    graph = spec.model.feature_graph()
    assert (graph.kind, graph.over, graph.k, graph.pooling) == ("knn", "features", 10, "mean")
    assert [layer.kind for layer in spec.model.layers] == ["gcn", "gcn", "dense"]
