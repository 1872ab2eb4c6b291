"""The layer registry: each layer spec class -> the function that builds its layer.

A builder gets the spec, the width of its input, the network wiring (network-wired kinds only),
whether it is the model's last layer (which gives logits: no activation) and a key; it calls the
layer's spec-free constructor and returns the layer with the width of its output. A new layer kind
is a spec class, a layer module and `register_layer(SpecClass, builder)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

import equinox as eqx
import numpy as np
from jaxtyping import PRNGKeyArray

from pknet.compiler.model.layers.dense import DenseLayer
from pknet.compiler.model.layers.diffusion import network_diffusion
from pknet.compiler.model.layers.graph import GatLayer, GcnLayer
from pknet.compiler.model.layers.hierarchy import plan_hierarchy
from pknet.compiler.model.layers.kpnn import plan_kpnn
from pknet.compiler.model.layers.network_layer import NetworkLayer
from pknet.compiler.model.layers.pca import PcaLayer
from pknet.compiler.model.layers.plan_cache import cached_plan
from pknet.compiler.model.layers.ridge import RidgeLayer
from pknet.compiler.model.layers.wiring import WiringPlan
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import (
    DenseLayerSpec,
    DiffusionLayerSpec,
    GatLayerSpec,
    GcnLayerSpec,
    HierarchyLayerSpec,
    KpnnLayerSpec,
    LayerSpecBase,
    PcaLayerSpec,
    RidgeLayerSpec,
)


class Wiring(NamedTuple):
    """What a network-wired layer reads: the network, its input nodes (one data column each, in
    order) and its output nodes."""

    network: Network
    inputs: Sequence[int] | np.ndarray
    outputs: Sequence[int] | np.ndarray


class LayerBuilder(Protocol):
    def __call__(
        self,
        spec: LayerSpecBase,
        width: int,
        wiring: Wiring | None,
        *,
        last: bool,
        key: PRNGKeyArray,
    ) -> tuple[eqx.Module, int]: ...


def _activation(spec: DenseLayerSpec | GcnLayerSpec | GatLayerSpec, last: bool) -> str:
    """A last layer gives logits: no activation."""
    return "linear" if last else spec.activation


def _dense(
    spec: DenseLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[DenseLayer, int]:
    layer = DenseLayer(
        width,
        spec.units,
        activation=_activation(spec, last),
        dropout=spec.dropout,
        use_bias=spec.bias,
        name=spec.name,
        key=key,
    )
    return layer, spec.units


def _gcn(
    spec: GcnLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[GcnLayer, int]:
    layer = GcnLayer(
        width,
        spec.units,
        activation=_activation(spec, last),
        bias=spec.bias,
        dropout=spec.dropout,
        name=spec.name,
        key=key,
    )
    return layer, spec.units


def _gat(
    spec: GatLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[GatLayer, int]:
    layer = GatLayer(
        width,
        spec.units,
        heads=spec.heads,
        concat=spec.concat,
        activation=_activation(spec, last),
        bias=spec.bias,
        dropout=spec.dropout,
        name=spec.name,
        key=key,
    )
    return layer, layer.n_out


def _pca(
    spec: PcaLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[PcaLayer, int]:
    if spec.components > width:
        raise CompileError(
            Problem(
                f"the `pca` layer keeps {spec.components} components of {width} features",
                path=".components",
                hint=f"keep at most {width} components",
            )
        )
    return PcaLayer(width, spec.components, whiten=spec.whiten, name=spec.name), spec.components


def _ridge(
    spec: RidgeLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[RidgeLayer, int]:
    layer = RidgeLayer(width, spec.units, alpha=spec.alpha, use_bias=spec.bias, name=spec.name)
    return layer, spec.units


def _diffusion(
    spec: DiffusionLayerSpec, width: int, wiring: Wiring, *, last: bool, key: PRNGKeyArray
) -> tuple[eqx.Module, int]:
    layer = network_diffusion(*wiring, alpha=spec.alpha, symmetric=spec.symmetric, name=spec.name)
    return layer, layer.n_outputs


def _kpnn(
    spec: KpnnLayerSpec, width: int, wiring: Wiring, *, last: bool, key: PRNGKeyArray
) -> tuple[NetworkLayer, int]:
    options = ("kpnn", spec.units_per_node, last, spec.dropout_rule, spec.signed)
    plan = cached_plan(
        *wiring,
        options,
        lambda: plan_kpnn(
            *wiring,
            units_per_node=spec.units_per_node,
            last=last,
            dropout_rule=spec.dropout_rule,
            signed=spec.signed,
        ),
    )
    return _network_layer(spec, plan, input_batchnorm=spec.input_batchnorm, key=key)


def _hierarchy(
    spec: HierarchyLayerSpec, width: int, wiring: Wiring, *, last: bool, key: PRNGKeyArray
) -> tuple[NetworkLayer, int]:
    settings = {
        "min_genes": spec.min_genes,
        "max_genes": spec.max_genes,
        "max_depth": spec.max_depth,
        "padding": spec.padding,
        "units_per_gene": spec.units_per_gene,
        "units_per_term": spec.units_per_term,
        "last": last,
    }
    options = ("hierarchy", *settings.items())
    plan = cached_plan(*wiring, options, lambda: plan_hierarchy(*wiring, **settings))
    return _network_layer(spec, plan, input_batchnorm=False, key=key)


def _network_layer(
    spec: KpnnLayerSpec | HierarchyLayerSpec,
    plan: WiringPlan,
    *,
    input_batchnorm: bool,
    key: PRNGKeyArray,
) -> tuple[NetworkLayer, int]:
    """The network-wired layer of `plan`; it gives one output slot per unit."""
    layer = NetworkLayer(
        plan,
        name=spec.name,
        activation=spec.activation,
        dropout=spec.dropout,
        bias=spec.bias,
        input_batchnorm=input_batchnorm,
        key=key,
    )
    return layer, layer.output_slot.shape[-1]


LAYER_BUILDERS: dict[type[LayerSpecBase], LayerBuilder] = {
    DenseLayerSpec: _dense,
    GcnLayerSpec: _gcn,
    GatLayerSpec: _gat,
    PcaLayerSpec: _pca,
    RidgeLayerSpec: _ridge,
    DiffusionLayerSpec: _diffusion,
    KpnnLayerSpec: _kpnn,
    HierarchyLayerSpec: _hierarchy,
}
"""Layer spec class -> builder; `register_layer` adds a kind."""


def register_layer(spec_class: type[LayerSpecBase], builder: LayerBuilder) -> None:
    """Build layers of `spec_class` with `builder` (once per class)."""
    if spec_class in LAYER_BUILDERS:
        raise ValueError(f"{spec_class.__name__} already has a layer builder")
    LAYER_BUILDERS[spec_class] = builder


def layer_builder(spec: LayerSpecBase) -> LayerBuilder:
    """The builder of `spec`'s layer kind."""
    builder = LAYER_BUILDERS.get(type(spec))
    if builder is None:
        raise TypeError(
            f"no layer is built for specs of type {type(spec).__name__}; "
            "add one with `register_layer`"
        )
    return builder
