"""Progress of a running pruning solve, for whoever shows it (the CLI's status line).

The solver sits several calls below the commands that show progress, so the display is set for
the duration of a block (`showing_solve_progress`) instead of being passed down every call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class SolveProgress:
    """Where branch and bound stands: the best solution's objective (`incumbent`, NaN until one
    is found), the best bound on the optimum, and their relative gap (NaN without incumbent)."""

    seconds: float
    incumbent: float
    bound: float
    gap: float

    def describe(self) -> str:
        """`2.3 s, incumbent 412, bound 398.5, gap 3.40%` (no solution yet: says so)."""
        if math.isnan(self.incumbent):
            return f"{self.seconds:.1f} s, no solution yet, bound {self.bound:.6g}"
        return (
            f"{self.seconds:.1f} s, incumbent {self.incumbent:.6g}, bound {self.bound:.6g}, "
            f"gap {self.gap:.2%}"
        )


SolveProgressCallback = Callable[[SolveProgress], None]
_SHOW: ContextVar[SolveProgressCallback | None] = ContextVar("solve_progress", default=None)


@contextmanager
def showing_solve_progress(show: SolveProgressCallback) -> Iterator[None]:
    """Pass the progress of every pruning solve in this block to `show` (in the solving
    thread's caller, between polls)."""
    token = _SHOW.set(show)
    try:
        yield
    finally:
        _SHOW.reset(token)


def solve_progress_display() -> SolveProgressCallback | None:
    """The display set by the innermost `showing_solve_progress`, if any."""
    return _SHOW.get()
