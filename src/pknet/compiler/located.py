"""Errors that point back at the spec field that caused them."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from pknet.errors import PknetError, Problem
from pknet.specs import Spec
from pknet.specs.diagnostics import format_path
from pknet.specs.yaml_tree import PathKey

E = TypeVar("E", bound=PknetError)


def spec_problem(spec: Spec, path: PathKey, message: str, hint: str | None = None) -> Problem:
    """A `Problem` located at the place in the spec file(s) where `path` was written."""
    sources = spec.sources
    location = sources.value_location(path) if sources else None
    excerpt = sources.excerpt(location) if sources else None
    return Problem(message, location, format_path(path), hint=hint, excerpt=excerpt)


def parse_path(path: str) -> PathKey:
    """'model.layers[0].units' -> ('model', 'layers', 0, 'units')."""
    return tuple(
        int(p) if p.isdigit() else p for p in path.replace("[", ".").replace("]", "").split(".")
    )


def locate(spec: Spec, error: E) -> E:
    """`error` with each problem that knows only its field path located in the spec's source
    (the one place, at the API boundary, where problems raised deep inside get a location)."""
    if all(p.location is not None or not p.path for p in error.problems):
        return error
    problems = [
        dataclasses.replace(spec_problem(spec, parse_path(p.path), p.message, p.hint), path=p.path)
        if p.location is None and p.path
        else p
        for p in error.problems
    ]
    located = type(error)(problems)
    located.__cause__ = error.__cause__
    located.__suppress_context__ = True
    return located
