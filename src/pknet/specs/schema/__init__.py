"""The spec schema: pydantic models, one file per section."""

from pknet.specs.schema.data import DataSpec, ExpressionSpec, TargetSpec, TransformSpec
from pknet.specs.schema.evaluate import (
    CvSpec,
    EvaluateSpec,
    ExplainMethod,
    ExplainSpec,
    KFoldSpec,
    Metric,
)
from pknet.specs.schema.model import (
    DenseLayerSpec,
    KpnnLayerSpec,
    LayerSpec,
    ModelSpec,
    MultitaskModelSpec,
    StackModelSpec,
    VaeModelSpec,
)
from pknet.specs.schema.network import (
    EdgeListSpec,
    FeatureMapSpec,
    NetworkSourceSpec,
    NetworkSpec,
)
from pknet.specs.schema.prune import PruneSpec, SolverSpec
from pknet.specs.schema.spec import Spec
from pknet.specs.schema.train import EarlyStoppingSpec, OptimizerSpec, TrainSpec

__all__ = [
    "CvSpec",
    "DataSpec",
    "DenseLayerSpec",
    "EarlyStoppingSpec",
    "EdgeListSpec",
    "EvaluateSpec",
    "ExplainMethod",
    "ExplainSpec",
    "ExpressionSpec",
    "FeatureMapSpec",
    "KFoldSpec",
    "KpnnLayerSpec",
    "LayerSpec",
    "Metric",
    "ModelSpec",
    "MultitaskModelSpec",
    "NetworkSourceSpec",
    "NetworkSpec",
    "OptimizerSpec",
    "PruneSpec",
    "SolverSpec",
    "Spec",
    "StackModelSpec",
    "TargetSpec",
    "TrainSpec",
    "TransformSpec",
    "VaeModelSpec",
]
