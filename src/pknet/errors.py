"""The one errors module: every mistake a user can make ends as a `PknetError`.

A `PknetError` carries one or more `Problem`s, each naming where the mistake is (a file
location or an override), the dotted field path, what is wrong and, where we can tell, the fix.
The CLI prints them and exits with code 2; nothing else in pknet decides exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EXIT_USER_ERROR = 2
EXCERPT_WIDTH = 120  # characters of a source line shown under a message
NAME_WIDTH = 40  # characters of a name (from a user's file) quoted in a message
NAMES_SHOWN = 5  # names listed before "and N more"


@dataclass(frozen=True)
class Location:
    """A place in a source: a file (1-based line and column) or a command-line override."""

    source: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.source
        if self.column is None:
            return f"{self.source}:{self.line}"
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One mistake: where, which field, what is wrong, and what to do about it."""

    message: str
    location: Location | None = None
    path: str = ""
    hint: str | None = None
    excerpt: str | None = None

    def format(self) -> str:
        head = ": ".join(str(p) for p in (self.location, self.path or None) if p)
        text = f"{head}: {self.message}" if head else self.message
        if self.excerpt:
            text += "\n" + self.excerpt
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def excerpt(line: str, column: int, gutter: str = "  ") -> str:
    """`line` with a caret under `column` (1-based): two lines, the first starting with
    `gutter` (e.g. `"   12 | "`). A long line is cut to `EXCERPT_WIDTH` characters around the
    column, with `…` where text was left out."""
    line = "".join(c if c.isprintable() else " " for c in line)
    column = min(max(column, 1), len(line) + 1)
    if len(line) > EXCERPT_WIDTH:
        start = max(0, min(column - 1 - EXCERPT_WIDTH // 2, len(line) - EXCERPT_WIDTH))
        end = start + EXCERPT_WIDTH
        head, tail = "…" * (start > 0), "…" * (end < len(line))
        line = head + line[start:end] + tail
        column += len(head) - start
    under = "".join(c if c == "|" else " " for c in gutter)
    return f"{gutter}{line}\n{under}{' ' * (column - 1)}^"


def shorten(text: str, width: int = NAME_WIDTH) -> str:
    """`text` cut to `width` characters with `…`, for quoting user text in a message."""
    return text if len(text) <= width else text[: width - 1] + "…"


def name_list(names: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    """The first `shown` names in backquotes, each shortened, then "and N more"."""
    text = ", ".join(f"`{shorten(n)}`" for n in names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")


class PknetError(Exception):
    """Base of all user-facing errors; the CLI turns it into exit code 2."""

    def __init__(self, problems: Problem | list[Problem] | tuple[Problem, ...]):
        if isinstance(problems, Problem):
            problems = (problems,)
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(p.format() for p in self.problems))

    def format(self) -> str:
        return "\n".join(p.format() for p in self.problems)


class SpecError(PknetError):
    """The spec file (or an override) is not a valid pknet spec."""


class CompileError(PknetError):
    """The spec is valid but its data or network cannot be compiled into a program."""


class OutputError(PknetError):
    """An output path cannot be written without destroying something pknet did not write."""


class RunDirectoryError(PknetError):
    """A run directory is incomplete, or one of its files was edited or damaged."""


class RunError(PknetError):
    """Training could not produce a model (e.g. the loss diverged)."""


class SweepError(PknetError):
    """A sweep could not run: no Ray cluster at the address, or no trial succeeded."""


class MetricError(PknetError):
    """A metric written in Python (`evaluate.metrics`) could not be loaded or failed."""


class InfeasiblePruningError(CompileError):
    """The pruning MILP has no solution: some required input cannot reach any output."""


class SolverError(CompileError):
    """The MILP solver is missing or failed without an answer."""


# Signals raised inside one layer and turned into located `PknetError`s by its caller.


class FileProblem(Exception):
    """A path that cannot be read as a file; `str()` is the reason, said after the file's name."""


class TableError(ValueError):
    """A table file could not be read or parsed; the message is one line."""


class SelectorProblem(ValueError):
    """A selector refers to something that does not exist (unknown name, unreadable file)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class DslError(ValueError):
    """A selector or loss expression that does not parse or means nothing.

    `column` is the 1-based position in `expression` where the problem starts (counted in
    characters from the start of the expression, so it is the column for one-line expressions);
    `hint`, when there is one, says what to write instead. A ValueError, so that pydantic
    validators turn it into a validation error.
    """

    def __init__(self, message: str, column: int, expression: str, hint: str | None = None):
        self.message = message
        self.column = column
        self.expression = expression
        self.hint = hint
        super().__init__(self.format())

    def excerpt(self) -> str:
        """The expression's line holding the problem, with a caret under its column."""
        return expression_excerpt(self.expression, self.column)

    def format(self) -> str:
        """Message, excerpt and hint on separate lines."""
        text = f"{self.message} (column {self.column})\n{self.excerpt()}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def __reduce__(self):  # keep the attributes when pickled (e.g. across processes)
        return (type(self), (self.message, self.column, self.expression, self.hint))


def expression_excerpt(expression: str, column: int, gutter: str = "  ") -> str:
    """The line of `expression` holding offset `column` (1-based), a caret under it."""
    start = expression.rfind("\n", 0, column - 1) + 1
    end = expression.find("\n", start)
    return excerpt(expression[start : end if end >= 0 else None], column - start, gutter)
