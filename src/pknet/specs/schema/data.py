"""`data:` — the expression matrix, the prediction target, transforms and missing values."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from pknet.specs.schema.base import SpecModel, rule_error
from pknet.specs.schema.types import SpecPath


class ExpressionSpec(SpecModel):
    """The feature matrix: samples x features."""

    file: SpecPath = Field(description="Data file: .h5ad, 10x .h5, .csv or .tsv.")
    format: Literal["auto", "h5ad", "10x_h5", "csv", "tsv"] = Field(
        "auto", description="File format; `auto` decides from the file suffix."
    )
    layer: str = Field(
        "X",
        min_length=1,
        description="AnnData matrix to use: `X`, `raw` (the `.raw` matrix) or a name in `.layers`.",
    )
    orientation: Literal["samples_as_rows", "samples_as_columns"] = Field(
        "samples_as_rows", description="For CSV/TSV matrices: whether samples are rows or columns."
    )


class TargetSpec(SpecModel):
    """What to predict: an `obs` column of the AnnData, or a column of a label file."""

    obs: str | None = Field(None, min_length=1, description="Column of the AnnData `obs` table.")
    file: SpecPath | None = Field(None, description="Label table (CSV/TSV) joined on sample ids.")
    index: str | None = Field(
        None, min_length=1, description="Label-file column holding sample ids (default: first)."
    )
    column: str | None = Field(None, min_length=1, description="Label-file column to predict.")
    positive: list[str] | None = Field(
        None,
        min_length=1,
        description="Labels counted as the positive class; makes the task binary (one vs rest).",
    )
    task: Literal["auto", "binary", "multiclass", "regression"] = Field(
        "auto", description="Prediction task; `auto` infers it from the target values."
    )

    @model_validator(mode="after")
    def check_source(self) -> TargetSpec:
        if (self.obs is None) == (self.file is None):
            raise rule_error(
                (),
                "give exactly one target source: `obs` or `file`",
                "e.g. `target: {obs: cell_type}` or "
                "`target: {file: labels.csv, index: barcode, column: TCR}`",
            )
        if self.file is not None and self.column is None:
            raise rule_error(("column",), "a label `file` needs the `column` to predict")
        if self.obs is not None and (self.index or self.column):
            field = "index" if self.index else "column"
            raise rule_error((field,), f"`{field}` applies to a label `file`, not to `obs`")
        if self.positive is not None and self.task not in ("auto", "binary"):
            raise rule_error(("positive",), f"`positive` makes the task binary, not {self.task}")
        return self


class Log1pSpec(SpecModel):
    """log(1 + x), element-wise."""

    kind: Literal["log1p"] = Field(description="Transform kind.")


class NormalizeTotalSpec(SpecModel):
    """Scale each sample so its features sum to `target_sum` (library-size normalisation)."""

    kind: Literal["normalize_total"] = Field(description="Transform kind.")
    target_sum: float = Field(1e4, gt=0, description="Total each sample is scaled to.")


class StandardizeSpec(SpecModel):
    """Centre and scale each feature with the training fold's mean and standard deviation."""

    kind: Literal["standardize"] = Field(description="Transform kind.")
    with_mean: bool = Field(True, description="Subtract the training-fold mean.")
    with_std: bool = Field(True, description="Divide by the training-fold standard deviation.")


class SelectMeasuredSpec(SpecModel):
    """Keep only the features that map to network input nodes."""

    kind: Literal["select_measured"] = Field(description="Transform kind.")


TransformSpec = Annotated[
    Log1pSpec | NormalizeTotalSpec | StandardizeSpec | SelectMeasuredSpec,
    Field(discriminator="kind"),
]


class DataSpec(SpecModel):
    """Where the samples come from and how they are prepared."""

    expression: ExpressionSpec = Field(description="The feature matrix.")
    target: TargetSpec = Field(description="The prediction target.")
    transform: list[TransformSpec] = Field(
        default_factory=list,
        description="Transforms applied in order; statistics are fitted on training folds only.",
    )
    missing: Literal["error", "mean", "zero"] = Field(
        "error",
        description="Missing values: stop with an error, impute the training-fold mean, or zero.",
    )

    @field_validator("transform", mode="before")
    @classmethod
    def _bare_kinds(cls, value: Any) -> Any:
        """Accept `transform: [log1p]` as a short form of `[{kind: log1p}]`."""
        if isinstance(value, list):
            return [{"kind": item} if isinstance(item, str) else item for item in value]
        return value
