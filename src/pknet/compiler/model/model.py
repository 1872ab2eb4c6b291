"""The model: the spec's layers stacked in order, and the parameter groups the loss names.

Groups: `weights` (every layer's `weight`), `bias` (every layer's bias) and each layer's `name`
(all trainable arrays of that layer). `group_arrays` works unchanged on models whose arrays carry
a leading fold axis (the runtime vmaps over stacked models).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.model.graph_model import GraphLayer, SampleGraphModel, graph_layer
from pknet.compiler.model.graphs import Graph
from pknet.compiler.model.layers import DenseLayer, NetworkLayer, plan_hierarchy, plan_kpnn
from pknet.compiler.model.layers.chain import layer_keys
from pknet.compiler.model.layers.diffusion import DiffusionLayer, network_diffusion
from pknet.compiler.model.layers.pca import PcaLayer
from pknet.compiler.model.layers.ridge import RidgeLayer
from pknet.compiler.model.multitask import MultitaskModel, build_multitask
from pknet.compiler.model.network_graph_model import (
    NetworkGraphModel,
    build_feature_graph_model,
    build_network_graph_model,
)
from pknet.compiler.model.vae import Vae
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import (
    AUX_HEADS,
    DenseLayerSpec,
    DiffusionLayerSpec,
    GatLayerSpec,
    GcnLayerSpec,
    HierarchyLayerSpec,
    KpnnLayerSpec,
    LayerSpec,
    ModelSpec,
    MultitaskModelSpec,
    PcaLayerSpec,
    RidgeLayerSpec,
    VaeModelSpec,
)

Layer = NetworkLayer | DenseLayer | GraphLayer | DiffusionLayer | PcaLayer | RidgeLayer
WEIGHTS = "weights"
BIAS = "bias"


class AuxOutput(NamedTuple):
    """A model with auxiliary heads: its logits, each head's logits and each head's loss weight."""

    logits: Float[Array, " n_out"]
    aux_logits: Float[Array, "n_heads n_out"]
    aux_weights: Float[Array, " n_heads"]


class Model(eqx.Module):
    """Layers applied in order to one example; optionally P-NET's auxiliary heads, each reading
    one level of the first (hierarchy) layer's units."""

    layers: tuple[Layer, ...]
    aux_heads: tuple[DenseLayer, ...] = ()
    aux_levels: tuple[tuple[int, int], ...] = eqx.field(static=True, default=())
    aux_weights: tuple[float, ...] = eqx.field(static=True, default=())

    def __check_init__(self) -> None:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names must be unique, got {names}")
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

    @property
    def n_parameters(self) -> int:
        """Trainable scalars of all layers and auxiliary heads."""
        return sum(layer.n_parameters for layer in (*self.layers, *self.aux_heads))


def _layer_problem(index: int, field: str, message: str, hint: str) -> CompileError:
    return CompileError(Problem(message, path=f"model.layers[{index}].{field}", hint=hint))


def _network_layer(
    index: int,
    spec: KpnnLayerSpec | HierarchyLayerSpec | DiffusionLayerSpec,
    network: Network | None,
    inputs: Sequence[int] | np.ndarray | None,
    outputs: Sequence[int] | np.ndarray | None,
    n_features: int,
    *,
    last: bool,
    key: PRNGKeyArray,
) -> NetworkLayer | DiffusionLayer:
    """A `kpnn`, `hierarchy` or `diffusion` layer: it comes first and reads one data column per
    input node."""
    if index > 0:
        raise _layer_problem(
            index,
            "kind",
            f"a `{spec.kind}` layer reads the network's input nodes, so it must be the first layer",
            f"move the {spec.kind} layer to `model.layers[0]`",
        )
    if network is None or inputs is None or outputs is None:
        raise ValueError(f"a {spec.kind} layer needs `network`, `inputs` and `outputs`")
    if n_features != len(inputs):
        raise CompileError(
            Problem(
                f"the data give {n_features} feature columns for {len(inputs)} input nodes",
                path="network.inputs",
                hint="map exactly one data column to each input node, in `inputs` order",
            )
        )
    try:
        if isinstance(spec, DiffusionLayerSpec):
            return network_diffusion(network, inputs, outputs, spec)
        if isinstance(spec, KpnnLayerSpec):
            plan = plan_kpnn(
                network,
                inputs,
                outputs,
                units_per_node=spec.units_per_node,
                last=last,
                dropout_rule=spec.dropout_rule,
                signed=spec.signed,
            )
            batchnorm = spec.input_batchnorm
        else:
            plan = plan_hierarchy(
                network,
                inputs,
                outputs,
                min_genes=spec.min_genes,
                max_genes=spec.max_genes,
                max_depth=spec.max_depth,
                padding=spec.padding,
                units_per_gene=spec.units_per_gene,
                units_per_term=spec.units_per_term,
                last=last,
            )
            batchnorm = False
        return NetworkLayer(
            plan,
            name=spec.name,
            activation=spec.activation,
            dropout=spec.dropout,
            bias=spec.bias,
            input_batchnorm=batchnorm,
            key=key,
        )
    except CompileError as exc:
        raise _at_layer(index, exc) from None


def _at_layer(index: int, error: CompileError) -> CompileError:
    """Give a layer's problems without a field path the path `model.layers[index]`."""
    problems = [
        p if p.path else dataclasses.replace(p, path=f"model.layers[{index}]")
        for p in error.problems
    ]
    return type(error)(problems)


def _build_layers(
    layer_specs: Sequence[KpnnLayerSpec | HierarchyLayerSpec | DenseLayerSpec],
    network: Network | None,
    inputs: Sequence[int] | np.ndarray | None,
    outputs: Sequence[int] | np.ndarray | None,
    n_features: int,
    *,
    gives_outputs: bool,
    key: PRNGKeyArray,
) -> tuple[tuple[Layer, ...], int]:
    """The layers in order and the width of the last one's output.

    With `gives_outputs`, the last layer returns logits (no activation, one unit per output
    node); otherwise every layer applies its activation (e.g. a VAE's encoder).
    """
    keys = jax.random.split(key, len(layer_specs))
    layers: list[Layer] = []
    width = n_features
    for i, (spec, layer_key) in enumerate(zip(layer_specs, keys, strict=True)):
        last = gives_outputs and i == len(layer_specs) - 1
        if isinstance(spec, KpnnLayerSpec | HierarchyLayerSpec):
            layer: Layer = _network_layer(
                i, spec, network, inputs, outputs, n_features, last=last, key=layer_key
            )
            width = layer.output_slot.shape[-1]
        elif isinstance(spec, DiffusionLayerSpec):
            layer = _network_layer(
                i, spec, network, inputs, outputs, n_features, last=last, key=layer_key
            )
            width = layer.n_outputs
        elif isinstance(spec, RidgeLayerSpec):
            layer = RidgeLayer(width, spec)
            width = spec.units
        elif isinstance(spec, PcaLayerSpec):
            if spec.components > width:
                raise _layer_problem(
                    i,
                    "components",
                    f"the `pca` layer keeps {spec.components} components of {width} features",
                    f"keep at most {width} components",
                )
            layer = PcaLayer(width, spec)
            width = spec.components
        elif isinstance(spec, DenseLayerSpec):
            layer = DenseLayer(width, spec, last=last, key=layer_key)
            width = spec.units
        elif isinstance(spec, GcnLayerSpec | GatLayerSpec):
            layer, width = graph_layer(width, spec, last=last, key=layer_key)
        else:
            raise TypeError(f"no layer is built for specs of type {type(spec).__name__}")
        layers.append(layer)
    return tuple(layers), width


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
) -> Model | Vae | SampleGraphModel | NetworkGraphModel | MultitaskModel:
    """Build the model `model_spec` declares (a list of layers: a stack); a `kpnn` or
    `hierarchy` layer may only come first. With `gcn` or `gat` layers it is a
    `SampleGraphModel` (all samples at once, over a sample graph), or with `model.graph:
    {kind: network}` a `NetworkGraphModel` (one sample at a time), or over the input features
    (`over: features`) that model with the `feature_graph` edges the runtime built from the data.
    A `multitask` model has `n_tasks` towers (the network's outputs when its tasks read the
    network).

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
    is_vae = isinstance(model_spec, VaeModelSpec)
    layers, width = _build_layers(
        model_spec if isinstance(model_spec, Sequence) else model_spec.layers,
        network,
        inputs,
        outputs,
        n_features,
        gives_outputs=not is_vae,
        key=key,
    )
    if any(isinstance(layer, GraphLayer) for layer in layers):
        return SampleGraphModel(layers)
    if not is_vae:
        return _with_aux_heads(Model(layers), model_spec, width, key)
    head_key = jax.random.fold_in(key, len(layers))
    return Vae(layers, width, model_spec.latent, model_spec.decoder, n_features, key=head_key)


def _with_aux_heads(
    model: Model, model_spec: ModelSpec | Sequence[LayerSpec], width: int, key: PRNGKeyArray
) -> Model:
    """`model` with one linear head per level below the top of its hierarchy layer, if asked."""
    layer_specs = model_spec if isinstance(model_spec, Sequence) else model_spec.layers
    weights = getattr(layer_specs[0], "aux_heads", None)
    if weights is None:
        return model
    levels = model.layers[0].level_bounds[:-1]
    if isinstance(weights, list) and len(weights) != len(levels):
        raise _layer_problem(
            0,
            "aux_heads",
            f"{len(weights)} auxiliary head weights for {len(levels)} levels below the top",
            f"give one weight per level ({len(levels)}), or one number for all",
        )
    per_level = weights if isinstance(weights, list) else [weights] * len(levels)
    keys = jax.random.split(jax.random.fold_in(key, len(layer_specs) + 1), max(len(levels), 1))
    heads = tuple(
        DenseLayer(
            b - a,
            DenseLayerSpec(kind="dense", name=f"{AUX_HEADS}_{i + 1}", units=width),
            last=True,
            key=k,
        )
        for i, ((a, b), k) in enumerate(zip(levels, keys, strict=False))
    )
    return Model(model.layers, heads, tuple(levels), tuple(float(w) for w in per_level))


def _parts(model: Model | Vae) -> tuple[eqx.Module, ...]:
    """Every layer and auxiliary head."""
    return (*model.layers, *getattr(model, "aux_heads", ()))


def group_names(model: Model | Vae) -> tuple[str, ...]:
    """Every name `group_arrays` accepts."""
    aux = (AUX_HEADS,) if getattr(model, "aux_heads", ()) else ()
    groups = tuple(name for name, _ in getattr(model, "groups", ()))
    return (WEIGHTS, BIAS, *(layer.name for layer in model.layers), *aux, *groups)


def group_arrays(model: Model | Vae, name: str) -> list[Array]:
    """The trainable arrays of parameter group `name` (see the module docstring)."""
    if name == WEIGHTS:
        return [layer.weight for layer in _parts(model) if layer.weight is not None]
    if name == BIAS:
        return [layer.bias for layer in _parts(model) if layer.bias is not None]
    members = dict(getattr(model, "groups", ())).get(name)
    if members is not None:
        return [a for member in members for a in group_arrays(model, member)]
    if name == AUX_HEADS and getattr(model, "aux_heads", ()):
        return jax.tree.leaves(eqx.filter(model.aux_heads, eqx.is_inexact_array))
    for layer in model.layers:
        if layer.name == name:
            return jax.tree.leaves(eqx.filter(layer, eqx.is_inexact_array))
    raise ValueError(f"no parameter group `{name}`; the model has {list(group_names(model))}")


def count_parameters(model: Model | Vae) -> int:
    """Trainable scalars of one model (a leading fold axis is not counted)."""
    return model.n_parameters
