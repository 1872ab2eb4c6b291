"""A model over a sample graph: all samples at once, `gcn`/`gat` layers along the graph's edges.

`SampleGraphModel(x, senders, receivers, weights)` maps the inputs of every sample, `(n, d)`, to
every sample's outputs, `(n, n_out)`. Graph layers pass messages along the edges (each sample is a
node); `dense` layers act on each sample alone; a first `node2vec` layer embeds the nodes from
the graph alone. The graph is an argument, so the K folds of a cross-validation pass their own
graphs, padded to one edge count with weight-0 edges.

A `node2vec` layer does not train by the model's loss, so a trainer computes it once per graph
(`prepare`) and then runs the other layers on its output (`__call__(..., prepared=True)`).
"""

from __future__ import annotations

from typing import ClassVar, final

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pknet.compiler.model.base import AbstractLayerStack, Trainer, check_unique_names
from pknet.compiler.model.layers import DenseLayer
from pknet.compiler.model.layers.chain import layer_keys
from pknet.compiler.model.layers.graph import GatLayer, GcnLayer
from pknet.compiler.model.layers.node2vec import Node2vecLayer
from pknet.compiler.model.walks import MAX_NODES

GraphLayer = GcnLayer | GatLayer


@final
class SampleGraphModel(AbstractLayerStack):
    """Layers applied in order to all samples; graph layers along the sample graph, `dense`
    layers to each sample alone."""

    trainer: ClassVar[Trainer] = "full_graph"
    embeds: ClassVar[bool] = False

    layers: tuple[Node2vecLayer | GraphLayer | DenseLayer, ...]

    def __check_init__(self) -> None:
        check_unique_names(self.layers)
        if any(isinstance(layer, Node2vecLayer) for layer in self.layers[1:]):
            raise ValueError("a node2vec layer can only be the first layer")

    @property
    def n_prepared(self) -> int:
        """How many first layers `prepare` computes (a `node2vec` layer: 1, else 0)."""
        return int(isinstance(self.layers[0], Node2vecLayer))

    def graph_node_limit(self) -> tuple[int, str] | None:
        """A first `node2vec` layer numbers its (receiver, sender) pairs in int32."""
        return (MAX_NODES, "model.layers[0]") if self.n_prepared else None

    def prepare(
        self,
        x: Float[Array, "n_samples n_features"],
        senders: Int[Array, " n_edges"],
        receivers: Int[Array, " n_edges"],
        weights: Float[Array, " n_edges"],
    ) -> Float[Array, "n_samples width"]:
        """The output of the first `n_prepared` layers, which do not train (`x` if none)."""
        for layer in self.layers[: self.n_prepared]:
            x = layer(x, senders, receivers, weights)
        return x

    def __call__(
        self,
        x: Float[Array, "n_samples n_features"],
        senders: Int[Array, " n_edges"],
        receivers: Int[Array, " n_edges"],
        weights: Float[Array, " n_edges"],
        *,
        key: PRNGKeyArray | None = None,
        prepared: bool = False,
    ) -> Float[Array, "n_samples n_out"]:
        """Dropout is on when `key` is given (one subkey per layer, one per sample in a dense
        layer). With `prepared`, `x` is already `prepare`'s output."""
        keys = layer_keys(key, len(self.layers))
        start = self.n_prepared if prepared else 0
        for layer, layer_key in zip(self.layers[start:], keys[start:], strict=True):
            if isinstance(layer, DenseLayer):
                x = _per_sample(layer, x, layer_key)
            else:
                x = layer(x, senders, receivers, weights, key=layer_key)
        return x

    def output_width(self, n_features: int) -> int:
        """Outputs per sample for `n_features` inputs."""
        none = jnp.zeros(0, jnp.int32)
        out = jax.eval_shape(
            lambda *args: self(*args), jnp.zeros((1, n_features)), none, none, jnp.zeros(0)
        )
        return int(out.shape[-1])


def _per_sample(layer: DenseLayer, x: Array, key: PRNGKeyArray | None) -> Array:
    if key is None:
        return jax.vmap(lambda xi: layer(xi))(x)
    return jax.vmap(lambda xi, ki: layer(xi, key=ki))(x, jax.random.split(key, len(x)))
