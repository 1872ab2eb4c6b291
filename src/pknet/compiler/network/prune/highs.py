"""HiGHS through highspy: the model from cvxpy's problem data, a run that Ctrl-C stops, and
nothing on stdout.

cvxpy's own HiGHS interface blocks in `Highs.run()`, where Python cannot handle SIGINT: Ctrl-C
lands only when the solve ends (measured: 17 s after the signal under a 20 s limit). Here HiGHS
solves in highspy's background thread while the main thread waits, and a KeyboardInterrupt
cancels the solve through HiGHS's interrupt callbacks (it stopped within 0.3 s).

HiGHS prints a banner from C++ on the first `Highs()` of a process, before any option can
silence it, so file descriptor 1 points at /dev/null (or, with `verbose`, at stderr, where the
log then goes) while HiGHS is in use. Progress (incumbent, bound, gap) reaches the display set
by `showing_solve_progress` from HiGHS's MIP interrupt callback, read at each poll.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import cvxpy.settings as s
import numpy as np

from pknet.compiler.network.prune.budget import Budget
from pknet.compiler.network.solve_progress import (
    SolveProgress,
    SolveProgressCallback,
    solve_progress_display,
)

if TYPE_CHECKING:  # imported where used, so a missing highspy is `require_highs`'s clear error
    import highspy

HIGHS_FEASIBLE = 2  # HighsInfo.primal_solution_status: a feasible point is known
POLL_S = 0.1  # wait for the solve in steps, so that Ctrl-C lands on every platform


@contextmanager
def solver_stdout(verbose: bool) -> Iterator[None]:
    """Point file descriptor 1 at stderr (`verbose`) or /dev/null; restore it afterwards."""
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.dup(2) if verbose else os.open(os.devnull, os.O_WRONLY)
    os.dup2(target, 1)
    try:
        yield
    finally:
        sys.stdout.flush()  # HiGHS flushes its own C stdio writes
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


def highs_lp(data: dict) -> highspy.HighsLp:
    """The MILP in cvxpy's HiGHS problem data (`get_problem_data(cp.HIGHS)`), without offset."""
    import highspy

    a = data[s.A].tocsc()
    dims = data[s.DIMS]
    n_rows, n_cols = a.shape
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = data[s.C]
    lp.row_lower_ = np.concatenate([data[s.B][: dims.zero], np.full(n_rows - dims.zero, -inf)])
    lp.row_upper_ = data[s.B]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    lower, upper = data[s.LOWER_BOUNDS], data[s.UPPER_BOUNDS]
    lower = np.full(n_cols, -inf) if lower is None else lower.copy()
    upper = np.full(n_cols, inf) if upper is None else upper.copy()
    binary = np.asarray(data[s.BOOL_IDX], dtype=np.int64)
    lower[binary] = np.maximum(lower[binary], 0)
    upper[binary] = np.minimum(upper[binary], 1)
    lp.col_lower_, lp.col_upper_ = lower, upper
    if len(data[s.BOOL_IDX]) or len(data[s.INT_IDX]):
        kinds = [highspy.HighsVarType.kContinuous] * n_cols
        for j in data[s.BOOL_IDX] + data[s.INT_IDX]:
            kinds[j] = highspy.HighsVarType.kInteger
        lp.integrality_ = kinds
    return lp


def run_highs(
    lp: highspy.HighsLp,
    options: dict[str, object],
    *,
    budget: Budget,
    verbose: bool,
    offset: float = 0.0,
) -> dict[str, object]:
    """Solve `lp` within what is left of `budget`; results as cvxpy's HIGHS `invert` reads them.
    The progress shown adds `offset` (cvxpy's constant term) to HiGHS's objective values.

    Raises `budget.out_of_time()` when nothing is left once the model is passed to HiGHS, and
    KeyboardInterrupt once a Ctrl-C has stopped the solve.
    """
    import highspy

    with solver_stdout(verbose):
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", verbose)
        for name, value in options.items():
            if highs.setOptionValue(name, value) == highspy.HighsStatus.kError:
                raise ValueError(f"HiGHS rejects the option {name}={value!r}")
        highs.passModel(lp)
        budget.check()
        highs.setOptionValue("time_limit", budget.remaining())
        highs.HandleUserInterrupt = True
        progress = _Progress(highs, offset, solve_progress_display())
        highs.startSolve()
        try:
            _wait(highs, progress)
        except KeyboardInterrupt:
            # HiGHS stops at its next interrupt check: at once in simplex and branch and bound,
            # only after the current pass in its presolve. A second Ctrl-C stops waiting.
            highs.cancelSolve()
            _wait(highs, None)
            raise
    status = highs.getModelStatus().name
    info = highs.getInfo()
    progress.finish(highs.getRunTime(), info)
    results = {
        "solution": highs.getSolution(),
        "info": info,
        "model_status": status,
        "run_time": highs.getRunTime(),
    }
    if status == "kInfeasible":
        results["dual_ray"] = highs.getDualRay()
    return results


class _Progress:
    """The latest branch-and-bound numbers from HiGHS's thread, shown from the waiting one."""

    def __init__(self, highs: highspy.Highs, offset: float, show: SolveProgressCallback | None):
        self.offset, self.show, self.latest, self.shown = offset, show, None, None
        if show is not None:
            highs.cbMipInterrupt.subscribe(self._record)

    def _record(self, event) -> None:
        out = event.data_out
        self.latest = (out.running_time, out.mip_primal_bound, out.mip_dual_bound, out.mip_gap)

    def finish(self, seconds: float, info: highspy.HighsInfo) -> None:
        """Show the solve's final numbers (also when it ended between two polls)."""
        found = info.primal_solution_status == HIGHS_FEASIBLE
        incumbent = info.objective_function_value if found else math.inf
        self.latest = (seconds, incumbent, info.mip_dual_bound, info.mip_gap)
        self.poll()

    def poll(self) -> None:
        latest = self.latest
        if self.show is None or latest is None or latest == self.shown:
            return
        self.shown = latest
        seconds, incumbent, bound, gap = latest
        found = math.isfinite(incumbent)
        self.show(
            SolveProgress(
                seconds,
                incumbent + self.offset if found else math.nan,
                bound + self.offset,
                gap if found else math.nan,
            )
        )


def _wait(highs: highspy.Highs, progress: _Progress | None) -> None:
    while not highs.wait(POLL_S)[0]:
        if progress is not None:
            progress.poll()


def write_lp(lp: highspy.HighsLp, path: str | Path) -> Path:
    """Write `lp` in the format its suffix names (MPS for `.mps`)."""
    import highspy

    with solver_stdout(verbose=False):
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.passModel(lp)
        highs.writeModel(str(path))
    return Path(path)
