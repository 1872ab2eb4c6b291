"""Questions about the schema at a data path: which keys are allowed, which type is expected.

Used for "did you mean" hints and to type `--set` values. Unions (discriminated on `kind` or
`name`) are narrowed with the data at hand, so `model.layers[0]` offers a dense layer's keys
when that layer says `kind: dense`.
"""

from __future__ import annotations

import types
from inspect import isclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pknet.specs.dsl import LossExpr, Selector
from pknet.specs.schema import Spec
from pknet.specs.sources import SchemaGuide
from pknet.specs.yaml_tree import PathKey

_TEXT_TYPES = (str, Path, Selector, LossExpr)


def fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields under the keys a spec writes (aliases where given)."""
    return {(info.alias or name): info for name, info in model.model_fields.items()}


def _leaves(tp: Any) -> list[Any]:
    """Flatten Annotated / Optional / Union into the plain member types."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _leaves(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [leaf for arg in get_args(tp) if arg is not type(None) for leaf in _leaves(arg)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isclass(tp) and issubclass(tp, BaseModel)


def _narrow(candidates: list[Any], data: Any) -> list[Any]:
    """Keep the union members whose Literal-typed fields agree with the data (the tag)."""
    if not isinstance(data, dict) or len(candidates) < 2:
        return candidates
    kept = []
    for tp in candidates:
        if not _is_model(tp):
            kept.append(tp)
            continue
        agrees = all(
            data[key] in get_args(info.annotation)
            for key, info in fields_by_key(tp).items()
            if get_origin(info.annotation) is Literal and key in data
        )
        if agrees:
            kept.append(tp)
    return kept or candidates


def value_at(data: Any, path: PathKey) -> Any:
    """The value at `path` in plain data, or None where the path leads nowhere."""
    for key in path:
        if (isinstance(data, dict) and key in data) or (
            isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data)
        ):
            data = data[key]
        else:
            return None
    return data


def _single_items(candidates: list[Any], key: str | int) -> list[Any]:
    """Where a list field was written as one item (`edges: {...}`), a key names item fields."""
    if isinstance(key, int):
        return candidates
    return [
        item
        for tp in candidates
        for item in (_leaves(get_args(tp)[0]) if get_origin(tp) in (list, tuple) else [tp])
    ]


def types_at(path: PathKey, data: Any, root: type[BaseModel] = Spec) -> list[Any]:
    """The schema types that may stand at `path` (empty when the path leaves the schema)."""
    candidates: list[Any] = [root]
    for depth, key in enumerate(path):
        candidates = _narrow(candidates, value_at(data, path[:depth]))
        following: list[Any] = []
        for tp in _single_items(candidates, key):
            if isinstance(key, int) and get_origin(tp) in (list, tuple):
                following += _leaves(get_args(tp)[0])
            elif isinstance(key, str) and _is_model(tp):
                info = fields_by_key(tp).get(key)
                if info is not None:
                    following += _leaves(info.annotation)
        candidates = following
    return _narrow(candidates, value_at(data, path))


def tags_at(path: PathKey, data: Any, tag_key: str, root: type[BaseModel] = Spec) -> list[str]:
    """The allowed values of a union's tag field (`kind`, `name`) at `path`."""
    tags: list[str] = []
    for tp in types_at(path[:-1], data, root) if path else []:
        if get_origin(tp) in (list, tuple):
            members = _leaves(get_args(tp)[0])
        elif _is_model(tp):
            info = fields_by_key(tp).get(path[-1]) if isinstance(path[-1], str) else None
            members = _leaves(info.annotation) if info else []
        else:
            members = []
        for member in members:
            info = fields_by_key(member).get(tag_key) if _is_model(member) else None
            if info is not None and get_origin(info.annotation) is Literal:
                tags += [t for t in get_args(info.annotation) if t not in tags]
    return tags


def description_at(path: PathKey, data: Any, root: type[BaseModel] = Spec) -> str | None:
    """The description of the field at `path`, if the schema has one."""
    if not path or not isinstance(path[-1], str):
        return None
    candidates = _single_items(types_at(path[:-1], data, root), path[-1])
    parent = _narrow(candidates, value_at(data, path[:-1]))
    for tp in parent:
        if _is_model(tp):
            info = fields_by_key(tp).get(path[-1])
            if info is not None and info.description:
                return info.description
    return None


class SpecSchemaGuide(SchemaGuide):
    """The `SchemaGuide` for the pknet `Spec`, or for another file's model (`root`)."""

    def __init__(self, root: type[BaseModel] = Spec):
        self.root = root

    def keys_at(self, path: PathKey, data: object) -> list[str] | None:
        candidates = types_at(path, data, self.root)
        if not candidates or not all(_is_model(tp) for tp in candidates):
            return None
        return sorted({key for tp in candidates for key in fields_by_key(tp)})

    def wants_text(self, path: PathKey, data: object) -> bool:
        candidates = types_at(path, data, self.root)
        return bool(candidates) and all(
            (isclass(tp) and issubclass(tp, _TEXT_TYPES))
            or (get_origin(tp) is Literal and all(isinstance(a, str) for a in get_args(tp)))
            for tp in candidates
        )
