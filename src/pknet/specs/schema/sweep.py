"""The sweep file: a base spec, the `--set` paths to vary, and how to search them."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from pknet.rules import CROSS_FIELD_ERROR, rule_error
from pknet.specs.schema.base import SpecModel
from pknet.specs.schema.types import SpecPath

SWEEP_VERSIONS = (1,)
# what decides the outer folds, which nested selection keeps fixed
FOLD_SETTINGS = ("seed", "evaluate.cv", "data.expression", "data.target", "data.samples")


class DistributionSpec(SpecModel):
    """A range `[lo, hi]` to sample a number from (random and optuna searches)."""

    key: ClassVar[str]
    low_bound: ClassVar[float] = -math.inf  # exclusive lower bound of `lo`

    @property
    def bounds(self) -> tuple[float, float]:
        return getattr(self, self.key)

    @model_validator(mode="after")
    def check_range(self) -> DistributionSpec:
        lo, hi = self.bounds
        if self.low_bound > -math.inf and not lo > self.low_bound:
            raise rule_error((self.key, 0), f"`{self.key}` needs lo > {self.low_bound:g}")
        if not lo < hi:
            raise rule_error((self.key, 1), f"the range needs lo < hi (got [{lo:g}, {hi:g}])")
        return self


class LogUniformSpec(DistributionSpec):
    """Log-uniform between two positive numbers (learning rates, penalty weights)."""

    key: ClassVar[str] = "log_uniform"
    low_bound: ClassVar[float] = 0.0
    log_uniform: tuple[float, float] = Field(description="`[lo, hi]`, 0 < lo < hi.")


class UniformSpec(DistributionSpec):
    """Uniform between two numbers."""

    key: ClassVar[str] = "uniform"
    uniform: tuple[float, float] = Field(description="`[lo, hi]`, lo < hi.")


class IntUniformSpec(DistributionSpec):
    """A uniformly drawn integer from lo to hi, both included."""

    key: ClassVar[str] = "int_uniform"
    int_uniform: tuple[int, int] = Field(description="`[lo, hi]`, integers, lo < hi.")


DISTRIBUTIONS: dict[str, type[DistributionSpec]] = {
    cls.key: cls for cls in (LogUniformSpec, UniformSpec, IntUniformSpec)
}
PARAMETER_FORMS = "a list of choices, or `{log_uniform: [lo, hi]}`, `{uniform: [lo, hi]}` or " + (
    "`{int_uniform: [lo, hi]}`"
)


# the union's tags differ from the data's keys, so that error paths pass over them
_TAG = "range:{}"


def _parameter_form(value: Any) -> str | None:
    if isinstance(value, list):
        return "choices"
    if isinstance(value, dict):
        return next((_TAG.format(key) for key in value if key in DISTRIBUTIONS), None)
    return None


Parameter = Annotated[
    Annotated[list[Any], Field(min_length=1), Tag("choices")]
    | Annotated[LogUniformSpec, Tag(_TAG.format(LogUniformSpec.key))]
    | Annotated[UniformSpec, Tag(_TAG.format(UniformSpec.key))]
    | Annotated[IntUniformSpec, Tag(_TAG.format(IntUniformSpec.key))],
    Discriminator(
        _parameter_form,
        custom_error_type=CROSS_FIELD_ERROR,
        custom_error_message="a sweep parameter takes " + PARAMETER_FORMS,
        custom_error_context={"field": (), "hint": "e.g. `train.epochs: [50, 100]`"},
    ),
]
"""The values of one `--set` path: choices (every search), or a distribution (random, optuna)."""


class ResourcesSpec(SpecModel):
    """What one trial reserves on the Ray cluster."""

    cpu: float = Field(1.0, gt=0, description="CPUs per trial.")
    gpu: float = Field(0.0, ge=0, description="GPUs per trial (a fraction shares one GPU).")


class SweepSpec(SpecModel):
    """A hyper-parameter sweep over a base spec, run on Ray Tune."""

    version: int = Field(description="Sweep file format version; this pknet reads version 1.")
    spec: SpecPath = Field(description="The base spec (relative to this file).")
    parameters: dict[str, Parameter] = Field(
        min_length=1,
        description="`--set` paths (e.g. `train.optimizer.lr`, `model.layers[0].dropout`) -> "
        + PARAMETER_FORMS
        + ".",
    )
    search: Literal["grid", "random", "optuna"] = Field(
        "grid",
        description="`grid`: every combination of the choices; `random`: `trials` draws; "
        "`optuna`: `trials` suggestions of Optuna's TPE sampler.",
    )
    trials: int | None = Field(
        None, ge=1, description="How many trials random and optuna searches run (not for grid)."
    )
    metric: str = Field(description="The metric to optimise: one of the base spec's metrics.")
    mode: Literal["max", "min"] = Field(description="Whether a larger or a smaller metric wins.")
    selection: Literal["cv", "nested"] = Field(
        "cv",
        description="`cv`: the best trial by its mean CV score (optimistic: the same folds "
        "chose and scored it); `nested`: for each fold of the base spec's `evaluate.cv`, the "
        "search runs on that fold's training samples only (their own CV) and the chosen "
        "parameters are scored on its test samples (an unbiased score of the search).",
    )
    resources: ResourcesSpec = Field(
        default_factory=ResourcesSpec, description="What each trial reserves."
    )
    max_concurrent: int | None = Field(
        None, ge=1, description="At most this many trials at once (default: as resources allow)."
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the random and optuna search.")

    @model_validator(mode="after")
    def check_version(self) -> SweepSpec:
        if self.version not in SWEEP_VERSIONS:
            raise rule_error(
                ("version",), f"unsupported sweep version {self.version}; this pknet reads 1"
            )
        return self

    @model_validator(mode="after")
    def check_trials(self) -> SweepSpec:
        if self.search == "grid" and self.trials is not None:
            raise rule_error(
                ("trials",),
                "a grid search runs every combination once",
                "leave out `trials`, or use `search: random` or `search: optuna`",
            )
        if self.search != "grid" and self.trials is None:
            raise rule_error(
                ("search",), f"`search: {self.search}` needs `trials`", "e.g. `trials: 20`"
            )
        return self

    @model_validator(mode="after")
    def check_grid_has_choices(self) -> SweepSpec:
        if self.search != "grid":
            return self
        for name, parameter in self.parameters.items():
            if isinstance(parameter, DistributionSpec):
                raise rule_error(
                    ("parameters", name),
                    f"a grid search needs a list of choices, not a `{parameter.key}` range",
                    "list the values, e.g. `[1.0e-3, 1.0e-2]`, or use `search: random` or "
                    "`search: optuna`",
                )
        return self

    @model_validator(mode="after")
    def check_nested_keeps_the_folds(self) -> SweepSpec:
        if self.selection != "nested":
            return self
        for name in self.parameters:
            setting = next((f for f in FOLD_SETTINGS if _within(name, f)), None)
            if setting is not None:
                raise rule_error(
                    ("parameters", name),
                    f"`selection: nested` keeps the outer folds fixed, and `{setting}` decides "
                    "them",
                    "sweep this parameter with `selection: cv`, or leave it out",
                )
        return self


def _within(path: str, setting: str) -> bool:
    """Whether the `--set` path `path` is `setting` or below it."""
    return path == setting or path.startswith((f"{setting}.", f"{setting}["))
