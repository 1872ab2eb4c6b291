"""Layers: a resolved network (or a width) -> index arrays -> an Equinox module."""

from pknet.compiler.model.layers.activations import ACTIVATIONS
from pknet.compiler.model.layers.dense import DenseLayer
from pknet.compiler.model.layers.hierarchy import (
    HierarchyLayer,
    HierarchyReport,
    LayeredHierarchy,
    layered_hierarchy,
)
from pknet.compiler.model.layers.kpnn import KpnnLayer, KpnnPlan, plan_kpnn

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
