"""The model: the spec's layers stacked in order, and the parameter groups the loss names.

Groups: `weights` (every layer's `weight`), `bias` (every layer's bias) and each layer's `name`
(all trainable arrays of that layer). `group_arrays` works unchanged on models whose arrays carry
a leading fold axis (the runtime vmaps over stacked models).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.layers import DenseLayer, HierarchyLayer, KpnnLayer
from pknet.compiler.network import Network
from pknet.compiler.vae import Vae
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import (
    DenseLayerSpec,
    HierarchyLayerSpec,
    KpnnLayerSpec,
    LayerSpec,
    ModelSpec,
    VaeModelSpec,
)

Layer = KpnnLayer | HierarchyLayer | DenseLayer
WEIGHTS = "weights"
BIAS = "bias"


class Model(eqx.Module):
    """Layers applied in order to one example."""

    layers: tuple[Layer, ...]

    def __check_init__(self) -> None:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names must be unique, got {names}")

    def __call__(
        self, x: Float[Array, " n_features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " n_out"]:
        """Dropout is on when `key` is given (one subkey per layer)."""
        keys = [None] * len(self.layers) if key is None else jax.random.split(key, len(self.layers))
        for layer, layer_key in zip(self.layers, keys, strict=True):
            x = layer(x, key=layer_key)
        return x

    @property
    def n_parameters(self) -> int:
        """Trainable scalars of all layers."""
        return sum(layer.n_parameters for layer in self.layers)


def _layer_problem(index: int, field: str, message: str, hint: str) -> CompileError:
    return CompileError(Problem(message, path=f"model.layers[{index}].{field}", hint=hint))


def _network_layer(
    index: int,
    spec: KpnnLayerSpec | HierarchyLayerSpec,
    network: Network | None,
    inputs: Sequence[int] | np.ndarray | None,
    outputs: Sequence[int] | np.ndarray | None,
    n_features: int,
    *,
    last: bool,
    key: PRNGKeyArray,
) -> KpnnLayer:
    """A `kpnn` or `hierarchy` layer: it comes first and reads one data column per input node."""
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
    if isinstance(spec, KpnnLayerSpec):
        return KpnnLayer(network, inputs, outputs, spec, last=last, key=key)
    try:
        return HierarchyLayer(network, inputs, outputs, spec, last=last, key=key)
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
        elif isinstance(spec, DenseLayerSpec):
            layer = DenseLayer(width, spec, last=last, key=layer_key)
            width = spec.units
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
) -> Model | Vae:
    """Build the model `model_spec` declares (a list of layers: a stack); a `kpnn` or
    `hierarchy` layer may only come first.

    That layer reads `n_features == len(inputs)` columns (in `inputs` order); a model without
    one reads `n_features` columns. `network`, `inputs`, `outputs` may be None then.
    """
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
    if not is_vae:
        return Model(layers)
    head_key = jax.random.fold_in(key, len(layers))
    return Vae(layers, width, model_spec.latent, model_spec.decoder, n_features, key=head_key)


def group_names(model: Model | Vae) -> tuple[str, ...]:
    """Every name `group_arrays` accepts."""
    return (WEIGHTS, BIAS, *(layer.name for layer in model.layers))


def group_arrays(model: Model | Vae, name: str) -> list[Array]:
    """The trainable arrays of parameter group `name` (see the module docstring)."""
    if name == WEIGHTS:
        return [layer.weight for layer in model.layers]
    if name == BIAS:
        return [layer.bias for layer in model.layers if layer.bias is not None]
    for layer in model.layers:
        if layer.name == name:
            return jax.tree.leaves(eqx.filter(layer, eqx.is_inexact_array))
    raise ValueError(f"no parameter group `{name}`; the model has {list(group_names(model))}")


def count_parameters(model: Model | Vae) -> int:
    """Trainable scalars of one model (a leading fold axis is not counted)."""
    return model.n_parameters
