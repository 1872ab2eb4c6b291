"""Layers: a resolved network (or a width) -> index arrays -> an Equinox module."""

from pknet.compiler.model.layers.activations import ACTIVATIONS
from pknet.compiler.model.layers.dense import DenseLayer
from pknet.compiler.model.layers.hierarchy import (
    HierarchyReport,
    LayeredHierarchy,
    layered_hierarchy,
    plan_hierarchy,
)
from pknet.compiler.model.layers.kpnn import plan_kpnn
from pknet.compiler.model.layers.network_layer import NetworkLayer
from pknet.compiler.model.layers.wiring import WiringPlan, plan_network

__all__ = [
    "ACTIVATIONS",
    "DenseLayer",
    "HierarchyReport",
    "LayeredHierarchy",
    "NetworkLayer",
    "WiringPlan",
    "layered_hierarchy",
    "plan_hierarchy",
    "plan_kpnn",
    "plan_network",
]
