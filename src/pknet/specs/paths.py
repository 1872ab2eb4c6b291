"""Resolve every file path in a spec against the folder of the file that wrote it.

Runs after validation: the schema marks paths with the `Path` type, and the source map says
which file (and so which folder) each one came from. Missing files (and folders, devices or
pipes where a file belongs) are reported here, with their spec position, before anything is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pknet.errors import Problem
from pknet.files import file_problem
from pknet.specs.diagnostics import format_path
from pknet.specs.dsl import Selector, map_selector_files
from pknet.specs.introspect import fields_by_key
from pknet.specs.sources import SourceMap
from pknet.specs.yaml_tree import PathKey

PathFn = Callable[[PathKey, Path], Path]


def map_paths(value: Any, fn: PathFn, path: PathKey = ()) -> Any:
    """A copy of `value` (a spec or part of one) with `fn(field_path, p)` applied to each path.

    Paths named inside selectors (`file(inputs.txt)`) are mapped too.
    """
    if isinstance(value, BaseModel):
        updates = {}
        for key, info in fields_by_key(type(value)).items():
            name = next(n for n, i in type(value).model_fields.items() if i is info)
            old = getattr(value, name)
            new = map_paths(old, fn, (*path, key))
            if new is not old:
                updates[name] = new
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, list):
        mapped = [map_paths(item, fn, (*path, i)) for i, item in enumerate(value)]
        return mapped if any(m is not v for m, v in zip(mapped, value, strict=True)) else value
    if isinstance(value, Path):
        return fn(path, value)
    if isinstance(value, Selector):
        return map_selector_files(value, lambda text: str(fn(path, Path(text))))
    return value


def resolve_paths(spec: BaseModel, sources: SourceMap) -> tuple[Any, list[Problem]]:
    """Make every path absolute; return the new spec and the problems for missing files."""
    problems: list[Problem] = []

    def resolve(path: PathKey, value: Path) -> Path:
        resolved = value if value.is_absolute() else (sources.base_dir(path) / value)
        resolved = Path(os.path.normpath(resolved))
        reason = file_problem(resolved)
        if reason is not None:
            location = sources.value_location(path)
            problems.append(
                Problem(
                    f"file {reason}: {value}",
                    location,
                    format_path(path),
                    hint=f"relative paths resolve against {sources.base_dir(path)}",
                    excerpt=sources.excerpt(location),
                )
            )
        return resolved

    return map_paths(spec, resolve), problems


def relative_paths(spec: BaseModel, base_dir: Path) -> Any:
    """The spec with paths written relative to `base_dir` (for rendering next to the spec)."""

    def relative(_: PathKey, value: Path) -> Path:
        try:
            return Path(os.path.relpath(value, base_dir))
        except ValueError:  # another drive on Windows
            return value

    return map_paths(spec, relative)
