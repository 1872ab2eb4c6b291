"""The `stack` model kind: the spec's layers applied in order (P-NET's auxiliary heads too), and
`build_model`, which builds whichever kind a spec declares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, NamedTuple, final

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.model.base import (
    AbstractModel,
    Trainer,
    check_unique_names,
    example_width,
    layer_groups,
    trainable,
)
from pknet.compiler.model.graph_model import SampleGraphModel
from pknet.compiler.model.graphs import Graph
from pknet.compiler.model.layers import DenseLayer
from pknet.compiler.model.layers.chain import layer_keys
from pknet.compiler.model.layers.registry import Wiring
from pknet.compiler.model.multitask import build_multitask
from pknet.compiler.model.network_graph_model import (
    build_feature_graph_model,
    build_network_graph_model,
)
from pknet.compiler.model.ridge_model import RidgeModel
from pknet.compiler.model.stack import build_stack
from pknet.compiler.model.vae import build_vae
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import (
    AUX_HEADS,
    LayerSpec,
    ModelSpec,
    MultitaskModelSpec,
    VaeModelSpec,
)


class AuxOutput(NamedTuple):
    """A model with auxiliary heads: its logits, each head's logits and each head's loss weight."""

    logits: Float[Array, " n_out"]
    aux_logits: Float[Array, "n_heads n_out"]
    aux_weights: Float[Array, " n_heads"]


@final
class Model(AbstractModel):
    """Layers applied in order to one example; optionally P-NET's auxiliary heads, each reading
    one level of the first (hierarchy) layer's units."""

    trainer: ClassVar[Trainer] = "minibatch"
    embeds: ClassVar[bool] = False

    layers: tuple[eqx.Module, ...]
    aux_heads: tuple[DenseLayer, ...] = ()
    aux_levels: tuple[tuple[int, int], ...] = eqx.field(static=True, default=())
    aux_weights: tuple[float, ...] = eqx.field(static=True, default=())

    def __check_init__(self) -> None:
        check_unique_names(self.layers)
        if not len(self.aux_heads) == len(self.aux_levels) == len(self.aux_weights):
            raise ValueError("give one level range and one weight per auxiliary head")

    def __call__(
        self, x: Float[Array, " n_features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " n_out"] | AuxOutput:
        """Dropout is on when `key` is given (one subkey per layer)."""
        keys = layer_keys(key, len(self.layers))
        first, *rest = self.layers
        if not self.aux_heads:
            h = first(x, key=keys[0])
        else:
            h, values = first.outputs_and_values(x, key=keys[0])
        for layer, layer_key in zip(rest, keys[1:], strict=True):
            h = layer(h, key=layer_key)
        if not self.aux_heads:
            return h
        aux = [
            head(values[a:b]) for head, (a, b) in zip(self.aux_heads, self.aux_levels, strict=True)
        ]
        return AuxOutput(h, jnp.stack(aux), jnp.asarray(self.aux_weights, h.dtype))

    def param_groups(self) -> Mapping[str, list[Array]]:
        """`weights`, `bias`, each layer, and `aux` (every auxiliary head) when there are any."""
        groups = layer_groups(self.layers, self.aux_heads)
        if self.aux_heads:
            groups[AUX_HEADS] = trainable(self.aux_heads)
        return groups

    @property
    def n_parameters(self) -> int:
        """Trainable scalars of all layers and auxiliary heads."""
        return sum(layer.n_parameters for layer in (*self.layers, *self.aux_heads))

    def output_width(self, n_features: int) -> int:
        """The logits' width (each auxiliary head gives as many)."""

        def logits(x: Float[Array, " n_features"]) -> Float[Array, " n_out"]:
            out = self(x)
            return out.logits if self.aux_heads else out

        return example_width(logits, n_features)


def build_model(
    model_spec: ModelSpec | Sequence[LayerSpec],
    network: Network | None,
    inputs: Sequence[int] | np.ndarray | None,
    outputs: Sequence[int] | np.ndarray | None,
    n_features: int,
    *,
    key: PRNGKeyArray,
    n_tasks: int = 1,
    feature_graph: Graph | None = None,
) -> AbstractModel:
    """Build the model `model_spec` declares (a list of layers: a stack); a network-wired layer
    (`kpnn`, `hierarchy`, `diffusion`) may only come first. With `gcn` or `gat` layers it is a
    `SampleGraphModel` (all samples at once, over a sample graph), or with `model.graph:
    {kind: network}` a `NetworkGraphModel` (one sample at a time), or over the input features
    (`over: features`) that model with the `feature_graph` edges the runtime built from the data.
    A `multitask` model has `n_tasks` towers (the network's outputs when its tasks read the
    network). A stack ending in a `ridge` head is a `RidgeModel`.

    That layer reads `n_features == len(inputs)` columns (in `inputs` order); a model without
    one reads `n_features` columns. `network`, `inputs`, `outputs` may be None then.
    """
    if isinstance(model_spec, MultitaskModelSpec):
        return build_multitask(model_spec, network, inputs, outputs, n_features, n_tasks, key=key)
    graph = None if isinstance(model_spec, Sequence) else model_spec.network_graph()
    if graph is not None:
        if network is None or inputs is None or outputs is None:
            raise ValueError("a graph over the network needs `network`, `inputs` and `outputs`")
        return build_network_graph_model(
            model_spec.layers, graph, network, inputs, outputs, key=key
        )
    over_features = None if isinstance(model_spec, Sequence) else model_spec.feature_graph()
    if over_features is not None:
        if feature_graph is None or feature_graph.n_nodes != n_features:
            raise ValueError(f"a graph over features needs its edges over {n_features} features")
        return build_feature_graph_model(
            model_spec.layers, over_features.pooling, feature_graph, key=key
        )
    layer_specs = model_spec if isinstance(model_spec, Sequence) else model_spec.layers
    is_vae = isinstance(model_spec, VaeModelSpec)
    wiring = (
        None
        if network is None or inputs is None or outputs is None
        else Wiring(network, inputs, outputs)
    )
    layers, width = build_stack(
        layer_specs,
        n_features,
        jax.random.split(key, len(layer_specs)),
        wiring=wiring,
        gives_outputs=not is_vae,
    )
    if is_vae:
        return build_vae(
            model_spec, layers, width, n_features, key=jax.random.fold_in(key, len(layers))
        )
    if any(spec.passes_messages for spec in layer_specs):
        return SampleGraphModel(layers)
    if layer_specs[-1].solved_head:
        return RidgeModel(layers)
    return _with_aux_heads(Model(layers), layer_specs, width, key)


def _with_aux_heads(
    model: Model, layer_specs: Sequence[LayerSpec], width: int, key: PRNGKeyArray
) -> Model:
    """`model` with one linear head per level below the top of its hierarchy layer, if asked."""
    weights = getattr(layer_specs[0], "aux_heads", None)
    if weights is None:
        return model
    levels = model.layers[0].level_bounds[:-1]
    if isinstance(weights, list) and len(weights) != len(levels):
        raise CompileError(
            Problem(
                f"{len(weights)} auxiliary head weights for {len(levels)} levels below the top",
                path="model.layers[0].aux_heads",
                hint=f"give one weight per level ({len(levels)}), or one number for all",
            )
        )
    per_level = weights if isinstance(weights, list) else [weights] * len(levels)
    keys = jax.random.split(jax.random.fold_in(key, len(layer_specs) + 1), max(len(levels), 1))
    heads = tuple(
        DenseLayer(b - a, width, activation="linear", name=f"{AUX_HEADS}_{i + 1}", key=k)
        for i, ((a, b), k) in enumerate(zip(levels, keys, strict=False))
    )
    return Model(model.layers, heads, tuple(levels), tuple(float(w) for w in per_level))
