"""Graph layers over the spec's network: one sample at a time, genes as graph nodes."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pknet.compiler.model.base import group_names
from pknet.compiler.model.model import build_model
from pknet.compiler.model.network_graph_model import NetworkGraphModel, graph_edges
from pknet.compiler.network.network import Network
from pknet.errors import CompileError
from pknet.specs.schema.model import StackModelSpec

# A -> B, A -> C, C -> D, B -> D, E -> D: five nodes, sorted names.
NETWORK = Network.from_edges(["A", "A", "C", "B", "E"], ["B", "C", "D", "D", "D"])
INPUTS = np.array([4, 2, 0, 1, 3])  # E, C, A, B, D: the data's column order
OUTPUTS = np.array([3, 1])  # D, B


def model_spec(graph: dict, *layers: dict) -> StackModelSpec:
    return StackModelSpec.model_validate(
        {"graph": {"kind": "network", **graph}, "layers": list(layers)}
    )


def reference_adjacency(symmetric: bool) -> np.ndarray:
    """`A[receiver, sender]` in `INPUTS` order, plus self-loops."""
    position = {int(node): i for i, node in enumerate(INPUTS)}
    a = np.eye(len(INPUTS))
    for s, d in zip(NETWORK.src, NETWORK.dst, strict=True):
        a[position[int(d)], position[int(s)]] = 1
        if symmetric:
            a[position[int(s)], position[int(d)]] = 1
    return a


def gcn_reference(a_hat: np.ndarray, h: np.ndarray, layer) -> np.ndarray:
    scale = a_hat.sum(axis=1) ** -0.5
    return (scale[:, None] * a_hat * scale[None, :]) @ h @ np.asarray(layer.weight) + np.asarray(
        layer.bias
    )


@pytest.mark.slow
@pytest.mark.parametrize("symmetric", [True, False])
def test_gcn_mean_readout_dense_equals_a_dense_adjacency_reference(symmetric: bool) -> None:
    spec = model_spec(
        {"symmetric": symmetric, "readout": "mean"},
        {"kind": "gcn", "units": 4, "activation": "tanh"},
        {"kind": "gcn", "units": 3, "activation": "tanh"},
        {"kind": "dense", "units": 2},
    )
    model = build_model(spec, NETWORK, INPUTS, OUTPUTS, 5, key=jax.random.key(0))
    assert isinstance(model, NetworkGraphModel)
    model = eqx.tree_at(lambda m: m.layers[0].bias, model, jnp.linspace(-0.5, 0.5, 4))
    gcn_1, gcn_2, dense = model.layers
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)

    a_hat = reference_adjacency(symmetric)
    want = []
    for sample in x:
        h = np.tanh(gcn_reference(a_hat, sample[:, None], gcn_1))
        h = np.tanh(gcn_reference(a_hat, h, gcn_2)).mean(axis=0)
        want.append(h @ np.asarray(dense.weight) + np.asarray(dense.bias))
    got = jax.vmap(model)(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(got), np.stack(want), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_outputs_readout_concatenates_the_output_nodes_features() -> None:
    spec = model_spec(
        {"readout": "outputs"}, {"kind": "gcn", "units": 3}, {"kind": "dense", "units": 2}
    )
    model = build_model(spec, NETWORK, INPUTS, OUTPUTS, 5, key=jax.random.key(1))
    gcn, dense = model.layers
    assert dense.weight.shape[0] == 2 * 3  # two output nodes x three features
    x = np.arange(5, dtype=np.float32)
    nodes = np.maximum(gcn_reference(reference_adjacency(True), x[:, None], gcn), 0)
    want = nodes[[4, 3]].reshape(-1) @ np.asarray(dense.weight) + np.asarray(dense.bias)
    np.testing.assert_allclose(np.asarray(model(jnp.asarray(x))), want, rtol=1e-5, atol=1e-5)
    assert model.output_width(5) == 2
    assert group_names(model) == ("weights", "bias", "gcn_1", "dense_1")


@pytest.mark.slow
def test_the_graph_is_not_trained_and_each_edge_appears_once() -> None:
    spec = model_spec({}, {"kind": "gat", "units": 2, "heads": 2}, {"kind": "dense", "units": 1})
    model = build_model(spec, NETWORK, INPUTS, OUTPUTS, 5, key=jax.random.key(2))
    trained = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    assert sum(a.size for a in trained) == model.n_parameters
    pairs = set(zip(model.senders.tolist(), model.receivers.tolist(), strict=True))
    assert len(pairs) == len(model.senders) == 2 * NETWORK.n_edges
    assert jax.vmap(model)(jnp.ones((3, 5))).shape == (3, 1)


def test_a_network_node_without_data_is_an_error_naming_it() -> None:
    with pytest.raises(CompileError, match="graph node missing in the data") as info:
        graph_edges(NETWORK, INPUTS[INPUTS != 3], symmetric=True)
    problem = info.value.problems[0]
    assert problem.path == "model.graph" and ": D" in problem.message
    assert "network.outputs: measured" in problem.hint


def test_graph_layers_over_the_network_come_before_the_dense_layers() -> None:
    with pytest.raises(ValueError, match="must come before every `dense` layer"):
        model_spec({}, {"kind": "dense", "units": 3}, {"kind": "gcn", "units": 1})
