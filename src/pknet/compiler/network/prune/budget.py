"""The pruning time budget: `time_limit_s` bounds every stage, not only the HiGHS run.

On large priors presolve, formulation and cvxpy's canonicalisation take minutes on their own, so
the limit is counted from the start of `prune`; HiGHS gets what is left. Stages are timed for the
report, and an error says where the time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pknet.errors import Problem, SolverError

MSG_OUT_OF_TIME = (
    "pruning ran out of its {limit:g} s time limit during {stage}, before any feasible "
    "solution (seconds per stage: {timings})"
)
HINT_OUT_OF_TIME = (
    "raise `prune.solver.time_limit_s`, shrink the network by restricting `network.inputs` / "
    "`network.outputs`, or leave out the `prune` section to keep the whole network"
)
TIME_LIMIT_PATH = "prune.solver.time_limit_s"


class Budget:
    """`limit_s` seconds on `clock` from construction, and the seconds each stage took."""

    def __init__(self, limit_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_s = limit_s
        self.clock = clock
        self.start = clock()
        self.seconds: dict[str, float] = {}
        self.stage_name = ""
        self.stage_start = self.start

    def remaining(self) -> float:
        return self.limit_s - (self.clock() - self.start)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage `name` (what `out_of_time` names while it runs)."""
        self.stage_name, self.stage_start = name, self.clock()
        try:
            yield
        finally:
            self.seconds[name] = self.clock() - self.stage_start

    def check(self) -> None:
        """Raise `out_of_time()` when nothing is left (between stages, in long loops)."""
        if self.remaining() <= 0:
            raise self.out_of_time()

    def out_of_time(self) -> SolverError:
        """The located error: the limit, the stage it ran out in and every stage's seconds."""
        timings = dict(self.seconds)
        if self.stage_name not in timings:  # raised inside the running stage
            timings[self.stage_name] = self.clock() - self.stage_start
        shown = ", ".join(f"{name} {seconds:.2f}" for name, seconds in timings.items())
        message = MSG_OUT_OF_TIME.format(limit=self.limit_s, stage=self.stage_name, timings=shown)
        return SolverError(Problem(message, path=TIME_LIMIT_PATH, hint=HINT_OUT_OF_TIME))
