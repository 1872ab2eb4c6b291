"""`time_limit_s` bounds the whole `prune` call: stages timed on an injected clock, HiGHS given
what is left, and running out before a feasible solution an error at the spec's time limit."""

from __future__ import annotations

import runpy
from pathlib import Path

import cvxpy as cp
import highspy
import numpy as np
import pytest

from pknet.compiler.network.network import Network
from pknet.compiler.network.prune import pipeline, prune
from pknet.errors import SolverError

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
random_network = runpy.run_path(str(BENCHMARKS / "prune_scale.py"))["random_network"]


class FakeClock:
    """A monotonic clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_slow(monkeypatch, clock: FakeClock, owner: object, name: str, seconds: float) -> None:
    """Each call of `owner.name` takes `seconds` on `clock`."""
    original = getattr(owner, name)

    def slow(*args, **kwargs):
        clock.now += seconds
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, slow)


@pytest.fixture(scope="module")
def cyclic() -> tuple[Network, np.ndarray, np.ndarray]:
    return random_network(4000, cyclic=0.05, seed=1)


@pytest.mark.parametrize(
    ("owner", "name", "stage", "seconds"),
    [
        (pipeline, "presolve", "presolve", "100.00"),
        (pipeline, "_build", "formulation", "200.00"),  # built twice: without and with presolve
        (cp.Problem, "get_problem_data", "canonicalisation", "100.00"),
    ],
)
def test_a_stage_that_spends_the_budget_is_named(monkeypatch, cyclic, owner, name, stage, seconds):
    clock = FakeClock()
    make_slow(monkeypatch, clock, owner, name, 100.0)
    with pytest.raises(SolverError) as err:
        prune(*cyclic, time_limit_s=60, clock=clock)
    (problem,) = err.value.problems
    assert problem.path == "prune.solver.time_limit_s"
    assert problem.message.startswith(f"pruning ran out of its 60 s time limit during {stage},")
    assert problem.message.endswith(f"{stage} {seconds})")  # after the stages before it
    assert "prune` section" in problem.hint


def test_highs_gets_the_time_left_and_the_report_times_each_stage(monkeypatch) -> None:
    net = Network.from_edges(["a", "a", "p", "q"], ["p", "q", "o", "o"])
    clock = FakeClock()
    make_slow(monkeypatch, clock, pipeline, "presolve", 45.0)
    limits = []
    set_option = highspy.Highs.setOptionValue

    def spy(self, option: str, value: object) -> object:
        if option == "time_limit":
            limits.append(value)
        return set_option(self, option, value)

    monkeypatch.setattr(highspy.Highs, "setOptionValue", spy)
    report = prune(net, net.index_of(["a"]), net.index_of(["o"]), clock=clock).report
    assert report.status == "optimal" and report.objective == 2
    assert limits == [15.0]
    assert report.stage_seconds == {
        "presolve": 45.0,
        "formulation": 0.0,
        "canonicalisation": 0.0,
        "solve": 0.0,
        "extraction": 0.0,
    }
    assert report.seconds == 45.0


def test_highs_stopping_without_a_solution_is_the_same_error(cyclic) -> None:
    # The clock stands still, so HiGHS gets the whole millisecond: too little for a first point.
    with pytest.raises(SolverError) as err:
        prune(*cyclic, formulation="flow", time_limit_s=1e-3, clock=FakeClock())
    (problem,) = err.value.problems
    assert problem.path == "prune.solver.time_limit_s"
    assert "time limit during solve," in problem.message


def test_a_tiny_limit_stops_a_large_prior_in_presolve() -> None:
    net, inputs, outputs = random_network(100_000, seed=2)
    with pytest.raises(SolverError, match="during presolve") as err:
        prune(net, inputs, outputs, time_limit_s=1e-6)
    assert err.value.problems[0].path == "prune.solver.time_limit_s"
