"""HiGHS leaves stdout alone (its log goes to stderr when asked) and Ctrl-C stops a long solve.

Both run in a fresh interpreter: HiGHS prints its banner once per process, and SIGINT needs a
process of its own.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

PRUNE_TWICE = """
from pknet.compiler.network.network import Network
from pknet.compiler.network.prune import prune

net = Network.from_edges(["a", "a", "p", "q"], ["p", "q", "o", "o"])
for verbose in (False, True):
    prune(net, net.index_of(["a"]), net.index_of(["o"]), verbose=verbose)
    print("pruned", flush=True)
"""

# A 300-item, 40-constraint knapsack: HiGHS needs far more than the test waits.
HARD_MILP = """
import cvxpy as cp
import numpy as np
from pknet.compiler.network.prune.budget import Budget
from pknet.compiler.network.prune.solve import solve

rng = np.random.default_rng(0)
a = rng.integers(1, 100, (40, 300))
x = cp.Variable(300, boolean=True)
problem = cp.Problem(cp.Maximize(rng.integers(1, 100, 300) @ x), [a @ x <= a.sum(1) // 2])
print("solving", flush=True)
try:
    solve(problem, budget=Budget(120.0), mip_rel_gap=0.0, threads=1, verbose=False)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.slow
def test_highs_writes_nothing_to_stdout_and_its_log_to_stderr() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PRUNE_TWICE], capture_output=True, text=True, check=True
    )
    assert result.stdout == "pruned\npruned\n"
    assert "Running HiGHS" not in result.stderr  # the banner, printed in the quiet first call
    assert "Solving report" in result.stderr  # the verbose call's log


@pytest.mark.slow
def test_ctrl_c_stops_a_long_solve_promptly() -> None:
    child = subprocess.Popen([sys.executable, "-c", HARD_MILP], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline() == "solving\n"
    time.sleep(1.5)  # well inside HiGHS's branch and bound
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, _ = child.communicate(timeout=60)
    assert out == "interrupted\n"
    assert time.monotonic() - sent < 10
