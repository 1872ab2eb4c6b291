"""Layers: a resolved network (or a width) -> index arrays -> an Equinox module."""

from pknet.compiler.layers.activations import ACTIVATIONS
from pknet.compiler.layers.dense import DenseLayer
from pknet.compiler.layers.hierarchy import (
    HierarchyLayer,
    HierarchyReport,
    LayeredHierarchy,
    layered_hierarchy,
)
from pknet.compiler.layers.kpnn import KpnnLayer, KpnnPlan, plan_kpnn

__all__ = [
    "ACTIVATIONS",
    "DenseLayer",
    "HierarchyLayer",
    "HierarchyReport",
    "KpnnLayer",
    "KpnnPlan",
    "LayeredHierarchy",
    "layered_hierarchy",
    "plan_kpnn",
]
