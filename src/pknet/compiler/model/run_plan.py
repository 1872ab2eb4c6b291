"""A RunPlan: how the runtime trains and evaluates a Program, as plain values from the spec.

The compiler reads the spec's `data`, `train`, `evaluate` and `explain` sections once into
plain values (no spec objects): the runtime reads the plan, never the spec. Metrics written in
Python are imported here, when the run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pknet.compiler.model.user_metrics import load_metric
from pknet.specs import Spec, summarize
from pknet.specs.schema import KpnnLayerSpec
from pknet.specs.schema.data import StandardizeSpec
from pknet.specs.schema.evaluate import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    GroupKFoldSpec,
    HoldoutSpec,
    KFoldSpec,
    LeaveOneGroupOutSpec,
    RepeatedKFoldSpec,
)
from pknet.specs.schema.graph import KnnGraphSpec
from pknet.specs.schema.model import PcaLayerSpec

__all__ = ["CLASSIFICATION_METRICS", "REGRESSION_METRICS", "RunPlan", "build_run_plan"]


@dataclass(frozen=True)
class CvPlan:
    """The cross-validation scheme: `kind` is `stratified_kfold`, `kfold`, `repeated_kfold`,
    `group_kfold`, `leave_one_group_out`, `leave_one_out` or `holdout` (the fields that do not
    apply to a kind keep their defaults). `groups` names the sample-table column of the group
    kinds; the dataset reads it."""

    kind: str
    folds: int = 5
    shuffle: bool = True
    test_fraction: float = 0.2
    stratify: bool = True
    repeats: int = 1
    groups: str | None = None


@dataclass(frozen=True)
class EarlyStoppingPlan:
    monitor: str
    mode: str
    patience: int
    min_delta: float
    restore_best: bool


@dataclass(frozen=True)
class InputStatsPlan:
    """Statistics fitted per training fold: centring/scaling and mean imputation."""

    standardize: bool  # a `standardize` transform, or a kpnn layer's `input_batchnorm`
    with_mean: bool = True
    with_std: bool = True
    impute_mean: bool = False


@dataclass(frozen=True)
class MetricPlan:
    """A metric by name: a built-in (`function` None) or one written in Python, imported."""

    name: str
    function: Callable[..., float] | None = None
    path: str = ""  # its entry in the spec, e.g. `evaluate.metrics[2]`


@dataclass(frozen=True)
class SampleGraphPlan:
    """`model.graph` over samples: a `knn` graph (`k` neighbours by `metric`) or a `cosine`
    graph (edges from `threshold`), on `pca` principal components when set."""

    kind: str
    k: int = 15
    metric: str = "euclidean"
    threshold: float = 0.0
    pca: int | None = None


def sample_graph_plan(spec: Spec) -> SampleGraphPlan | None:
    """The plain form of the spec's graph over samples (None: the model has none)."""
    graph = spec.model.sample_graph()
    if graph is None:
        return None
    if isinstance(graph, KnnGraphSpec):
        return SampleGraphPlan(graph.kind, k=graph.k, metric=graph.metric, pca=graph.pca)
    return SampleGraphPlan(graph.kind, threshold=graph.threshold, pca=graph.pca)


@dataclass(frozen=True)
class OutputPlan:
    """What the run directory shows of the spec besides its rendered text."""

    summary: str  # one line: layers, pruning, loss, cross-validation
    description: str | None
    loss: str
    sample_graph_kind: str | None  # `model.graph`'s kind over samples, if any
    expression_file: str  # the data file (a VAE's embedding copies its AnnData)
    expression_format: str
    expression_var_names: str | None  # the AnnData var column naming the features


@dataclass(frozen=True)
class RunPlan:
    """Everything besides the Program that decides how a run trains, evaluates and explains."""

    name: str
    seed: int
    cv: CvPlan
    epochs: int
    batch_size: int
    validation_fraction: float
    vmap_folds: bool
    early_stopping: EarlyStoppingPlan | None
    input_stats: InputStatsPlan
    metrics: tuple[MetricPlan, ...]
    explain_methods: tuple[str, ...]
    explain_control: str
    device: str
    output: OutputPlan
    sample_graph: SampleGraphPlan | None = None
    pca_components: tuple[tuple[int, int], ...] = ()  # (layer index, components) per `pca`
    seeds: int = 1  # `evaluate.seeds`: models per fold, each from its own random streams
    devices: str | int = "auto"  # `train.devices`: auto, all, or how many


def cv_plan(cv: object) -> CvPlan:
    """The plain form of a spec's `evaluate.cv`."""
    if isinstance(cv, KFoldSpec):
        return CvPlan(cv.kind, folds=cv.folds, shuffle=cv.shuffle)
    if isinstance(cv, RepeatedKFoldSpec):
        return CvPlan(cv.kind, folds=cv.folds, repeats=cv.repeats, stratify=cv.stratify)
    if isinstance(cv, GroupKFoldSpec):
        return CvPlan(cv.kind, folds=cv.folds, shuffle=cv.shuffle, groups=cv.groups)
    if isinstance(cv, LeaveOneGroupOutSpec):
        return CvPlan(cv.kind, groups=cv.groups)
    if isinstance(cv, HoldoutSpec):
        return CvPlan(cv.kind, test_fraction=cv.test_fraction, stratify=cv.stratify)
    return CvPlan("leave_one_out")


def build_run_plan(spec: Spec) -> RunPlan:
    """Read the spec's run settings into a `RunPlan`, importing its Python metrics."""
    standardize = [t for t in spec.data.transform if isinstance(t, StandardizeSpec)]
    layers = spec.model.layers
    batchnorm = any(isinstance(layer, KpnnLayerSpec) and layer.input_batchnorm for layer in layers)
    early = spec.train.early_stopping
    sample_graph = sample_graph_plan(spec)
    metrics = tuple(
        MetricPlan(metric)
        if isinstance(metric, str)
        else MetricPlan(metric.name, load_metric(spec, i, metric), f"evaluate.metrics[{i}]")
        for i, metric in enumerate(spec.evaluate.metrics)
    )
    return RunPlan(
        name=spec.name,
        seed=spec.seed,
        cv=cv_plan(spec.evaluate.cv),
        seeds=spec.evaluate.seeds,
        epochs=spec.train.epochs,
        batch_size=spec.train.batch_size,
        validation_fraction=spec.train.validation_fraction,
        vmap_folds=spec.train.vmap_folds,
        early_stopping=None
        if early is None
        else EarlyStoppingPlan(
            early.monitor, early.mode, early.patience, early.min_delta, early.restore_best
        ),
        input_stats=InputStatsPlan(
            standardize=bool(standardize) or batchnorm,
            with_mean=standardize[0].with_mean if standardize else True,
            with_std=standardize[0].with_std if standardize else True,
            impute_mean=spec.data.missing == "mean",
        ),
        metrics=metrics,
        explain_methods=tuple(spec.explain.methods),
        explain_control=spec.explain.control,
        device=spec.train.device,
        devices=spec.train.devices,
        output=OutputPlan(
            summary=summarize(spec),
            description=spec.description,
            loss=str(spec.loss),
            sample_graph_kind=None if sample_graph is None else sample_graph.kind,
            expression_file=spec.data.expression.file,
            expression_format=spec.data.expression.format,
            expression_var_names=spec.data.expression.var_names,
        ),
        sample_graph=sample_graph,
        pca_components=tuple(
            (i, layer.components)
            for i, layer in enumerate(layers)
            if isinstance(layer, PcaLayerSpec)
        ),
    )
