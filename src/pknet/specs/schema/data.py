"""`data:` — the expression matrix, the prediction target, transforms and missing values."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from pknet.rules import check_listed_once, rule_error
from pknet.specs.schema.base import SpecModel, literal_values
from pknet.specs.schema.types import DuplicatePolicy, SpecPath


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
    var_names: str | None = Field(
        None,
        min_length=1,
        description="AnnData `var` column whose values name the features (e.g. "
        "`gene_short_name` when `var_names` are Ensembl ids); default: the var index.",
    )
    duplicates: DuplicatePolicy = Field(
        "error",
        description="A feature name several columns carry: stop with an `error`, keep the "
        "`first` column, or use the `sum` or `mean` of its columns.",
    )
    backed: bool = Field(
        False,
        description="Keep an `.h5ad` file's sparse (CSR) matrix on disk and stream its rows in "
        "minibatches (data larger than memory); metrics equal the in-memory run's.",
    )

    @property
    def is_h5ad(self) -> bool:
        """An AnnData file, as declared or by its suffix."""
        return self.format == "h5ad" or (
            self.format == "auto" and str(self.file).lower().endswith(".h5ad")
        )

    @model_validator(mode="after")
    def check_var_names(self) -> ExpressionSpec:
        if self.var_names is not None and not self.is_h5ad:
            raise rule_error(
                ("var_names",),
                "`var_names` names a column of an AnnData `var` table; this file is not .h5ad",
                "remove `var_names` (the file's own feature names are used)",
            )
        return self

    @model_validator(mode="after")
    def check_backed(self) -> ExpressionSpec:
        if self.backed and not self.is_h5ad:
            raise rule_error(
                ("backed",),
                "`backed: true` streams an AnnData `.h5ad` file; this file is not .h5ad",
                "convert the matrix to a sparse `.h5ad` file, or remove `backed`",
            )
        return self


class TargetSpec(SpecModel):
    """What to predict: an `obs` column of the AnnData, a column of a label file, or several
    values per sample (multi-output regression): label-file `columns` or data `features`.
    """

    obs: str | None = Field(None, min_length=1, description="Column of the AnnData `obs` table.")
    file: SpecPath | None = Field(None, description="Label table (CSV/TSV) joined on sample ids.")
    index: str | None = Field(
        None, min_length=1, description="Label-file column holding sample ids (default: first)."
    )
    column: str | None = Field(None, min_length=1, description="Label-file column to predict.")
    columns: list[Annotated[str, Field(min_length=1)]] | Literal["all"] | None = Field(
        None,
        min_length=1,
        description="Label-file columns predicted together (multi-output regression, one task "
        "per column); `all`: every column but `index`.",
    )
    features: list[Annotated[str, Field(min_length=1)]] | Literal["network_outputs"] | None = Field(
        None,
        min_length=1,
        description="Columns of the expression matrix predicted from the other columns "
        "(multi-output regression; they are removed from the inputs); `network_outputs`: "
        "the columns of the network's output nodes.",
    )
    positive: list[str] | None = Field(
        None,
        min_length=1,
        description="Labels counted as the positive class; makes the task binary (one vs rest).",
    )
    task: Literal["auto", "binary", "multiclass", "regression"] = Field(
        "auto", description="Prediction task; `auto` infers it from the target values."
    )

    @property
    def multi_output(self) -> bool:
        """Several values per sample: label-file `columns` or data `features`."""
        return self.columns is not None or self.features is not None

    @model_validator(mode="after")
    def check_source(self) -> TargetSpec:
        sources = [self.obs, self.file, self.features]
        if sum(source is not None for source in sources) != 1:
            raise rule_error(
                (),
                "give exactly one target source: `obs`, `file` or `features`",
                "e.g. `target: {obs: cell_type}`, "
                "`target: {file: labels.csv, index: barcode, column: TCR}` or "
                "`target: {features: [GATA3, TBX21]}`",
            )
        if self.file is not None and (self.column is None) == (self.columns is None):
            field = "columns" if self.columns is not None else "column"
            raise rule_error(
                (field,),
                "a label `file` needs exactly one of `column` (one target) or `columns` "
                "(several targets)",
            )
        file_fields = [f for f in ("index", "column", "columns") if getattr(self, f)]
        source = "obs" if self.obs is not None else "features"
        if self.file is None and file_fields:
            field = file_fields[0]
            raise rule_error((field,), f"`{field}` applies to a label `file`, not to `{source}`")
        if self.positive is not None and self.task not in ("auto", "binary"):
            raise rule_error(("positive",), f"`positive` makes the task binary, not {self.task}")
        if self.multi_output and self.task not in ("auto", "regression"):
            raise rule_error(
                ("task",), f"several targets are predicted as a regression, not {self.task}"
            )
        if self.multi_output and self.positive is not None:
            raise rule_error(("positive",), "`positive` needs one class target, not several")
        for field in ("columns", "features"):
            names = getattr(self, field)
            check_listed_once(names if isinstance(names, list) else [], field, "target")
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
TransformKind = Literal[
    tuple(kind for t in get_args(get_args(TransformSpec)[0]) for kind in literal_values(t, "kind"))
]
"""A transform written by its kind alone (`transform: [log1p]`), with every option defaulted."""


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
    samples: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None,
        min_length=1,
        description="Use only these samples (ids of the data file; default: every sample). "
        "`pknet sweep` with `selection: nested` sets it to an outer fold's training samples.",
    )

    @field_validator(
        "transform", mode="before", json_schema_input_type=list[TransformSpec | TransformKind]
    )
    @classmethod
    def _bare_kinds(cls, value: Any) -> Any:
        """Accept `transform: [log1p]` as a short form of `[{kind: log1p}]`."""
        if isinstance(value, list):
            return [{"kind": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def check_transforms_unique(self) -> DataSpec:
        check_listed_once(
            [t.kind for t in self.transform],
            "transform",
            "transform",
            "list each transform once, with all its options",
        )
        return self

    @model_validator(mode="after")
    def check_samples_unique(self) -> DataSpec:
        seen: set[str] = set()
        for i, sample in enumerate(self.samples or ()):
            if sample in seen:  # a set: the list may hold thousands of ids
                raise rule_error(("samples", i), f"sample `{sample}` is listed twice")
            seen.add(sample)
        return self
