"""YAML read into a tree that remembers where every key and value came from.

PyYAML composes the document into nodes carrying marks; we walk those nodes ourselves so that
only plain data (mappings with string keys, lists, str/int/float/bool/null) can get through,
duplicate keys are errors rather than silent overwrites, and every value keeps its file, line
and column for error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import yaml

from pknet.errors import Location, Problem, SpecError, excerpt

MSG_TABS = "YAML indentation must use spaces; this line contains a tab character"
MSG_INDENT = (
    "check the indentation of this line: keys of one mapping must start in the same column, "
    "and a nested mapping is indented under its key"
)
MSG_MERGE_KEY = "YAML merge keys (`<<`) are not supported in specs; use `extends: base.yaml`"
MAX_DEPTH = 64
MAX_NODES = 100_000
MSG_TOO_DEEP = f"values nest more than {MAX_DEPTH} levels deep; a spec is never that deep"
MSG_TOO_LARGE = f"the document holds more than {MAX_NODES:,} values"
MSG_ALIAS_HINT = "YAML aliases (`*name`) repeat whole values; expand fewer of them"
MSG_TAG = (
    "YAML tag `{tag}` is not allowed: a spec holds plain values (strings, numbers, booleans, "
    "lists and mappings)"
)

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that also reads YAML 1.2 floats such as `1e-3` (PyYAML needs `1.0e-3`)."""


class _SpecDumper(yaml.SafeDumper):
    """SafeDumper that quotes every string `_SpecLoader` would read as another type."""


def _represent_str(dumper: _SpecDumper, text: str) -> yaml.ScalarNode:
    # PyYAML writes these line breaks raw inside single quotes, where reading folds them to
    # spaces; double quotes escape them
    style = '"' if any(c in text for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_SpecDumper.add_representer(str, _represent_str)
for _resolving in (_SpecLoader, _SpecDumper):
    _resolving.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


@dataclass(frozen=True)
class Scalar:
    """A leaf value and where it was written; `style` is None for plain, else the quote char."""

    value: Any
    loc: Location
    style: str | None = None


@dataclass(frozen=True)
class Sequence:
    items: tuple[Node, ...]
    loc: Location


@dataclass(frozen=True)
class Mapping:
    """Keys in file order; each entry keeps the key's own location."""

    entries: dict[str, tuple[Location, Node]]
    loc: Location


Node = Scalar | Sequence | Mapping
PathKey = tuple[str | int, ...]


def to_plain(node: Node) -> Any:
    """The plain Python data (dict / list / scalars) that a tree stands for."""
    if isinstance(node, Mapping):
        return {key: to_plain(child) for key, (_, child) in node.entries.items()}
    if isinstance(node, Sequence):
        return [to_plain(child) for child in node.items]
    return node.value


def walk(node: Node, path: PathKey = ()) -> Iterator[tuple[PathKey, Location | None, Node]]:
    """Yield (path, key location, node) for the node and all its descendants."""
    yield path, None, node
    if isinstance(node, Mapping):
        for key, (key_loc, child) in node.entries.items():
            for sub_path, sub_key_loc, sub in walk(child, (*path, key)):
                yield sub_path, sub_key_loc if sub_path != (*path, key) else key_loc, sub
    elif isinstance(node, Sequence):
        for i, child in enumerate(node.items):
            yield from walk(child, (*path, i))


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _location(source: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(source)
    return Location(source, mark.line + 1, mark.column + 1)


def parse_yaml(text: str, source: str) -> Node:
    """Parse one YAML document into a located tree; any problem raises `SpecError`."""
    try:
        loader = _SpecLoader(text)
    except yaml.reader.ReaderError as exc:
        raise SpecError(_with_excerpt(_reader_problem(exc, text, source), text)) from None
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise SpecError(_with_excerpt(_syntax_problem(exc, text, source), text)) from None
    except yaml.reader.ReaderError as exc:
        raise SpecError(_with_excerpt(_reader_problem(exc, text, source), text)) from None
    except yaml.YAMLError as exc:  # errors without a mark (none known)
        raise SpecError(Problem(f"not valid YAML: {exc}", Location(source, 1, 1))) from None
    except RecursionError:
        raise SpecError(_with_excerpt(_too_deep_problem(text, source), text)) from None
    finally:
        loader.dispose()
    if root is None:
        raise SpecError(
            Problem("the file is empty; a spec is a YAML mapping", Location(source, 1, 1))
        )
    builder = _Builder(loader, source)
    tree = builder.build(root, ())
    if builder.problems:
        raise SpecError([_with_excerpt(p, text) for p in builder.problems])
    return tree


def dump_yaml(data: Any) -> str:
    """Plain data as YAML that `parse_yaml` reads back to the same data (keys kept in order)."""
    return yaml.dump(data, Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=100)


def parse_value(text: str, source: str) -> Node:
    """Parse a value given on the command line (a scalar or a flow list / mapping)."""
    if text.strip() == "":
        return Scalar("", Location(source))
    try:
        tree = parse_yaml(text, source)
    except SpecError as exc:
        raise SpecError([_in_value(p, source) for p in exc.problems]) from None
    return _relocate(tree, Location(source))


def _in_value(problem: Problem, source: str) -> Problem:
    """A problem found in a command-line value, located at the override itself."""
    loc = problem.location
    where = f" (column {loc.column} of the value)" if loc and loc.column else ""
    started = re.compile(rf"\(started at {re.escape(source)}:\d+:(\d+)\)")
    message = started.sub(r"(started at column \1 of the value)", problem.message) + where
    return replace(problem, message=message, location=Location(source), path="", excerpt=None)


def _relocate(node: Node, loc: Location) -> Node:
    """Give every node of a command-line value the override's location."""
    if isinstance(node, Mapping):
        return Mapping({k: (loc, _relocate(v, loc)) for k, (_, v) in node.entries.items()}, loc)
    if isinstance(node, Sequence):
        return Sequence(tuple(_relocate(c, loc) for c in node.items), loc)
    return Scalar(node.value, loc, node.style)


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, source: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    loc = _location(source, mark)
    context = exc.context
    start = exc.context_mark
    if context and start is not None and mark is not None and start.index != mark.index:
        if text[mark.index :].strip() == "":
            # the file ended inside a quote or bracket: point at where it was opened
            loc = _location(source, start)
            context += " that is never closed"
        else:  # an unclosed construct noticed further down: say where it started
            context += f" (started at {_location(source, start)})"
    message = "; ".join(p for p in (context, exc.problem) if p) or "not valid YAML"
    lines = text.splitlines()
    line_text = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    hint = None
    if "\t" in line_text or "'\\t'" in message:
        hint = MSG_TABS
    elif "expected <block end>" in message:
        hint = MSG_INDENT
    return Problem(f"YAML syntax error: {message}", loc, hint=hint)


def _reader_problem(exc: yaml.reader.ReaderError, text: str, source: str) -> Problem:
    """A character YAML does not allow (control characters), located by line and column."""
    before = text[: exc.position].splitlines(keepends=True)
    if not before or before[-1].endswith(("\n", "\r", "\x85", "\u2028", "\u2029")):
        line, column = len(before) + 1, 1
    else:
        line, column = len(before), len(before[-1]) + 1
    character = exc.character if isinstance(exc.character, int) else 0
    return Problem(
        f"YAML does not allow the character U+{character:04X} ({exc.reason})",
        Location(source, line, column),
        hint="a spec is plain text: remove the control character",
    )


def _too_deep_problem(text: str, source: str) -> Problem:
    """Where the nesting first goes deeper than `MAX_DEPTH` (the events are read iteratively)."""
    depth = 0
    for event in yaml.parse(text, Loader=_SpecLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return Problem(MSG_TOO_DEEP, _location(source, event.start_mark))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return Problem(MSG_TOO_DEEP, Location(source, 1, 1))


def _with_excerpt(problem: Problem, text: str) -> Problem:
    """The problem with its source line and a caret under the column."""
    loc = problem.location
    lines = text.splitlines()
    if problem.excerpt or loc is None or loc.line is None or not 0 < loc.line <= len(lines):
        return problem
    shown = excerpt(lines[loc.line - 1], loc.column or 1, f"{loc.line:>5} | ")
    return replace(problem, excerpt=shown)


def _format_path(path: PathKey) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


class _Builder:
    """Turns composed YAML nodes into a located tree, collecting problems instead of raising.

    Guards against what plain data cannot be: tags, merge keys, duplicate keys, aliases that
    refer to themselves, nesting deeper than `MAX_DEPTH` and alias expansions past `MAX_NODES`.
    """

    def __init__(self, loader: _SpecLoader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.problems: list[Problem] = []
        self.active: set[int] = set()  # ids of the nodes being built (to spot alias cycles)
        self.count = 0

    def problem(self, message: str, loc: Location, path: PathKey, hint: str | None = None) -> None:
        self.problems.append(Problem(message, loc, _format_path(path), hint=hint))

    def build(self, node: yaml.Node, path: PathKey) -> Node:
        loc = _location(self.source, node.start_mark)
        self.count += 1
        if self.count > MAX_NODES:
            if self.count == MAX_NODES + 1:
                self.problem(MSG_TOO_LARGE, loc, path, hint=MSG_ALIAS_HINT)
            return Scalar(None, loc)
        if len(path) > MAX_DEPTH:
            self.problem(MSG_TOO_DEEP, loc, path)
            return Scalar(None, loc)
        if id(node) in self.active:
            self.problem("this alias refers to a value that contains it", loc, path)
            return Scalar(None, loc)
        self.active.add(id(node))
        try:
            return self._build(node, loc, path)
        finally:
            self.active.discard(id(node))

    def _build(self, node: yaml.Node, loc: Location, path: PathKey) -> Node:
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                self.problem(MSG_TAG.format(tag=_short_tag(node.tag)), loc, path)
            return self._build_mapping(node, loc, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self.problem(MSG_TAG.format(tag=_short_tag(node.tag)), loc, path)
            items = tuple(self.build(child, (*path, i)) for i, child in enumerate(node.value))
            return Sequence(items, loc)
        if node.tag == _TIMESTAMP_TAG:
            return Scalar(node.value, loc, node.style)  # dates stay text; no field is a date
        if node.tag not in _PLAIN_TAGS:
            self.problem(MSG_TAG.format(tag=_short_tag(node.tag)), loc, path)
            return Scalar(node.value, loc, node.style)
        return Scalar(self._construct(node, loc, path), loc, node.style)

    def _construct(self, node: yaml.Node, loc: Location, path: PathKey) -> Any:
        try:
            return self.loader.construct_object(node)
        except ValueError as exc:  # e.g. an integer longer than Python converts
            reason = "it has too many digits" if "digits" in str(exc) else str(exc)
            self.problem(f"cannot read this value: {reason}", loc, path)
            return None

    def _build_mapping(self, node: yaml.MappingNode, loc: Location, path: PathKey) -> Mapping:
        entries: dict[str, tuple[Location, Node]] = {}
        for key_node, value_node in node.value:
            key_loc = _location(self.source, key_node.start_mark)
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problem(MSG_MERGE_KEY, key_loc, path)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                self.problem("mapping keys must be plain words", key_loc, path)
                continue
            # keys are names: `on`, `yes` or `null` as a key is that word, not YAML 1.1's bool/None
            key = key_node.value
            if key in entries:
                first = entries[key][0]
                self.problem(
                    f"duplicate key `{key}` (first defined at line {first.line})",
                    key_loc,
                    (*path, key),
                    hint="YAML keeps only one value per key; remove or rename one of them",
                )
                continue
            entries[key] = (key_loc, self.build(value_node, (*path, key)))
        return Mapping(entries, loc)
