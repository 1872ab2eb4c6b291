"""Builders of the network-wired layer kinds: `kpnn` and `hierarchy` plan their wiring (see
`kpnn`, `hierarchy`) and both build a `NetworkLayer` of it."""

from __future__ import annotations

from jaxtyping import PRNGKeyArray

from pknet.compiler.model.layers.hierarchy import plan_hierarchy
from pknet.compiler.model.layers.kpnn import plan_kpnn
from pknet.compiler.model.layers.network_layer import NetworkLayer
from pknet.compiler.model.layers.plan_cache import cached_plan
from pknet.compiler.model.layers.registry import Wiring, builds
from pknet.compiler.model.layers.wiring import WiringPlan
from pknet.specs.schema.model import HierarchyLayerSpec, KpnnLayerSpec


@builds(KpnnLayerSpec)
def build_kpnn(
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


@builds(HierarchyLayerSpec)
def build_hierarchy(
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
