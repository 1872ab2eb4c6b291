"""Spec sources: files joined by `extends`, `--set` overrides, and the map back to positions.

`read_spec_tree` returns one located tree (see `yaml_tree`) for a spec file with its `extends`
chain merged in; `apply_overrides` merges `--set path=value` pairs into it; `SourceMap` answers
"where was this field written?" for every error pknet reports later, at any stage.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pknet.errors import FileProblem, Location, Problem, SpecError, excerpt
from pknet.files import MAX_TEXT_BYTES, MISSING, read_capped
from pknet.specs.yaml_tree import (
    Mapping,
    Node,
    PathKey,
    Scalar,
    Sequence,
    parse_value,
    parse_yaml,
    walk,
)
from pknet.suggest import did_you_mean

EXTENDS_KEY = "extends"
OVERRIDE_SOURCE = "--set"
MSG_RELATIVE = "paths in a spec resolve relative to the folder of the file that names them"


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


@dataclass(frozen=True)
class SourceEntry:
    """Where one value was written: the value itself, its key (if any), its quoting style."""

    value: Location
    key: Location | None
    style: str | None


class SourceMap:
    """Positions of every key and value of a merged spec tree, by data path."""

    def __init__(self, tree: Node, files: dict[str, Path], texts: dict[str, str]):
        self._entries: dict[PathKey, SourceEntry] = {
            path: SourceEntry(node.loc, key_loc, getattr(node, "style", None))
            for path, key_loc, node in walk(tree)
        }
        self._files = files
        self._lines = {source: text.splitlines() for source, text in texts.items()}

    def _as_written(self, path: PathKey) -> PathKey:
        """`path` without the list index 0 a one-or-many field adds to a single value
        (`edges: {file: ...}` validates as `edges: [{file: ...}]`)."""
        written: list = []
        for key in path:
            parent = tuple(written)
            if key == 0 and parent in self._entries and (*parent, 0) not in self._entries:
                continue
            written.append(key)
        return tuple(written)

    def entry(self, path: PathKey) -> SourceEntry | None:
        """The entry of `path`, or of its nearest ancestor that was written down."""
        path = self._as_written(path)
        for end in range(len(path), -1, -1):
            found = self._entries.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def value_location(self, path: PathKey) -> Location | None:
        found = self.entry(path)
        return found.value if found else None

    def key_location(self, path: PathKey) -> Location | None:
        exact = self._entries.get(self._as_written(path))
        if exact is not None and exact.key is not None:
            return exact.key
        return self.value_location(path)

    def is_exact(self, path: PathKey) -> bool:
        return self._as_written(path) in self._entries

    def base_dir(self, path: PathKey) -> Path:
        """The folder relative paths at `path` resolve against: that of the file declaring them."""
        loc = self.value_location(path)
        file = self._files.get(loc.source) if loc else None
        return file.parent if file is not None else Path.cwd()

    def excerpt(self, loc: Location | None) -> str | None:
        """The source line of `loc` with a caret under its column."""
        if loc is None or loc.line is None or loc.source not in self._lines:
            return None
        lines = self._lines[loc.source]
        if not 0 < loc.line <= len(lines):
            return None
        return excerpt(lines[loc.line - 1], loc.column or 1, f"{loc.line:>5} | ")


@dataclass
class SpecSource:
    """A merged spec tree plus what is needed to point back into its files."""

    tree: Mapping
    files: dict[str, Path]
    texts: dict[str, str]
    root_file: Path

    def source_map(self) -> SourceMap:
        return SourceMap(self.tree, self.files, self.texts)


def read_spec_tree(path: Path) -> SpecSource:
    """Read a spec file and everything it `extends`, merged (the extending file wins)."""
    source = SpecSource(Mapping({}, Location(display_path(path))), {}, {}, path.resolve())
    source.tree = _read_with_bases(path.resolve(), source, stack=(), cited_at=None)
    return source


def _read_file(path: Path, cited_at: Location | None) -> str:
    try:
        data = read_capped(path, MAX_TEXT_BYTES)
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1  # in bytes: the text is not UTF-8
        problem = Problem(
            f"spec file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            Location(display_path(path), line, column),
            hint="save the spec as UTF-8",
        )
    except FileProblem as exc:
        where = f" (named in `{EXTENDS_KEY}`)" if cited_at else ""
        missing = str(exc) == MISSING
        problem = Problem(
            f"spec file {exc}: {display_path(path)}{where}",
            cited_at or Location(display_path(path)),
            EXTENDS_KEY if cited_at else "",
            hint=MSG_RELATIVE if cited_at and missing else None,
        )
    except OSError as exc:
        problem = Problem(
            f"cannot read spec file {display_path(path)}: {exc.strerror}",
            cited_at or Location(display_path(path)),
            EXTENDS_KEY if cited_at else "",
        )
    raise SpecError(problem)


def _read_with_bases(
    path: Path, source: SpecSource, stack: tuple[Path, ...], cited_at: Location | None
) -> Mapping:
    text = _read_file(path, cited_at)
    name = display_path(path)
    source.files[name] = path
    source.texts[name] = text
    tree = parse_yaml(text, name)
    if not isinstance(tree, Mapping):
        raise SpecError(
            Problem("a spec must be a YAML mapping of sections (`name: ...`)", tree.loc)
        )
    entries = dict(tree.entries)
    extends = entries.pop(EXTENDS_KEY, None)
    merged: Node = Mapping({}, tree.loc)
    for base_name, base_loc in _extends_targets(extends):
        base = (path.parent / base_name).resolve()
        if base in (*stack, path):
            chain = " -> ".join(display_path(p) for p in (*stack, path, base))
            raise SpecError(
                Problem(
                    f"`{EXTENDS_KEY}` cycle: {chain}",
                    base_loc,
                    path=EXTENDS_KEY,
                    hint="a spec cannot extend itself, directly or through its bases",
                )
            )
        merged = merge_trees(merged, _read_with_bases(base, source, (*stack, path), base_loc))
    return merge_trees(merged, Mapping(entries, tree.loc))  # type: ignore[return-value]


def _extends_targets(extends: tuple[Location, Node] | None) -> list[tuple[str, Location]]:
    if extends is None:
        return []
    _, node = extends
    items = node.items if isinstance(node, Sequence) else (node,)
    targets = []
    for item in items:
        name = item.value if isinstance(item, Scalar) else None
        if not (isinstance(name, str) and name and "\0" not in name):
            raise SpecError(
                Problem(
                    "`extends` takes a file name or a list of file names",
                    item.loc,
                    path=EXTENDS_KEY,
                    hint="e.g. `extends: base.yaml`",
                )
            )
        targets.append((item.value, item.loc))
    return targets


def merge_trees(base: Node, override: Node) -> Node:
    """Deep merge: mappings merge key by key; anything else in `override` replaces `base`."""
    if not (isinstance(base, Mapping) and isinstance(override, Mapping)):
        return override
    entries = dict(base.entries)
    for key, (key_loc, node) in override.entries.items():
        entries[key] = (key_loc, merge_trees(entries[key][1], node) if key in entries else node)
    return Mapping(entries, override.loc if override.entries else base.loc)


# --- overrides -------------------------------------------------------------------------------

_OVERRIDE_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\.\d+|\[\d+\])*")
_PATH_PART = re.compile(r"[A-Za-z_]\w*|\d+")


def parse_override_path(path: str, loc: Location) -> PathKey:
    """`model.layers[0].dropout` (or `model.layers.0.dropout`) -> a tuple of keys."""
    if not _OVERRIDE_PATH.fullmatch(path):
        raise SpecError(
            Problem(
                f"bad override path `{path}`",
                loc,
                hint="write dotted keys with list indices, e.g. `model.layers[0].dropout`",
            )
        )
    return tuple(int(p) if p.isdigit() else p for p in _PATH_PART.findall(path))


class SchemaGuide:
    """What the schema says about a data path; implemented by `specs.introspect`."""

    def keys_at(self, path: PathKey, data: object) -> list[str] | None:
        """Allowed keys of the mapping at `path`, or None when any key is allowed."""
        raise NotImplementedError

    def wants_text(self, path: PathKey, data: object) -> bool:
        """True when the field at `path` only takes strings (the value is kept verbatim)."""
        raise NotImplementedError


def apply_overrides(
    tree: Mapping, overrides: list[str], guide: SchemaGuide, to_plain: Callable[[Node], object]
) -> Mapping:
    """Merge `path=value` overrides into the tree, checking each path against the schema."""
    for text in overrides:
        loc = Location(f"{OVERRIDE_SOURCE} {text}")
        path_text, sep, value_text = text.partition("=")
        if not sep:
            raise SpecError(
                Problem("an override needs `=`", loc, hint="write `--set train.epochs=50`")
            )
        path = parse_override_path(path_text.strip(), loc)
        _check_override_path(tree, path, guide, to_plain, loc)
        value_source = loc.source
        structured = value_text.lstrip().startswith(("[", "{"))
        if guide.wants_text(path, to_plain(tree)) and not structured:
            value: Node = Scalar(value_text, Location(value_source))
        else:
            value = parse_value(value_text, value_source)
        tree = _set_path(tree, path, value, loc)  # type: ignore[assignment]
    return tree


def _switches_kind(old: Node, new: Node) -> bool:
    """An override mapping that names another `kind` (or optimizer `name`) replaces the
    mapping it lands on instead of merging into it: the old options belong to the old kind
    (`--set 'evaluate.cv={kind: leave_one_out}'` must not keep `folds`)."""
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return False
    for key in ("kind", "name"):
        before, after = old.entries.get(key, (None, None))[1], new.entries.get(key, (None, None))[1]
        if isinstance(before, Scalar) and isinstance(after, Scalar) and before.value != after.value:
            return True
    return False


def _check_override_path(
    tree: Mapping,
    path: PathKey,
    guide: SchemaGuide,
    to_plain: Callable[[Node], object],
    loc: Location,
) -> None:
    data = to_plain(tree)
    for depth, key in enumerate(path):
        if isinstance(key, int):
            continue
        allowed = guide.keys_at(path[:depth], data)
        if allowed is not None and key not in allowed:
            prefix = ".".join(str(k) for k in path[:depth]) or "the spec"
            hint = did_you_mean(key, allowed) or f"keys of {prefix}: {', '.join(allowed)}"
            raise SpecError(Problem(f"unknown field `{key}` in override path", loc, hint=hint))


def _set_path(node: Node, path: PathKey, value: Node, loc: Location) -> Node:
    if not path:
        return value if _switches_kind(node, value) else merge_trees(node, value)
    key, rest = path[0], path[1:]
    if isinstance(key, int):
        if not isinstance(node, Sequence):
            raise SpecError(Problem(f"`[{key}]` indexes a value that is not a list", loc))
        if key > len(node.items):
            raise SpecError(
                Problem(
                    f"index {key} is past the end of a list of {len(node.items)} items",
                    loc,
                    hint=f"use an index from 0 to {len(node.items)} (the last one appends)",
                )
            )
        items = list(node.items)
        if key == len(items):
            items.append(_set_path(Mapping({}, loc), rest, value, loc))
        else:
            items[key] = _set_path(items[key], rest, value, loc)
        return Sequence(tuple(items), node.loc)
    if not isinstance(node, Mapping):
        node = Mapping({}, loc)
    entries = dict(node.entries)
    child = entries[key][1] if key in entries else Mapping({}, loc)
    entries[key] = (entries[key][0] if key in entries else loc, _set_path(child, rest, value, loc))
    return Mapping(entries, node.loc)
