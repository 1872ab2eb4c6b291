"""Immutable syntax trees of the DSL: node selectors and loss expressions.

Nodes are frozen dataclasses. `str(node)` renders canonical text that parses back to an equal
node (`parse_selector(str(s)) == s`, `parse_loss(str(e)) == e`), with the fewest parentheses the
precedence allows. Each node keeps `column`, the 1-based offset in the source expression where it
starts (None for nodes built in code); it takes no part in equality or hashing.

Later stages evaluate a tree with a `match` statement over the node classes, e.g.

    match selector:
        case Union(left, right): ...
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
    __slots__ = ()
    _symbol = ""
    left: Selector
    right: Selector

    def children(self) -> tuple[Selector, ...]:
        return (self.left, self.right)

    def __str__(self) -> str:
        # Left-associative: the right operand needs parentheses at equal precedence.
        left = _wrap(self.left, self.left._precedence < self._precedence)
        right = _wrap(self.right, self.right._precedence <= self._precedence)
        return f"{left} {self._symbol} {right}"


@dataclass(frozen=True, slots=True)
class Union(_SelectorOperator):
    """`left | right`: nodes in either."""

    left: Selector
    right: Selector
    column: int | None = _column
    _precedence = 1
    _symbol = "|"


@dataclass(frozen=True, slots=True)
class Intersection(_SelectorOperator):
    """`left & right`: nodes in both."""

    left: Selector
    right: Selector
    column: int | None = _column
    _precedence = 2
    _symbol = "&"


@dataclass(frozen=True, slots=True)
class Difference(_SelectorOperator):
    """`left - right`: nodes in `left` but not in `right`."""

    left: Selector
    right: Selector
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
        case _SelectorOperator(left=left, right=right):
            return replace(
                selector, left=map_selector_files(left, fn), right=map_selector_files(right, fn)
            )
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


class _LossOperator(LossExpr):
    __slots__ = ()
    _symbol = ""
    _right_precedence = 0  # the least precedence the right operand may have without parentheses
    left: LossExpr
    right: LossExpr

    def children(self) -> tuple[LossExpr, ...]:
        return (self.left, self.right)

    def __str__(self) -> str:
        left = _wrap(self.left, self.left._precedence < self._precedence)
        right = _wrap(self.right, self.right._precedence < self._right_precedence)
        return f"{left} {self._symbol} {right}"


@dataclass(frozen=True, slots=True)
class Add(_LossOperator):
    """`left + right`."""

    left: LossExpr
    right: LossExpr
    column: int | None = _column
    _precedence = 1
    _right_precedence = 2
    _symbol = "+"


@dataclass(frozen=True, slots=True)
class Sub(_LossOperator):
    """`left - right`."""

    left: LossExpr
    right: LossExpr
    column: int | None = _column
    _precedence = 1
    _right_precedence = 2
    _symbol = "-"


@dataclass(frozen=True, slots=True)
class Mul(_LossOperator):
    """`left * right`; one side is constant (it holds no term)."""

    left: LossExpr
    right: LossExpr
    column: int | None = _column
    _precedence = 2
    _right_precedence = 3  # the grammar's `product "*" unary`
    _symbol = "*"


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
        case Add(left, right) | Sub(left, right):
            sign = 1.0 if isinstance(expr, Add) else -1.0
            yield from _expand(left, coefficient)
            yield from _expand(right, sign * coefficient)
        case Mul(left, right) if is_constant(left):
            yield from _expand(right, coefficient * _value(left))
        case Mul(left, right) if is_constant(right):
            yield from _expand(left, coefficient * _value(right))
        case _:
            raise ValueError(f"`{expr}` is not a linear combination of loss terms")


def _value(expr: LossExpr) -> float:
    """The value of a constant expression."""
    match expr:
        case Number(value):
            return float(value)
        case Neg(operand):
            return -_value(operand)
        case Add(left, right):
            return _value(left) + _value(right)
        case Sub(left, right):
            return _value(left) - _value(right)
        case Mul(left, right):
            return _value(left) * _value(right)
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
    yield node
    for child in node.children():
        yield from walk(child)


def _wrap(node: Selector | LossExpr, parenthesise: bool) -> str:
    return f"({node})" if parenthesise else str(node)
