"""The OmniPath-like signed priors of `benchmarks/prune_formulations.py` (small sizes)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> dict:
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its sibling benchmarks
    try:
        return runpy.run_path(str(BENCHMARKS / "prune_formulations.py"))
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_omnipath_like_prior_is_seeded_signed_cyclic_and_connected(bench: dict) -> None:
    net, inputs, outputs = bench["omnipath_like"](400, 5, 8, 8, seed=4)
    again, inputs_again, _ = bench["omnipath_like"](400, 5, 8, 8, seed=4)
    assert np.array_equal(net.src, again.src) and np.array_equal(inputs, inputs_again)
    assert set(np.unique(net.sign)) == {-1, 1} and (net.sign == 1).mean() > 0.5
    assert not net.is_acyclic()
    assert len(inputs) and len(outputs)
    assert net.reachable(outputs, reverse=True)[inputs].all()
    assert net.reachable(inputs)[outputs].all()


def test_better_prefers_a_proof_then_speed(bench: dict) -> None:
    fast_unproven = {"status": "time_limit", "seconds": 1.0}
    slow_proven = {"status": "optimal", "seconds": 9.0}
    fast_proven = {"status": "optimal", "seconds": 2.0}
    assert bench["better"](fast_unproven, slow_proven) is slow_proven
    assert bench["better"](slow_proven, fast_proven) is fast_proven
