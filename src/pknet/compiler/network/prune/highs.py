"""HiGHS through highspy: the model from cvxpy's problem data, a run that Ctrl-C stops, and
nothing on stdout.

cvxpy's own HiGHS interface blocks in `Highs.run()`, where Python cannot handle SIGINT: Ctrl-C
lands only when the solve ends (measured: 17 s after the signal under a 20 s limit). Here HiGHS
solves in highspy's background thread while the main thread waits, and a KeyboardInterrupt
cancels the solve through HiGHS's interrupt callbacks (it stopped within 0.3 s).

HiGHS prints a banner from C++ on the first `Highs()` of a process, before any option can
silence it, so file descriptor 1 points at /dev/null (or, with `verbose`, at stderr, where the
log then goes) while HiGHS is in use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import cvxpy.settings as s
import numpy as np

from pknet.compiler.network.prune.budget import Budget

if TYPE_CHECKING:  # imported where used, so a missing highspy is `require_highs`'s clear error
    import highspy

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
    lp: highspy.HighsLp, options: dict[str, object], *, budget: Budget, verbose: bool
) -> dict[str, object]:
    """Solve `lp` within what is left of `budget`; results as cvxpy's HIGHS `invert` reads them.

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
        highs.startSolve()
        try:
            _wait(highs)
        except KeyboardInterrupt:
            # HiGHS stops at its next interrupt check: at once in simplex and branch and bound,
            # only after the current pass in its presolve. A second Ctrl-C stops waiting.
            highs.cancelSolve()
            _wait(highs)
            raise
    status = highs.getModelStatus().name
    results = {
        "solution": highs.getSolution(),
        "info": highs.getInfo(),
        "model_status": status,
        "run_time": highs.getRunTime(),
    }
    if status == "kInfeasible":
        results["dual_ray"] = highs.getDualRay()
    return results


def _wait(highs: highspy.Highs) -> None:
    while not highs.wait(POLL_S)[0]:
        pass


def write_lp(lp: highspy.HighsLp, path: str | Path) -> Path:
    """Write `lp` in the format its suffix names (MPS for `.mps`)."""
    import highspy

    with solver_stdout(verbose=False):
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.passModel(lp)
        highs.writeModel(str(path))
    return Path(path)
