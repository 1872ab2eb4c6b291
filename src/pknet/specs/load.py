"""`load_spec`: file(s) + overrides -> a validated, fully defaulted, immutable `Spec`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pknet.errors import SpecError
from pknet.specs.diagnostics import problems_from_validation
from pknet.specs.introspect import SpecSchemaGuide
from pknet.specs.paths import relative_paths, resolve_paths
from pknet.specs.schema import Spec
from pknet.specs.sources import SourceMap, apply_overrides, read_spec_tree
from pknet.specs.yaml_tree import dump_yaml, to_plain

Overrides = Iterable[str] | Mapping[str, Any]


def _override_texts(overrides: Overrides) -> list[str]:
    if isinstance(overrides, Mapping):
        return [
            f"{key}={value if isinstance(value, str) else json.dumps(value)}"
            for key, value in overrides.items()
        ]
    return list(overrides)


def load_spec(path: str | Path, overrides: Overrides = ()) -> Spec:
    """Read, merge (`extends`, overrides), validate and resolve a spec file.

    `overrides` are `"train.epochs=50"` strings (as `--set` takes them) or a mapping
    `{"train.epochs": 50}`. Raises `SpecError` listing every problem with its file position.
    """
    source = read_spec_tree(Path(path))
    tree = apply_overrides(source.tree, _override_texts(overrides), SpecSchemaGuide(), to_plain)
    source.tree = tree
    sources = source.source_map()
    spec, missing = resolve_paths(_validated(to_plain(tree), sources), sources)
    if missing:
        raise SpecError(missing)
    spec._sources = sources
    return spec


def read_rendered_spec(path: str | Path) -> Spec:
    """A spec file as `render_spec` wrote it (a run's `spec.resolved.yaml`), validated as it
    stands: no overrides, its paths neither resolved nor checked. Raises `SpecError` listing
    every problem with its file position."""
    source = read_spec_tree(Path(path))
    return _validated(to_plain(source.tree), source.source_map())


def _validated(data: Any, sources: SourceMap) -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, data, sources)) from None


def render_spec(spec: Spec, base_dir: Path | None = None) -> str:
    """The fully resolved spec as YAML: every default filled, paths relative to `base_dir`.

    With `base_dir` the folder of the original spec, the output validates there and renders to
    the same text again.
    """
    if base_dir is not None:
        spec = relative_paths(spec, base_dir)
    data = spec.model_dump(mode="json", by_alias=True)
    return dump_yaml(data)
