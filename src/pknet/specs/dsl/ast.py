"""Immutable syntax trees of the DSL: node selectors and loss expressions.

Nodes are frozen dataclasses. `str(node)` renders canonical text that parses back to an equal
node (`parse_selector(str(s)) == s`, `parse_loss(str(e)) == e`), with the fewest parentheses the
precedence allows. Each node keeps `column`, the 1-based offset in the source expression where it
starts (None for nodes built in code); it takes no part in equality or hashing.

Later stages evaluate a tree with a `match` statement over the node classes, e.g.

    match selector:
        case Union(operands): ...
        case Name(names): ...
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TypeVar

# An argument of `name(...)`, `match(...)` or `file(...)` that needs no quotes: one run of
# characters up to whitespace, a comma, a parenthesis or a double quote, not starting with a quote.
# The grammar's BARE terminal is the same pattern.
BARE_ARGUMENT = re.compile(r"""[^\s,()"'][^\s,()"]*""")

_column = field(default=None, compare=False, repr=False, kw_only=True)


def quote_argument(text: str) -> str:
    """Return `text` as written inside `name(...)`: bare when possible, else double-quoted."""
    if BARE_ARGUMENT.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------


class Selector:
    """A set of network nodes, described without the network."""

    __slots__ = ()
    _precedence = 4  # atoms; operators override

    def children(self) -> tuple[Selector, ...]:
        """The operands of an operator; atoms have none."""
        return ()


@dataclass(frozen=True, slots=True)
class Leaves(Selector):
    """Nodes without inputs (no parents in the direction information flows)."""

    column: int | None = _column

    def __str__(self) -> str:
        return "leaves"


@dataclass(frozen=True, slots=True)
class Roots(Selector):
    """Nodes without outputs."""

    column: int | None = _column

    def __str__(self) -> str:
        return "roots"


@dataclass(frozen=True, slots=True)
class Measured(Selector):
    """Nodes that map to a column of the data matrix."""

    column: int | None = _column

    def __str__(self) -> str:
        return "measured"


@dataclass(frozen=True, slots=True)
class AllNodes(Selector):
    """Every node of the network."""

    column: int | None = _column

    def __str__(self) -> str:
        return "all"


@dataclass(frozen=True, slots=True)
class Name(Selector):
    """The nodes with these names (one or more, in the order written)."""

    names: tuple[str, ...]
    column: int | None = _column

    def __str__(self) -> str:
        return f"name({', '.join(quote_argument(n) for n in self.names)})"


@dataclass(frozen=True, slots=True)
class Match(Selector):
    """The nodes whose name matches an `fnmatch` glob pattern."""

    pattern: str
    column: int | None = _column

    def __str__(self) -> str:
        return f"match({quote_argument(self.pattern)})"


@dataclass(frozen=True, slots=True)
class File(Selector):
    """The nodes named in a text file, one per line (path as written in the spec)."""

    path: str
    column: int | None = _column

    def __str__(self) -> str:
        return f"file({quote_argument(self.path)})"


@dataclass(frozen=True, slots=True)
class Degree(Selector):
    """The nodes whose degree compares to `value`: `direction` in|out|total, `op` > >= < <= ==."""

    direction: str
    op: str
    value: int
    column: int | None = _column

    def __str__(self) -> str:
        return f"degree({self.direction} {self.op} {self.value})"


class _SelectorOperator(Selector):
    """Two or more operands joined by one left-associative operator, applied left to right.

    A chain is one node however long (`a | b | c` is `Union((a, b, c))`), so that no tree walk
    recurses once per operand; a first operand of the same operator is merged in, which keeps
    the tree of a text unique.
    """

    __slots__ = ()
    _symbol = ""
    operands: tuple[Selector, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "operands", _merged(self, self.operands))

    def children(self) -> tuple[Selector, ...]:
        return self.operands

    def __str__(self) -> str:
        # Left-associative: a later operand needs parentheses at equal precedence.
        first, *rest = self.operands
        parts = [_wrap(first, first._precedence < self._precedence)]
        parts += (_wrap(o, o._precedence <= self._precedence) for o in rest)
        return f" {self._symbol} ".join(parts)


@dataclass(frozen=True, slots=True)
class Union(_SelectorOperator):
    """`a | b | ...`: nodes in any operand."""

    operands: tuple[Selector, ...]
    column: int | None = _column
    _precedence = 1
    _symbol = "|"


@dataclass(frozen=True, slots=True)
class Intersection(_SelectorOperator):
    """`a & b & ...`: nodes in every operand."""

    operands: tuple[Selector, ...]
    column: int | None = _column
    _precedence = 2
    _symbol = "&"


@dataclass(frozen=True, slots=True)
class Difference(_SelectorOperator):
    """`a - b - ...`: nodes in the first operand but in none of the others."""

    operands: tuple[Selector, ...]
    column: int | None = _column
    _precedence = 3
    _symbol = "-"


def selector_files(selector: Selector) -> tuple[str, ...]:
    """The paths named by `file(...)` in `selector`, in order of appearance, without repeats."""
    paths = (node.path for node in walk(selector) if isinstance(node, File))
    return tuple(dict.fromkeys(paths))


def map_selector_files(selector: Selector, fn: Callable[[str], str]) -> Selector:
    """A copy of `selector` with each `file(path)` replaced by `file(fn(path))`."""
    match selector:
        case File(path):
            return replace(selector, path=fn(path))
        case _SelectorOperator(operands=operands):
            return replace(selector, operands=tuple(map_selector_files(o, fn) for o in operands))
    return selector


# ---------------------------------------------------------------------------------------------
# Loss expressions
# ---------------------------------------------------------------------------------------------


class LossExpr:
    """A loss: a linear combination of loss terms with constant coefficients."""

    __slots__ = ()
    _precedence = 4  # atoms; operators override

    def children(self) -> tuple[LossExpr, ...]:
        """The operands of an operator; numbers and terms have none."""
        return ()


@dataclass(frozen=True, slots=True)
class Number(LossExpr):
    """A finite, non-negative constant (a minus sign is a `Neg` around it)."""

    value: float
    column: int | None = _column

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and math.copysign(1.0, self.value) > 0):
            raise ValueError(f"a Number must be finite and non-negative, not {self.value!r}")

    def __str__(self) -> str:
        return repr(float(self.value))


@dataclass(frozen=True, slots=True)
class Term(LossExpr):
    """A named loss term: `bce`, `l1(bias)`, `trace_norm(shared, mode=task)`.

    `groups` are the parameter groups it applies to; `options` are (keyword, value) pairs, every
    keyword of the term's signature present, in the signature's order (see `terms.LOSS_TERMS`).
    """

    name: str
    groups: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    column: int | None = _column

    def __str__(self) -> str:
        args = [*self.groups, *(f"{key}={value}" for key, value in self.options)]
        return f"{self.name}({', '.join(args)})" if args else self.name


@dataclass(frozen=True, slots=True)
class Neg(LossExpr):
    """`-operand`."""

    operand: LossExpr
    column: int | None = _column
    _precedence = 3

    def children(self) -> tuple[LossExpr, ...]:
        return (self.operand,)

    def __str__(self) -> str:
        return f"-{_wrap(self.operand, self.operand._precedence < self._precedence)}"


@dataclass(frozen=True, slots=True)
class Sum(LossExpr):
    """`a + b - c ...`: `operators[i]` (`+` or `-`) stands before `operands[i + 1]`.

    One node however long, like the selector operators; a first operand that is a `Sum` is
    merged in.
    """

    operands: tuple[LossExpr, ...]
    operators: tuple[str, ...]
    column: int | None = _column
    _precedence = 1

    def __post_init__(self) -> None:
        first = self.operands[0] if self.operands else None
        if isinstance(first, Sum):
            object.__setattr__(self, "operands", first.operands + self.operands[1:])
            object.__setattr__(self, "operators", first.operators + self.operators)
        if len(self.operators) != len(self.operands) - 1 or len(self.operands) < 2:
            raise ValueError("a Sum joins two or more operands with one operator between each")
        if not set(self.operators) <= {"+", "-"}:
            raise ValueError(f"a Sum's operators are `+` and `-`, not {self.operators}")

    def children(self) -> tuple[LossExpr, ...]:
        return self.operands

    def __str__(self) -> str:
        first, *rest = self.operands
        parts = [str(first)]
        for operator, operand in zip(self.operators, rest, strict=True):
            parts += [operator, _wrap(operand, operand._precedence < 2)]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Product(LossExpr):
    """`a * b * ...`; at most one factor holds a term (the others are constant)."""

    operands: tuple[LossExpr, ...]
    column: int | None = _column
    _precedence = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "operands", _merged(self, self.operands))

    def children(self) -> tuple[LossExpr, ...]:
        return self.operands

    def __str__(self) -> str:
        # the grammar's `product "*" unary`: a later factor needs parentheses unless unary
        first, *rest = self.operands
        parts = [_wrap(first, first._precedence < 2), *(_wrap(o, o._precedence < 3) for o in rest)]
        return " * ".join(parts)


def is_constant(expr: LossExpr) -> bool:
    """Whether `expr` holds no loss term (only numbers and arithmetic)."""
    return not any(isinstance(node, Term) for node in walk(expr))


def linear_terms(expr: LossExpr) -> tuple[tuple[float, Term], ...]:
    """Expand `expr` into (coefficient, term) pairs, in order of appearance, merging nothing.

    `bce + 1e-3 * (l1(bias) - l2(bias))` gives ((1.0, bce), (0.001, l1(bias)), (-0.001, l2(bias))).
    Raises ValueError when `expr` is not a linear combination of terms (parsed losses always are).
    """
    return tuple(_expand(expr, 1.0))


def _expand(expr: LossExpr, coefficient: float) -> Iterator[tuple[float, Term]]:
    match expr:
        case Term():
            yield coefficient, expr
        case Neg(operand):
            yield from _expand(operand, -coefficient)
        case Sum(operands, operators):
            yield from _expand(operands[0], coefficient)
            for operator, operand in zip(operators, operands[1:], strict=True):
                yield from _expand(operand, coefficient if operator == "+" else -coefficient)
        case Product(operands):
            varying = [i for i, o in enumerate(operands) if not is_constant(o)]
            if len(varying) != 1:
                raise ValueError(f"`{expr}` is not a linear combination of loss terms")
            constant = math.prod(_value(o) for i, o in enumerate(operands) if i != varying[0])
            yield from _expand(operands[varying[0]], coefficient * constant)
        case _:
            raise ValueError(f"`{expr}` is not a linear combination of loss terms")


def _value(expr: LossExpr) -> float:
    """The value of a constant expression."""
    match expr:
        case Number(value):
            return float(value)
        case Neg(operand):
            return -_value(operand)
        case Sum(operands, operators):
            total = _value(operands[0])
            for operator, operand in zip(operators, operands[1:], strict=True):
                total += _value(operand) if operator == "+" else -_value(operand)
            return total
        case Product(operands):
            return math.prod(_value(o) for o in operands)
    raise ValueError(f"`{expr}` is not a constant")


def loss_groups(expr: LossExpr) -> tuple[str, ...]:
    """The parameter group names the terms of `expr` refer to, sorted, without repeats."""
    return tuple(sorted({g for node in walk(expr) if isinstance(node, Term) for g in node.groups}))


# ---------------------------------------------------------------------------------------------
# Shared
# ---------------------------------------------------------------------------------------------


_Node = TypeVar("_Node", Selector, LossExpr)


def walk(node: _Node) -> Iterator[_Node]:
    """Yield `node` and every node below it, depth first, left to right."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


def _merged(node: _Node, operands: tuple[_Node, ...]) -> tuple[_Node, ...]:
    """`operands` with a first operand of `node`'s own class replaced by its operands, checked:
    `(a | b) | c` is the chain `a | b | c`."""
    if operands and type(operands[0]) is type(node):
        operands = operands[0].children() + operands[1:]
    if len(operands) < 2:
        raise ValueError(f"a {type(node).__name__} joins two or more operands")
    return tuple(operands)


def _wrap(node: Selector | LossExpr, parenthesise: bool) -> str:
    return f"({node})" if parenthesise else str(node)
