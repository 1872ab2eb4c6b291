"""A model over the spec's network: genes are graph nodes and each sample is a signal on them.

`NetworkGraphModel(x)` maps one sample's inputs, `(n_inputs,)` (one value per network node, in
`inputs` order), to its outputs. The value of each node is its one input feature; `gcn`/`gat`
layers pass messages along the network's fixed edges, a readout (`mean`, `max` or the output
nodes' features) gives one vector, and `dense` layers follow. Being per sample (inductive), it
trains in minibatches like any other model.

The same model runs over a graph of the input features (`model.graph: {kind: knn|cosine, over:
features}`), with the edges the runtime built from the data (`build_feature_graph_model`).

The graph is stored as integer arrays, so training (which updates every inexact array) leaves
it alone; every edge has weight 1. `gcn` layers propagate with the graph's `GcnOperator` (padded
rows, gathers forward and backward); `gat` layers pass messages along the edge arrays
(`segment_sum`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, final

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pknet.compiler.model.base import (
    AbstractLayerStack,
    Trainer,
    check_unique_names,
    example_width,
)
from pknet.compiler.model.graph_model import GraphLayer
from pknet.compiler.model.graphs import Graph
from pknet.compiler.model.layers import DenseLayer
from pknet.compiler.model.layers.chain import layer_keys
from pknet.compiler.model.layers.gcn_operator import GcnOperator
from pknet.compiler.model.layers.graph import GcnLayer
from pknet.compiler.model.stack import build_stack
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem
from pknet.specs.schema.graph import NetworkGraphSpec
from pknet.specs.schema.model import LayerSpec

GRAPH_NODE_HINT = (
    "every graph node needs a data column: use `network.inputs: measured` and "
    "`network.outputs: measured` (nodes off every path between them are dropped), map the "
    "node names to data columns (`network.features`), or leave those nodes' edges out"
)


@final
class NetworkGraphModel(AbstractLayerStack):
    """Graph layers over the network's nodes, a readout, then `dense` layers."""

    trainer: ClassVar[Trainer] = "minibatch"
    embeds: ClassVar[bool] = False

    layers: tuple[GraphLayer | DenseLayer, ...]
    senders: Int[Array, " n_edges"]
    receivers: Int[Array, " n_edges"]
    operator: GcnOperator
    readout_nodes: Int[Array, " n_readout"]
    readout: str = eqx.field(static=True)

    def __check_init__(self) -> None:
        check_unique_names(self.layers)

    def __call__(
        self, x: Float[Array, " n_inputs"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " n_out"]:
        """Dropout is on when `key` is given (one subkey per layer)."""
        keys = layer_keys(key, len(self.layers))
        weights = jnp.ones(self.senders.shape, jnp.float32)
        h = x[:, None]
        for layer, layer_key in zip(self.layers[: self._n_graph], keys, strict=False):
            if isinstance(layer, GcnLayer):
                h = layer.on(h, self.operator, key=layer_key)
            else:
                h = layer(h, self.senders, self.receivers, weights, key=layer_key)
        return self._head(self._read(h), key)

    def batched(
        self, x: Float[Array, "batch n_inputs"], *, keys: PRNGKeyArray | None = None
    ) -> Float[Array, "batch n_out"]:
        """`vmap` of `__call__` over `x`, with the examples on an axis after the nodes through
        the `gcn` layers, so each propagation gathers whole rows of examples x features (the
        trainer's path). With `gat` layers, or dropout on (`keys`) in a graph layer, it is the
        `vmap`."""
        graph = self.layers[: self._n_graph]
        if any(not isinstance(g, GcnLayer) or (keys is not None and g.dropout) for g in graph):
            return super().batched(x, keys=keys)
        h = x.T[:, :, None]  # nodes, examples, features
        for layer in graph:
            h = layer.on(h, self.operator)
        pooled = jax.vmap(self._read, in_axes=1)(h)
        return jax.vmap(self._head)(pooled) if keys is None else jax.vmap(self._head)(pooled, keys)

    @property
    def _n_graph(self) -> int:
        """The graph layers come first, then the `dense` layers after the readout."""
        dense = (i for i, layer in enumerate(self.layers) if isinstance(layer, DenseLayer))
        return next(dense, len(self.layers))

    def _head(self, pooled: Float[Array, " width"], key: PRNGKeyArray | None = None) -> Array:
        """The `dense` layers after the readout, with their subkeys of `key`."""
        keys = layer_keys(key, len(self.layers))[self._n_graph :]
        for layer, layer_key in zip(self.layers[self._n_graph :], keys, strict=True):
            pooled = layer(pooled, key=layer_key)
        return pooled

    def _read(self, h: Float[Array, "n_nodes features"]) -> Float[Array, " width"]:
        """One vector from the node features."""
        if self.readout == "mean":
            return h.mean(axis=0)
        if self.readout == "max":
            return h.max(axis=0)
        return h[self.readout_nodes].reshape(-1)

    def output_width(self, n_features: int) -> int:
        """The width after the readout and the `dense` layers."""
        return example_width(self, n_features)


def graph_edges(
    network: Network, inputs: Sequence[int] | np.ndarray, *, symmetric: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The network's edges as (senders, receivers) indexing `inputs`; each pair once, both ways
    when `symmetric`. Raises a `CompileError` when a network node is not an input."""
    position = np.full(network.n_nodes, -1, np.int64)
    position[np.asarray(inputs, np.int64)] = np.arange(len(inputs))
    missing = [network.nodes[i] for i in np.flatnonzero(position < 0)]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise CompileError(
            Problem(
                f"graph node missing in the data: {len(missing)} network node(s) are not "
                f"measured inputs, so they have no value: {shown}",
                path="model.graph",
                hint=GRAPH_NODE_HINT,
            )
        )
    senders, receivers = position[network.src], position[network.dst]
    if symmetric:
        senders, receivers = np.r_[senders, receivers], np.r_[receivers, senders]
    pairs = np.unique(np.stack([senders, receivers], axis=1), axis=0).reshape(-1, 2)
    return pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32)


def build_network_graph_model(
    layer_specs: Sequence[LayerSpec],
    graph: NetworkGraphSpec,
    network: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    key: PRNGKeyArray,
) -> NetworkGraphModel:
    """The model over `network` (nodes in `inputs` order): `gcn`/`gat` layers with one input
    feature per node, the readout, then `dense` layers; the last layer gives the logits."""
    senders, receivers = graph_edges(network, inputs, symmetric=graph.symmetric)
    position = {int(node): i for i, node in enumerate(inputs)}
    readout_nodes = np.asarray([position[int(o)] for o in outputs], np.int32)
    layers = _graph_stack(layer_specs, graph.readout, len(readout_nodes), key)
    return NetworkGraphModel(
        layers,
        jnp.asarray(senders),
        jnp.asarray(receivers),
        GcnOperator.of(senders, receivers, len(inputs)),
        jnp.asarray(readout_nodes),
        graph.readout,
    )


def build_feature_graph_model(
    layer_specs: Sequence[LayerSpec],
    readout: str,
    edges: Graph,
    *,
    key: PRNGKeyArray,
) -> NetworkGraphModel:
    """The model over a graph of the input features (`edges`, one node per input column, unit
    weights): `gcn`/`gat` layers, the `mean` or `max` readout, then `dense` layers."""
    return NetworkGraphModel(
        _graph_stack(layer_specs, readout, 0, key),
        jnp.asarray(edges.senders, jnp.int32),
        jnp.asarray(edges.receivers, jnp.int32),
        GcnOperator.of(edges.senders, edges.receivers, edges.n_nodes),
        jnp.zeros(0, jnp.int32),
        readout,
    )


def _graph_stack(
    layer_specs: Sequence[LayerSpec], readout: str, n_readout: int, key: PRNGKeyArray
) -> tuple[GraphLayer | DenseLayer, ...]:
    """Graph layers with one input feature per node, then `dense` layers after the readout
    (`outputs`: `n_readout` nodes' features concatenated); the last layer gives the logits."""
    keys = jax.random.split(key, len(layer_specs))
    n_graph = next(
        (i for i, spec in enumerate(layer_specs) if not spec.passes_messages), len(layer_specs)
    )
    graph, width = build_stack(
        layer_specs[:n_graph], 1, keys[:n_graph], gives_outputs=n_graph == len(layer_specs)
    )
    width *= n_readout if readout == "outputs" else 1
    dense, _ = build_stack(layer_specs[n_graph:], width, keys[n_graph:], first=n_graph)
    return graph + dense
