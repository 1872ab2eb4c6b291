"""The one errors module: every mistake a user can make ends as a `PknetError`.

A `PknetError` carries one or more `Problem`s, each naming where the mistake is (a file
location or an override), the dotted field path, what is wrong and, where we can tell, the fix.
The CLI prints them and exits with code 2; nothing else in pknet decides exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_USER_ERROR = 2


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


class MetricError(PknetError):
    """A metric written in Python (`evaluate.metrics`) could not be loaded or failed."""


class InfeasiblePruningError(CompileError):
    """The pruning MILP has no solution: some required input cannot reach any output."""


class SolverError(CompileError):
    """The MILP solver is missing or failed without an answer."""
