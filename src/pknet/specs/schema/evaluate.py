"""`evaluate:` and `explain:` — cross-validation, metrics and importances."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pknet.specs.schema.base import SpecModel, rule_error

Metric = Literal["accuracy", "precision", "recall", "f1", "roc_auc", "r2", "pearson", "mse", "mae"]
ExplainMethod = Literal["bias", "gradient_x_input", "node_weights", "activation_auc"]


class KFoldSpec(SpecModel):
    """K-fold cross-validation, stratified by class or not."""

    kind: Literal["stratified_kfold", "kfold"] = Field(description="Split kind.")
    folds: int = Field(5, ge=2, le=1000, description="Number of folds.")
    shuffle: bool = Field(True, description="Shuffle samples (with the spec seed) before folding.")


class LeaveOneOutSpec(SpecModel):
    """Leave-one-out cross-validation."""

    kind: Literal["leave_one_out"] = Field(description="Split kind.")


class HoldoutSpec(SpecModel):
    """One train/test split."""

    kind: Literal["holdout"] = Field(description="Split kind.")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share of samples held out.")
    stratify: bool = Field(True, description="Keep class proportions in both parts.")


CvSpec = Annotated[KFoldSpec | LeaveOneOutSpec | HoldoutSpec, Field(discriminator="kind")]


class EvaluateSpec(SpecModel):
    """How the model is scored."""

    cv: CvSpec = Field(
        default_factory=lambda: KFoldSpec(kind="stratified_kfold"),
        description="Cross-validation scheme.",
    )
    metrics: list[Metric] = Field(
        default_factory=lambda: ["accuracy", "roc_auc"],
        min_length=1,
        description="Metrics reported per fold and as mean ± sd.",
    )

    @model_validator(mode="after")
    def check_metrics_unique(self) -> EvaluateSpec:
        for i, metric in enumerate(self.metrics):
            if metric in self.metrics[:i]:
                raise rule_error(("metrics", i), f"metric `{metric}` is listed twice")
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

    @model_validator(mode="before")
    @classmethod
    def _list_form(cls, value: object) -> object:
        """Accept `explain: [bias, node_weights]` for `explain: {methods: [...]}`."""
        return {"methods": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def check_methods_unique(self) -> ExplainSpec:
        for i, method in enumerate(self.methods):
            if method in self.methods[:i]:
                raise rule_error(("methods", i), f"method `{method}` is listed twice")
        if self.control != "none" and not self.methods:
            raise rule_error(("control",), "a control needs importance `methods` to compare")
        return self
