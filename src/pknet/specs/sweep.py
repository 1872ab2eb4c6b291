"""`load_sweep`: a sweep file -> its validated `SweepSpec` and base `Spec`, every parameter
value checked against the base spec's schema before any trial runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pknet.errors import Location, Problem, SpecError
from pknet.specs.diagnostics import format_path, problems_from_validation
from pknet.specs.load import load_spec
from pknet.specs.paths import resolve_paths
from pknet.specs.run_sections import require_run_sections
from pknet.specs.schema import Spec
from pknet.specs.schema.sweep import DistributionSpec, SweepSpec
from pknet.specs.sources import OVERRIDE_SOURCE, SourceMap, read_spec_tree
from pknet.specs.yaml_tree import PathKey, to_plain
from pknet.suggest import did_you_mean


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its file, its settings (the base spec's path made absolute) and the
    base spec itself."""

    file: Path
    settings: SweepSpec
    base: Spec

    @property
    def base_file(self) -> Path:
        return self.settings.spec


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; raise `SpecError` with positions in the sweep file (or in
    the base spec, for a base spec that is itself invalid)."""
    source = read_spec_tree(Path(path))
    sources = source.source_map()
    data = to_plain(source.tree)
    try:
        settings = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, data, sources, SweepSpec)) from None
    settings, missing = resolve_paths(settings, sources)
    if missing:
        raise SpecError(missing)
    base = load_spec(settings.spec)
    require_run_sections(base, "sweep")
    problems = _metric_problems(settings, base, sources)
    for name, value, at in parameter_values(settings):
        problems += _value_problems(settings.spec, name, value, at, sources)
    if problems:
        raise SpecError(problems)
    return Sweep(Path(path).resolve(), settings, base)


def parameter_values(settings: SweepSpec) -> Iterator[tuple[str, Any, PathKey]]:
    """Every value a trial may set, with its data path in the sweep file: each choice, and both
    ends of each range."""
    for name, parameter in settings.parameters.items():
        if isinstance(parameter, DistributionSpec):
            for i, end in enumerate(parameter.bounds):
                yield name, end, ("parameters", name, parameter.key, i)
        else:
            for i, choice in enumerate(parameter):
                yield name, choice, ("parameters", name, i)


def _metric_problems(settings: SweepSpec, base: Spec, sources: SourceMap) -> list[Problem]:
    names = base.evaluate.metric_names
    if settings.metric in names:
        return []
    location = sources.value_location(("metric",))
    return [
        Problem(
            f"the base spec computes no metric `{settings.metric}`",
            location,
            "metric",
            hint=did_you_mean(settings.metric, names)
            or f"its `evaluate.metrics`: {', '.join(names)}",
            excerpt=sources.excerpt(location),
        )
    ]


def _value_problems(
    base: Path, name: str, value: Any, at: PathKey, sources: SourceMap
) -> list[Problem]:
    """The base spec's problems with `name` set to `value`, located at the value in the sweep
    file (an unknown path: at its key)."""
    try:
        load_spec(base, {name: value})
    except SpecError as exc:
        return [_relocated(p, name, at, sources) for p in exc.problems]
    return []


def _relocated(problem: Problem, name: str, at: PathKey, sources: SourceMap) -> Problem:
    where = problem.location
    from_override = where is None or where.source.startswith(OVERRIDE_SOURCE)
    unknown_path = from_override and not problem.path
    location = sources.key_location(at[:2]) if unknown_path else sources.value_location(at)
    message = problem.message
    if not from_override:  # a rule of the base spec that this value breaks elsewhere
        message += f" (at {where}, with `{name}` set to this value)"
    return replace(
        problem,
        location=location or Location(str(at)),
        message=message,
        path=problem.path or format_path(at[:2]),
        excerpt=sources.excerpt(location),
    )
