"""`evaluate:` and `explain:` — cross-validation, metrics and importances."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Discriminator, Field, Tag, model_validator

from pknet.rules import check_listed_once, rule_error
from pknet.specs.schema.base import SpecModel
from pknet.specs.schema.types import Name, SpecPath

Metric = Literal[
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "mcc",
    "roc_auc",
    "average_precision",
    "log_loss",
    "r2",
    "pearson",
    "mse",
    "mae",
]
REGRESSION_METRICS = ("r2", "pearson", "mse", "mae")
CLASSIFICATION_METRICS = tuple(m for m in get_args(Metric) if m not in REGRESSION_METRICS)
ExplainMethod = Literal["bias", "gradient_x_input", "node_weights", "activation_auc"]


class KFoldSpec(SpecModel):
    """K-fold cross-validation, stratified by class or not."""

    kind: Literal["stratified_kfold", "kfold"] = Field(description="Split kind.")
    folds: int = Field(5, ge=2, le=1000, description="Number of folds.")
    shuffle: bool = Field(True, description="Shuffle samples (with the spec seed) before folding.")


class RepeatedKFoldSpec(SpecModel):
    """K-fold cross-validation repeated with new shuffles: `repeats` x `folds` splits."""

    kind: Literal["repeated_kfold"] = Field(description="Split kind.")
    folds: int = Field(5, ge=2, le=1000, description="Number of folds per repeat.")
    repeats: int = Field(
        3,
        ge=2,
        le=100,
        description="Times the samples are shuffled and folded again; repeat 0 is "
        "`stratified_kfold` (or `kfold`) with the same seed.",
    )
    stratify: bool = Field(True, description="Keep class proportions in every fold.")


GroupColumn = Annotated[
    str,
    Field(
        min_length=1,
        description="Column naming each sample's group (donor, patient, batch): an AnnData "
        "`obs` column or a column of the label file. A group is never split between training "
        "and test samples.",
    ),
]


class GroupKFoldSpec(SpecModel):
    """K-fold cross-validation over groups of samples (scikit-learn's `GroupKFold`)."""

    kind: Literal["group_kfold"] = Field(description="Split kind.")
    folds: int = Field(5, ge=2, le=1000, description="Number of folds (at most the groups).")
    groups: GroupColumn
    shuffle: bool = Field(
        False,
        description="`false`: the largest groups first, each to the fold with the fewest "
        "samples so far (balanced fold sizes); `true`: groups shuffled with the spec seed and "
        "cut into `folds` runs of about equal group counts.",
    )


class LeaveOneGroupOutSpec(SpecModel):
    """One fold per group: each group's samples are tested on a model trained on the others."""

    kind: Literal["leave_one_group_out"] = Field(description="Split kind.")
    groups: GroupColumn


class LeaveOneOutSpec(SpecModel):
    """Leave-one-out cross-validation."""

    kind: Literal["leave_one_out"] = Field(description="Split kind.")


class HoldoutSpec(SpecModel):
    """One train/test split."""

    kind: Literal["holdout"] = Field(description="Split kind.")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share of samples held out.")
    stratify: bool = Field(True, description="Keep class proportions in both parts.")


CvSpec = Annotated[
    KFoldSpec
    | RepeatedKFoldSpec
    | GroupKFoldSpec
    | LeaveOneGroupOutSpec
    | LeaveOneOutSpec
    | HoldoutSpec,
    Field(discriminator="kind"),
]


class PythonMetricSpec(SpecModel):
    """A metric written in Python: `function(y_true, y_score, task) -> float` in `file`.

    The file is imported when the run starts (not when the spec is validated). Arguments are
    NumPy arrays as the built-in metrics get them: one task's values at a time for several
    targets, where the fold value is the mean over the tasks.
    """

    name: Name = Field(description="Metric name in reports and `val_<name>` monitors.")
    file: SpecPath = Field(description="Python file defining the function.")
    function: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Function to call (default: the metric's `name`).",
    )

    @property
    def function_name(self) -> str:
        return self.function or self.name


def _metric_form(value: Any) -> str:
    """A mapping is a Python metric; anything else is read as a built-in metric name."""
    return "python" if isinstance(value, dict | PythonMetricSpec) else "builtin"


MetricSpec = Annotated[
    Annotated[Metric, Tag("builtin")] | Annotated[PythonMetricSpec, Tag("python")],
    Discriminator(_metric_form),
]


class EvaluateSpec(SpecModel):
    """How the model is scored."""

    cv: CvSpec = Field(
        default_factory=lambda: KFoldSpec(kind="stratified_kfold"),
        description="Cross-validation scheme.",
    )
    metrics: list[MetricSpec] = Field(
        default_factory=lambda: ["accuracy", "roc_auc"],
        min_length=1,
        description="Metrics reported per fold and as mean ± sd: built-in names, or "
        "`{name: ..., file: metrics.py, function: ...}` for a metric written in Python.",
    )
    seeds: int = Field(
        1,
        ge=1,
        le=1000,
        description="Independent initialisations (and shuffles, dropout streams) per fold, all "
        "seeds x folds trained together; metrics and importances report their mean ± sd, "
        "held-out predictions the mean over seeds, and `pknet predict` uses every model. "
        "Seed 0 is the run with `seeds: 1`.",
    )

    @property
    def metric_names(self) -> list[str]:
        """The name of every metric, in order."""
        return [m if isinstance(m, str) else m.name for m in self.metrics]

    @model_validator(mode="after")
    def check_metrics_unique(self) -> EvaluateSpec:
        check_listed_once(self.metric_names, "metrics", "metric")
        return self


class ExplainSpec(SpecModel):
    """Importances computed after training, and an optional shuffled-prior control."""

    methods: list[ExplainMethod] = Field(
        default_factory=list, description="Importance methods, per network node."
    )
    control: Literal["none", "shuffled"] = Field(
        "none",
        description=(
            "`shuffled`: train again with the data columns permuted across input nodes (same "
            "network, same term sizes, random genes) and report each node's importance beside it."
        ),
    )

    @model_validator(mode="after")
    def check_methods_unique(self) -> ExplainSpec:
        check_listed_once(self.methods, "methods", "method")
        if self.control != "none" and not self.methods:
            raise rule_error(("control",), "a control needs importance `methods` to compare")
        return self
