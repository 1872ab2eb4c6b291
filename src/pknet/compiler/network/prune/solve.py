"""Solve an emitted MILP with HiGHS through cvxpy, read its status, and export it as MPS."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import cvxpy as cp
import cvxpy.settings as s

from pknet.compiler.network.prune._cvxpy import jax_hidden
from pknet.compiler.network.prune.budget import Budget
from pknet.compiler.network.prune.highs import (
    HIGHS_FEASIBLE,
    highs_lp,
    run_highs,
    solver_stdout,
    write_lp,
)
from pknet.errors import Problem, SolverError

MSG_NO_HIGHS = "the pruning MILP needs the HiGHS solver, which cvxpy cannot find"
HINT_NO_HIGHS = "install it with `pip install highspy` (cvxpy then lists HIGHS as installed)"
MSG_NO_SOLUTION = "HiGHS stopped ({status}) without a feasible solution after {seconds:.1f} s"
HINT_NO_SOLUTION = "run with `prune.solver.verbose: true` to see the solver's log (on stderr)"
MSG_TIME_LIMIT = (
    "pruning stopped at the time limit with a feasible but unproven solution: objective "
    "{objective:g}, best bound {bound:g}, gap {gap:.2%}"
)


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
    with jax_hidden():
        installed = cp.installed_solvers()
    if cp.HIGHS not in installed:
        raise SolverError(Problem(MSG_NO_HIGHS, path="prune", hint=HINT_NO_HIGHS))


def relative_gap(objective: float, bound: float) -> float:
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-9)


def solve(
    problem: cp.Problem,
    *,
    budget: Budget,
    mip_rel_gap: float,
    threads: int | None,
    verbose: bool,
) -> SolveOutcome:
    """Canonicalise and run HiGHS within `budget`; `status` is "optimal", "optimal_inaccurate",
    "time_limit" or "infeasible". Raises `budget.out_of_time()` when the time runs out first."""
    require_highs()
    options: dict[str, object] = {"mip_rel_gap": mip_rel_gap}
    if threads is not None:
        import highspy

        # HiGHS keeps one thread pool per process; a new thread count needs a fresh pool.
        highspy.Highs.resetGlobalScheduler(True)
        options["threads"] = int(threads)
    if problem.variables():
        _solve_with_highs(problem, options, budget=budget, verbose=verbose)
    else:  # presolve decided everything: cvxpy evaluates the constant cost
        problem.solve(solver=cp.HIGHS)

    stats = problem.solver_stats
    info = stats.extra_stats
    seconds = float(stats.solve_time or 0.0)
    if problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE, s.INFEASIBLE_OR_UNBOUNDED):
        return SolveOutcome("infeasible", math.nan, math.nan, math.nan, seconds, ())
    feasible = info is None or info.primal_solution_status == HIGHS_FEASIBLE
    if problem.status == cp.USER_LIMIT and not feasible:
        raise budget.out_of_time()
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


def canonicalise(problem: cp.Problem, verbose: bool = False) -> tuple:
    """cvxpy's reduction chain down to HiGHS's matrices: `(data, chain, inverse_data)`.

    The SciPy backend without DPP bookkeeping (the MILP has no parameters) canonicalised the
    2-million-edge flow MILP in 33-38 s against 45-50 s for the default (benchmarks/README.md).
    """
    return problem.get_problem_data(
        cp.HIGHS, verbose=verbose, canon_backend=cp.SCIPY_CANON_BACKEND, ignore_dpp=True
    )


def _solve_with_highs(
    problem: cp.Problem, options: dict[str, object], *, budget: Budget, verbose: bool
) -> None:
    """cvxpy's chain down to HiGHS's matrices, HiGHS, and the solution mapped back."""
    with budget.stage("canonicalisation"), solver_stdout(verbose):  # cvxpy prints headers
        data, chain, inverse = canonicalise(problem, verbose=verbose)
    budget.check()
    with budget.stage("solve"):
        try:
            results = run_highs(
                highs_lp(data),
                options,
                budget=budget,
                verbose=verbose,
                offset=float(inverse[-1][s.OFFSET]),
            )
            with warnings.catch_warnings():
                # cvxpy warns on every non-optimal status; the status is read and reported.
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                problem.unpack_results(results, chain, inverse)
        except (cp.error.SolverError, ValueError) as err:
            raise SolverError(
                Problem(
                    f"HiGHS failed on the pruning MILP: {err}", path="prune", hint=HINT_NO_SOLUTION
                )
            ) from err


def write_mps(problem: cp.Problem, path: str | Path) -> Path:
    """Write `problem` (a `cp.Problem` or anything with a `.problem`) in MPS format via HiGHS."""
    import highspy

    problem = getattr(problem, "problem", problem)
    if not problem.variables():  # presolve decided everything: an empty model, its constant cost
        lp = highspy.HighsLp()
        lp.offset_ = float(problem.objective.value)
        return write_lp(lp, path)
    data, _, inverse = canonicalise(problem)
    lp = highs_lp(data)
    lp.offset_ = float(inverse[-1].inverse_data[s.OFFSET])
    lp.col_names_ = [
        f"{v.name()}({i})" for v in data[s.PARAM_PROB].variables for i in range(v.size)
    ]
    return write_lp(lp, path)
