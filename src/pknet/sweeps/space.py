"""The search space a sweep file describes, in Ray Tune's terms.

Each parameter gets a short config key (`p0`, `p1`, ...): Tune and Optuna see only those, so
a `--set` path with dots and brackets never meets their own key syntax. A list of choices is
searched by index, so any YAML value (a list, a mapping, a loss expression) can be a choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pknet.specs.schema.sweep import (
    DistributionSpec,
    IntUniformSpec,
    LogUniformSpec,
    SweepSpec,
    UniformSpec,
)


@dataclass(frozen=True)
class SearchParameter:
    """One `--set` path of the sweep and its config key."""

    key: str
    path: str
    choices: tuple[Any, ...] | None  # None: a range
    distribution: DistributionSpec | None

    def value(self, sampled: Any) -> Any:
        """The spec value of a sampled config entry (a choice's index, or a number)."""
        if self.choices is not None:
            return self.choices[int(sampled)]
        if isinstance(self.distribution, IntUniformSpec):
            return int(sampled)
        return float(sampled)

    def tune_domain(self, grid: bool) -> Any:
        from ray import tune

        if self.choices is not None:
            indices = list(range(len(self.choices)))
            return tune.grid_search(indices) if grid else tune.choice(indices)
        lo, hi = self.distribution.bounds  # type: ignore[union-attr]
        if isinstance(self.distribution, LogUniformSpec):
            return tune.loguniform(lo, hi)
        if isinstance(self.distribution, UniformSpec):
            return tune.uniform(lo, hi)
        return tune.randint(int(lo), int(hi) + 1)  # randint excludes its upper end


def search_parameters(settings: SweepSpec) -> list[SearchParameter]:
    """The sweep's parameters in file order."""
    found = []
    for i, (path, parameter) in enumerate(settings.parameters.items()):
        if isinstance(parameter, DistributionSpec):
            found.append(SearchParameter(f"p{i}", path, None, parameter))
        else:
            found.append(SearchParameter(f"p{i}", path, tuple(parameter), None))
    return found


def overrides(parameters: list[SearchParameter], config: dict[str, Any]) -> dict[str, Any]:
    """`--set` overrides of one trial: path -> value."""
    return {p.path: p.value(config[p.key]) for p in parameters}
