"""Compile errors that point back at the spec field that caused them."""

from __future__ import annotations

from pknet.errors import Problem
from pknet.specs import Spec
from pknet.specs.diagnostics import format_path
from pknet.specs.yaml_tree import PathKey


def spec_problem(spec: Spec, path: PathKey, message: str, hint: str | None = None) -> Problem:
    """A `Problem` located at the place in the spec file(s) where `path` was written."""
    sources = spec.sources
    location = sources.value_location(path) if sources else None
    excerpt = sources.excerpt(location) if sources else None
    return Problem(message, location, format_path(path), hint=hint, excerpt=excerpt)
