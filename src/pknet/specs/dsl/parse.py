"""Parsing DSL text into syntax trees, with errors that point at the column of the mistake.

Two lark LALR grammars (selector.lark, loss.lark) with the contextual lexer; a transformer then
turns the parse tree into frozen nodes, checking what the grammar cannot (known names, arguments,
products with a constant side). Nothing is ever evaluated as Python.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, UnexpectedToken, VisitError
from lark.tree import Meta

from pknet.errors import DslError, shorten
from pknet.specs.dsl.ast import (
    AllNodes,
    Degree,
    Difference,
    File,
    Intersection,
    Leaves,
    LossExpr,
    Match,
    Measured,
    Name,
    Neg,
    Number,
    Product,
    Roots,
    Selector,
    Sum,
    Term,
    Union,
    is_constant,
)
from pknet.specs.dsl.terms import LOSS_TERMS
from pknet.suggest import did_you_mean

SELECTOR_ATOMS = ("all", "leaves", "measured", "roots")
SELECTOR_FUNCTIONS = ("name", "match", "file", "degree")
DEGREE_DIRECTIONS = ("in", "out", "total")
MAX_DEPTH = 100  # levels of nested operators; no one writes more, and Python's stack allows it
MAX_LENGTH = 1_000_000  # characters; parsing takes seconds per 100,000


def parse_selector(text: str) -> Selector:
    """Parse a node selector such as `(leaves & measured) - name(TCR)`; raise DslError if bad."""
    return _parse(_selector_parser(), _ToSelector(), text, _SELECTOR_WORDS)


def parse_loss(text: str) -> LossExpr:
    """Parse a loss expression such as `bce + 1e-3 * l1(bias)`; raise DslError if bad."""
    expr = _parse(_loss_parser(), _ToLoss(), text, _LOSS_WORDS)
    if is_constant(expr):
        hint = f"known terms: {_known_terms()}"
        raise DslError("a loss needs at least one term", _first_column(text), text, hint)
    return expr


def selector_from_names(names: Sequence[str]) -> Selector:
    """The selector for a YAML list of node names: `Name(tuple(names))`."""
    if isinstance(names, str):
        raise TypeError("selector_from_names takes a list of names, not one string")
    if not names:
        raise ValueError("an empty list of names selects no node")
    if not all(isinstance(n, str) and n for n in names):
        raise ValueError("node names must be non-empty strings")
    return Name(tuple(names))


# ---------------------------------------------------------------------------------------------
# Parsing and syntax errors
# ---------------------------------------------------------------------------------------------


class _MeaningError(Exception):
    """Raised by the transformers; `_parse` adds the expression and raises DslError."""

    def __init__(self, message: str, column: int, hint: str | None = None):
        super().__init__(message)
        self.message, self.column, self.hint = message, column, hint


@dataclass(frozen=True)
class _Words:
    """How syntax errors name the terminals of one grammar."""

    operand: str  # what may start an operand, in words
    operand_starts: frozenset[str]  # the terminals that may start an operand
    terminals: dict[str, str]  # terminals in words, in the order to list them
    atoms: tuple[str, ...] = ()  # known words that take no arguments
    functions: tuple[str, ...] = ()  # known words that take arguments; `unknown(` is an error
    known: str = ""  # everything the grammar knows, for hints
    too_long: str = ""  # a hint for an expression longer than MAX_LENGTH

    def describe(self, expected: Set[str]) -> str:
        """Say in words what the parser would have accepted."""
        if expected >= self.operand_starts:  # where an operand may start, say so once
            shown = [self.operand]
            expected = expected - self.operand_starts
        else:
            shown = []
        order = list(self.terminals)
        rest = sorted(expected, key=lambda t: order.index(t) if t in order else len(order))
        shown += [self.terminals.get(t, f"`{t.lower()}`") for t in rest]
        shown = list(dict.fromkeys(shown))
        if len(shown) <= 1:
            return "".join(shown) or "nothing more"
        return ", ".join(shown[:-1]) + " or " + shown[-1]


def _parse(parser: Lark, transformer: Transformer, text: str, words: _Words) -> Any:
    if not isinstance(text, str):
        raise TypeError(f"a DSL expression must be a string, not {type(text).__name__}")
    if not text.strip():
        raise DslError("empty expression", 1, text)
    if len(text) > MAX_LENGTH:
        raise DslError(
            f"the expression is {len(text):,} characters long, more than {MAX_LENGTH:,}",
            1,
            text,
            words.too_long,
        )
    try:
        tree = parser.parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(parser, e, text, words) from None
    _check_depth(tree, text)
    try:
        return transformer.transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, _MeaningError):
            raise DslError(e.orig_exc.message, e.orig_exc.column, text, e.orig_exc.hint) from None
        raise


def _check_depth(tree: Tree, text: str) -> None:
    """Raise DslError where `tree` nests deeper than `MAX_DEPTH` (walked without recursion).

    Chains of one operator are flat, so only parentheses and signs nest; bounding them keeps
    every later recursion over the tree (transforming, rendering, comparing) well inside
    Python's stack.
    """
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise DslError(
                f"the expression nests more than {MAX_DEPTH} levels deep",
                _column(node.meta),
                text,
                "write it with fewer parentheses and signs",
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _syntax_error(parser: Lark, error: UnexpectedInput, text: str, words: _Words) -> DslError:
    if isinstance(error, UnexpectedToken):
        token = error.token
        end = token.type == "$END"
        found, start = ("", len(text)) if end else (token.value, token.start_pos)
        if token.type == "BARE":  # lexed by the fallback lexer, which takes anything as BARE
            found = re.match(r"\w+|.", found, re.S).group()
    else:
        found, start, end = text[error.pos_in_stream], error.pos_in_stream, False
    expected, open_parens = _after(parser, text[:start])
    if end and "RPAR" in expected and open_parens:
        hint = f"add the missing `)`; expected {words.describe(expected)} at the end"
        return DslError("`(` is never closed", open_parens[-1] + 1, text, hint)
    if end:
        message = f"expression ends too early; expected {words.describe(expected)}"
        return DslError(message, len(text.rstrip()) + 1, text)
    column = start + 1
    if found == "(" and words.functions:  # `foo(` where foo is no function
        called = re.search(r"([A-Za-z_][A-Za-z0-9_.:]*)\s*$", text[: column - 1])
        if called and called.group(1) not in words.atoms:
            name = called.group(1)
            hint = _known_hint(name, words.functions, words.known)
            return DslError(f"unknown function `{shorten(name)}`", called.start(1) + 1, text, hint)
    hint = None
    if found.startswith(("'", '"')) and "STRING" not in expected:
        hint = "quotes are only for the argument of name(...), match(...) and file(...)"
    elif "COMMA" in expected and "BARE" in words.terminals:  # a second word inside name(...)
        hint = 'quote an argument that holds spaces: name("T cell")'
    message = f"unexpected `{shorten(found)}`; expected {words.describe(expected)}"
    return DslError(message, column, text, hint)


def _after(parser: Lark, prefix: str) -> tuple[set[str], list[int]]:
    """The terminals accepted after `prefix` (which parses without error), and the offsets of
    the parentheses it leaves open.

    The terminals are computed afresh rather than read from the error: LALR may have reduced
    part of the stack before noticing the error, and the contextual lexer reports its own,
    coarser, set.
    """
    interactive = parser.parse_interactive(prefix)
    open_parens: list[int] = []
    for token in interactive.iter_parse():
        if token.type == "LPAR":
            open_parens.append(token.start_pos)
        elif token.type == "RPAR":
            open_parens.pop()
    return interactive.accepts(), open_parens


# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------


def _column(meta: Meta) -> int:
    return meta.start_pos + 1


def _unquote(token: Token) -> str:
    if token.type == "STRING":
        text = re.sub(r"""\\([\\"'])""", r"\1", token.value[1:-1])
    else:
        text = token.value
    if not text:
        raise _MeaningError("an empty name, pattern or path", token.start_pos + 1)
    return text


@v_args(meta=True, inline=True)
class _ToSelector(Transformer):
    def leaves(self, meta: Meta) -> Selector:
        return Leaves(column=_column(meta))

    def roots(self, meta: Meta) -> Selector:
        return Roots(column=_column(meta))

    def measured(self, meta: Meta) -> Selector:
        return Measured(column=_column(meta))

    def all_nodes(self, meta: Meta) -> Selector:
        return AllNodes(column=_column(meta))

    def name(self, meta: Meta, *arguments: Token) -> Selector:
        return Name(tuple(_unquote(a) for a in arguments), column=_column(meta))

    def match(self, meta: Meta, pattern: Token) -> Selector:
        return Match(_unquote(pattern), column=_column(meta))

    def file(self, meta: Meta, path: Token) -> Selector:
        return File(_unquote(path), column=_column(meta))

    def degree(self, meta: Meta, direction: Token, op: Token, value: Token) -> Selector:
        if direction.value not in DEGREE_DIRECTIONS:
            raise _MeaningError(
                f"unknown degree direction `{shorten(direction)}`",
                direction.start_pos + 1,
                hint=_known_hint(direction.value, DEGREE_DIRECTIONS, "in, out, total"),
            )
        return Degree(direction.value, op.value, int(value), column=_column(meta))

    def unknown(self, meta: Meta, word: Token) -> Selector:
        hint = _known_hint(word.value, SELECTOR_ATOMS, _known_selectors())
        if not hint.startswith("did you mean"):
            hint = f"to select nodes by name write `name({shorten(word)})`; {hint}"
        raise _MeaningError(f"unknown selector `{shorten(word)}`", _column(meta), hint)

    def union(self, meta: Meta, *operands: Selector) -> Selector:
        return Union(operands, column=_column(meta))

    def intersection(self, meta: Meta, *operands: Selector) -> Selector:
        return Intersection(operands, column=_column(meta))

    def difference(self, meta: Meta, *operands: Selector) -> Selector:
        return Difference(operands, column=_column(meta))


def _known_selectors() -> str:
    return ", ".join([*SELECTOR_ATOMS, *(f"{f}(...)" for f in SELECTOR_FUNCTIONS)])


_SELECTOR_WORDS = _Words(
    operand="a selector such as `leaves`, `name(X)` or `(`",
    operand_starts=frozenset(
        ("LEAVES", "ROOTS", "MEASURED", "ALL", "NAME", "MATCH", "FILE", "DEGREE", "LPAR", "WORD")
    ),
    terminals={
        "VBAR": "`|`",
        "AMPERSAND": "`&`",
        "MINUS": "`-`",
        "LPAR": "`(`",
        "RPAR": "`)`",
        "COMMA": "`,`",
        "BARE": "a name, pattern or path (bare or quoted)",
        "STRING": "a name, pattern or path (bare or quoted)",
        "WORD": "`in`, `out` or `total`",
        "COMPARISON": "`>`, `>=`, `<`, `<=` or `==`",
        "INT": "a whole number",
        "$END": "the end",
    },
    atoms=SELECTOR_ATOMS,
    functions=SELECTOR_FUNCTIONS,
    known=_known_selectors(),
    too_long="list many nodes in a file, one name per line: `file(nodes.txt)`",
)


# ---------------------------------------------------------------------------------------------
# Loss expressions
# ---------------------------------------------------------------------------------------------


@v_args(meta=True, inline=True)
class _ToLoss(Transformer):
    def number(self, meta: Meta, token: Token) -> LossExpr:
        value = float(token)
        if math.isinf(value):
            raise _MeaningError(f"number `{shorten(token)}` is too large", _column(meta))
        return Number(value, column=_column(meta))

    def term(self, meta: Meta, name: Token) -> LossExpr:
        return _term(name, [], _column(meta))

    def call(self, meta: Meta, name: Token, *arguments: tuple[Token, Token | None]) -> LossExpr:
        return _term(name, list(arguments), _column(meta))

    def positional(self, meta: Meta, value: Token) -> tuple[Token | None, Token]:
        return (None, value)

    def keyword(self, meta: Meta, key: Token, value: Token) -> tuple[Token | None, Token]:
        return (key, value)

    def neg(self, meta: Meta, operand: LossExpr) -> LossExpr:
        return Neg(operand, column=_column(meta))

    def sum(self, meta: Meta, *children: LossExpr | Token) -> LossExpr:
        operands = children[::2]
        constant = [is_constant(o) for o in operands]
        if any(constant) and not all(constant):
            # a constant added to a loss changes nothing; it is most likely a missing term
            raise _MeaningError(
                "a number on its own is not a loss term",
                operands[constant.index(True)].column or 1,
                hint="multiply it with a term, e.g. `0.01 * l2(weights)`",
            )
        operators = tuple(token.value for token in children[1::2])
        return Sum(operands, operators, column=_column(meta))

    def product(self, meta: Meta, *operands: LossExpr) -> LossExpr:
        if sum(not is_constant(o) for o in operands) > 1:
            raise _MeaningError(
                "a product needs a number on one side",
                _column(meta),
                hint="weight a term by a constant, e.g. `0.01 * l2(weights)`",
            )
        return Product(operands, column=_column(meta))


def _term(name: Token, arguments: list[tuple[Token | None, Token]], column: int) -> Term:
    """Check a term against its signature in LOSS_TERMS and fill in its default options."""
    signature = LOSS_TERMS.get(name.value)
    if signature is None:
        hint = _known_hint(name.value, list(LOSS_TERMS), _known_terms())
        raise _MeaningError(f"unknown loss term `{shorten(name)}`", column, hint)
    usage = f"write `{signature.usage(name.value)}` ({signature.doc})"
    positional: list[Token] = []
    keywords: list[tuple[Token, Token]] = []
    for key, value in arguments:
        if key is not None:
            keywords.append((key, value))
        elif keywords:
            raise _MeaningError("a positional argument after a keyword", value.start_pos + 1, usage)
        else:
            positional.append(value)
    if not signature.groups <= len(positional) <= signature.groups + len(signature.options):
        if signature.groups == 0 and not signature.options:
            raise _MeaningError(f"`{name}` takes no arguments", column, usage)
        raise _MeaningError(f"wrong number of arguments to `{name}`", column, usage)
    chosen = dict(zip(signature.options, positional[signature.groups :], strict=False))
    for key, value in keywords:
        if key.value not in signature.options:
            known = ", ".join(signature.options) or "none"
            message = f"`{name}` has no option `{shorten(key)}` (options: {known})"
            raise _MeaningError(message, key.start_pos + 1, usage)
        if key.value in chosen:
            raise _MeaningError(f"option `{key}` given twice", key.start_pos + 1, usage)
        chosen[key.value] = value
    for key, value in chosen.items():
        if value.value not in signature.options[key]:
            allowed = ", ".join(signature.options[key])
            message = f"`{key}` of `{name}` is one of {allowed}, not `{shorten(value)}`"
            raise _MeaningError(message, value.start_pos + 1, usage)
    options = tuple(
        (key, chosen[key].value if key in chosen else choices[0])
        for key, choices in signature.options.items()
    )
    groups = tuple(token.value for token in positional[: signature.groups])
    return Term(name.value, groups, options, column=column)


def _known_terms() -> str:
    return ", ".join(signature.usage(name) for name, signature in LOSS_TERMS.items())


_LOSS_WORDS = _Words(
    operand="a number, a term such as `bce` or `l1(group)`, or `(`",
    operand_starts=frozenset(("NUMBER", "IDENT", "LPAR", "MINUS")),
    terminals={
        "PLUS": "`+`",
        "MINUS": "`-`",
        "STAR": "`*`",
        "LPAR": "`(`",
        "RPAR": "`)`",
        "COMMA": "`,`",
        "EQUAL": "`=`",
        "IDENT": "a name",
        "$END": "the end",
    },
    too_long="a loss is a few weighted terms",
)


# ---------------------------------------------------------------------------------------------
# Shared
# ---------------------------------------------------------------------------------------------


def _known_hint(word: str, candidates: Sequence[str], known: str) -> str:
    """The closest candidate, if any, and what is known."""
    close = did_you_mean(word, candidates)
    return f"{close} known: {known}" if close else f"known: {known}"


def _first_column(text: str) -> int:
    return len(text) - len(text.lstrip()) + 1


@functools.cache
def _selector_parser() -> Lark:
    return _lark("selector.lark")


@functools.cache
def _loss_parser() -> Lark:
    return _lark("loss.lark")


def _lark(grammar: str) -> Lark:
    return Lark.open(
        grammar, rel_to=__file__, parser="lalr", lexer="contextual", propagate_positions=True
    )
