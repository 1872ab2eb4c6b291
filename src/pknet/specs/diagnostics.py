"""Turn pydantic validation errors into located, readable `Problem`s."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from pknet.errors import Location, Problem, expression_excerpt
from pknet.rules import CROSS_FIELD_ERROR
from pknet.specs.introspect import SpecSchemaGuide, description_at, tags_at, value_at
from pknet.specs.schema import Spec
from pknet.specs.schema.model import MODEL_KIND_ERROR
from pknet.specs.schema.types import DSL_ERROR
from pknet.specs.sources import SourceMap
from pknet.specs.yaml_tree import PathKey
from pknet.suggest import did_you_mean

_QUOTED = re.compile(r"'([^']*)'")


def format_path(path: PathKey) -> str:
    """('model', 'layers', 0, 'units') -> 'model.layers[0].units'."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def _data_path(loc: tuple[Any, ...], data: Any, missing: bool = False) -> PathKey:
    """Follow pydantic's error location through the data, dropping union tags it inserts.

    Only a `missing` error may end in a key the data lacks; for any other error such a last
    key is a union tag (e.g. `edge_list` for a source whose `kind` was left to its default).
    """
    path: list[str | int] = []
    current = data
    for i, key in enumerate(loc):
        if (isinstance(current, dict) and key in current) or (
            isinstance(current, list) and isinstance(key, int) and 0 <= key < len(current)
        ):
            current = current[key]
        elif isinstance(current, dict) and key in (current.get("kind"), current.get("name")):
            continue  # the tag pydantic adds for a discriminated union member
        elif current == key:
            continue  # a bare `log1p` validated as `{kind: log1p}`
        elif i == len(loc) - 1 and missing:
            current = None  # a key the data lacks: missing field
        else:
            continue
        path.append(key)
    return tuple(path)


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"`{value}`"
    return text if len(text) <= 40 else text[:37] + "..."


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {_shown(value)}"


def problems_from_validation(
    exc: ValidationError, data: Any, sources: SourceMap, root: type[BaseModel] = Spec
) -> list[Problem]:
    """One `Problem` per pydantic error, located in the file(s) and sorted by position;
    `root` is the model that was validated (a spec's, or a sweep file's)."""
    problems = [_problem(err, data, sources, root) for err in exc.errors(include_url=False)]
    unique = list(dict.fromkeys(problems))

    def order(p: Problem) -> tuple[str, int, int]:
        loc = p.location or Location("")
        return (loc.source, loc.line or 0, loc.column or 0)

    return sorted(unique, key=order)


def _problem(err: Any, data: Any, sources: SourceMap, root: type[BaseModel]) -> Problem:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    path = _data_path(err["loc"], data, missing=kind == "missing")
    value = err.get("input")
    location = sources.value_location(path)
    hint = None
    message = err["msg"]

    if kind == CROSS_FIELD_ERROR:
        path = path + tuple(ctx.get("field", ()))
        # a rule about a whole section points at its key, not at the section's first line
        whole = isinstance(value_at(data, path), dict | list)
        location = sources.key_location(path) if whole else sources.value_location(path)
        hint = ctx.get("hint") or None
    elif kind == DSL_ERROR:
        return _dsl_problem(message, ctx, path, sources)
    elif kind == "extra_forbidden":
        key = path[-1]
        location = sources.key_location(path)
        allowed = SpecSchemaGuide(root).keys_at(path[:-1], data) or []
        message = f"unknown key `{key}`"
        hint = did_you_mean(key, allowed) or (
            f"allowed keys here: {', '.join(allowed)}" if allowed else None
        )
    elif kind == "missing":
        location = sources.key_location(path[:-1]) if path[:-1] else sources.value_location(())
        message = f"missing required key `{path[-1]}`"
        description = description_at(path, data, root)
        hint = description and f"`{path[-1]}`: {description}"
    elif kind == "literal_error":
        options = _QUOTED.findall(str(ctx.get("expected", "")))
        message = f"{_shown(value)} is not allowed; expected one of: {', '.join(options)}"
        hint = did_you_mean(value, options)
    elif kind in ("union_tag_invalid", "union_tag_not_found", MODEL_KIND_ERROR):
        tag_key = str(ctx.get("discriminator", "kind")).strip("'")
        expected = _QUOTED.findall(str(ctx.get("expected_tags", "")))
        tags = expected or tags_at(path, data, tag_key, root)
        if kind != "union_tag_not_found":
            tag = ctx["tag"] if "tag" in ctx else value_at(data, (*path, tag_key))
            message = f"unknown {tag_key} {_shown(tag)}; expected one of: {', '.join(tags)}"
            if isinstance(value_at(data, path), dict):
                path = (*path, tag_key)  # the field at fault is the tag itself
            location = sources.value_location(path)
            hint = did_you_mean(tag, tags)
        else:
            location = sources.key_location(path)  # like a missing key: at the mapping's key
            message = f"missing `{tag_key}`; one of: {', '.join(tags)}"
            hint = f"e.g. `{tag_key}: {tags[0]}`" if tags else None
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"expected a mapping of keys to values, got {_type_name(value)}"
    elif kind in ("list_type", "tuple_type"):
        message = f"expected a list, got {_type_name(value)}"
    elif not isinstance(value, dict | list):
        message = f"{message} (got {_type_name(value)})"
        if kind == "string_type" and isinstance(value, bool | None):
            hint = "YAML reads unquoted yes/no/on/off/true/false/null as non-text; quote the word"
    return Problem(
        message, location, format_path(path), hint=hint or None, excerpt=sources.excerpt(location)
    )


def _dsl_problem(message: str, ctx: dict[str, Any], path: PathKey, sources: SourceMap) -> Problem:
    column = int(ctx.get("column", 1))
    expression = str(ctx.get("expression", ""))
    entry = sources.entry(path) if sources.is_exact(path) else None
    location = entry.value if entry else sources.value_location(path)
    shown = None
    single_line = "\n" not in expression
    if entry and location and location.column and single_line and entry.style in (None, "'", '"'):
        shift = 0 if entry.style is None else 1
        location = Location(location.source, location.line, location.column + shift + column - 1)
        shown = sources.excerpt(location)
    if shown is None:
        shown = expression_excerpt(expression, column, "      | ")
    return Problem(
        f"{message} (column {column} of the expression)",
        location,
        format_path(path),
        hint=ctx.get("hint") or None,
        excerpt=shown,
    )
