"""Solve an emitted MILP with HiGHS through cvxpy, read its status, and export it as MPS."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import cvxpy as cp
import cvxpy.settings as s
import numpy as np

from pknet.errors import Problem, SolverError

MSG_NO_HIGHS = "the pruning MILP needs the HiGHS solver, which cvxpy cannot find"
HINT_NO_HIGHS = "install it with `pip install highspy` (cvxpy then lists HIGHS as installed)"
MSG_NO_SOLUTION = "HiGHS stopped ({status}) without a feasible solution after {seconds:.1f} s"
HINT_NO_SOLUTION = "raise the time limit (time_limit_s), or run with verbose=True to see the log"
MSG_TIME_LIMIT = (
    "pruning stopped at the time limit with a feasible but unproven solution: objective "
    "{objective:g}, best bound {bound:g}, gap {gap:.2%}"
)
HIGHS_FEASIBLE = 2  # HighsInfo.primal_solution_status: a feasible point is known


@dataclass(frozen=True)
class SolveOutcome:
    """What the solver reported: status first, then the numbers that status makes meaningful."""

    status: str
    objective: float
    best_bound: float
    gap: float
    seconds: float
    warnings: tuple[str, ...]


def require_highs() -> None:
    """Raise `SolverError` with an install hint when cvxpy has no HiGHS."""
    if cp.HIGHS not in cp.installed_solvers():
        raise SolverError(Problem(MSG_NO_HIGHS, path="prune", hint=HINT_NO_HIGHS))


def relative_gap(objective: float, bound: float) -> float:
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-9)


def solve(
    problem: cp.Problem,
    *,
    time_limit_s: float,
    mip_rel_gap: float,
    threads: int | None,
    verbose: bool,
) -> SolveOutcome:
    """Run HiGHS; `status` is "optimal", "optimal_inaccurate", "time_limit" or "infeasible"."""
    require_highs()
    options: dict[str, object] = {"time_limit": float(time_limit_s), "mip_rel_gap": mip_rel_gap}
    if threads is not None:
        import highspy

        # HiGHS keeps one thread pool per process; a new thread count needs a fresh pool.
        highspy.Highs.resetGlobalScheduler(True)
        options["threads"] = int(threads)
    try:
        with warnings.catch_warnings():
            # cvxpy warns on every non-optimal status; the status is read and reported below.
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            problem.solve(solver=cp.HIGHS, verbose=verbose, **options)
    except (cp.error.SolverError, ValueError) as err:
        raise SolverError(
            Problem(f"HiGHS failed on the pruning MILP: {err}", path="prune", hint=HINT_NO_SOLUTION)
        ) from err

    stats = problem.solver_stats
    info = stats.extra_stats
    seconds = float(stats.solve_time or 0.0)
    if problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE, s.INFEASIBLE_OR_UNBOUNDED):
        return SolveOutcome("infeasible", math.nan, math.nan, math.nan, seconds, ())
    feasible = info is None or info.primal_solution_status == HIGHS_FEASIBLE
    if problem.status not in s.SOLUTION_PRESENT or not feasible:
        raise SolverError(
            Problem(
                MSG_NO_SOLUTION.format(status=problem.status, seconds=seconds),
                path="prune",
                hint=HINT_NO_SOLUTION,
            )
        )
    objective = float(problem.value)
    # HiGHS reports its bound without cvxpy's constant offset; add the same offset back.
    bound = (
        objective
        if info is None
        else info.mip_dual_bound + (objective - info.objective_function_value)
    )
    gap = relative_gap(objective, bound)
    notes: tuple[str, ...] = ()
    status = "optimal"
    if problem.status == cp.OPTIMAL_INACCURATE:
        status = "optimal_inaccurate"
        notes = ("HiGHS reports the optimum as inaccurate",)
    elif problem.status == cp.USER_LIMIT:
        status = "time_limit"
        notes = (MSG_TIME_LIMIT.format(objective=objective, bound=bound, gap=gap),)
    return SolveOutcome(status, objective, bound, gap, seconds, notes)


def write_mps(problem: cp.Problem, path: str | Path) -> Path:
    """Write `problem` (a `cp.Problem` or anything with a `.problem`) in MPS format via HiGHS."""
    import highspy

    problem = getattr(problem, "problem", problem)
    if not problem.variables():  # presolve decided everything: an empty model, its constant cost
        lp = highspy.HighsLp()
        lp.offset_ = float(problem.objective.value)
        return _write_model(lp, path)
    data, _, inverse = problem.get_problem_data(cp.HIGHS)
    a = data[s.A].tocsc()
    dims = data[s.DIMS]
    n_rows, n_cols = a.shape
    inf = highspy.kHighsInf
    lower_rows = np.concatenate([data[s.B][: dims.zero], np.full(n_rows - dims.zero, -inf)])

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = data[s.C]
    lp.offset_ = float(inverse[-1].inverse_data[s.OFFSET])
    lp.row_lower_, lp.row_upper_ = lower_rows, data[s.B]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    lower, upper = data[s.LOWER_BOUNDS], data[s.UPPER_BOUNDS]
    lower = np.full(n_cols, -inf) if lower is None else lower.copy()
    upper = np.full(n_cols, inf) if upper is None else upper.copy()
    integer = np.asarray(data[s.BOOL_IDX] + data[s.INT_IDX], dtype=np.int64)
    binary = np.asarray(data[s.BOOL_IDX], dtype=np.int64)
    lower[binary] = np.maximum(lower[binary], 0)
    upper[binary] = np.minimum(upper[binary], 1)
    lp.col_lower_, lp.col_upper_ = lower, upper
    kinds = [highspy.HighsVarType.kContinuous] * n_cols
    for j in integer:
        kinds[j] = highspy.HighsVarType.kInteger
    lp.integrality_ = kinds
    lp.col_names_ = [
        f"{v.name()}({i})" for v in data[s.PARAM_PROB].variables for i in range(v.size)
    ]
    return _write_model(lp, path)


def _write_model(lp: object, path: str | Path) -> Path:
    """Write a `highspy.HighsLp` as MPS."""
    import highspy

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.passModel(lp)
    path = Path(path)
    highs.writeModel(str(path))
    return path
