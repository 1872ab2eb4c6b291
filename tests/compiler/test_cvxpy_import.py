"""The pruning package imports cvxpy without JAX and without `scipy.stats`, and both still work
afterwards, in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
CHILD = """
import sys
import pknet.compiler.network.prune
assert "jax" not in sys.modules and "scipy.stats" not in sys.modules, "loaded too much"
from pknet.compiler.network.prune.solve import require_highs
require_highs()  # asks cvxpy which solvers it has: every probe runs again
assert "jax" not in sys.modules
entropy = sys.modules["cvxpy.atoms.quantum_rel_entr"].entropy
assert abs(entropy([0.5, 0.5]) - 0.6931471805599453) < 1e-12
import scipy.stats
assert scipy.stats.entropy is sys.modules["scipy.stats"].entropy
assert type(sys.modules["scipy.stats"]).__name__ == "module"
import jax
assert jax.numpy.ones(2).sum() == 2
print("ok")
"""


def test_cvxpy_loads_without_jax_or_scipy_stats_and_both_work_later() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
