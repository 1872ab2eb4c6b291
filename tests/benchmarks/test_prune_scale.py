"""The synthetic prior of `benchmarks/prune_scale.py` (small sizes)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
random_network = runpy.run_path(str(BENCHMARKS / "prune_scale.py"))["random_network"]


def test_random_prior_is_reproducible_layered_and_connected() -> None:
    net, inputs, outputs = random_network(4000, seed=3)
    again, _, _ = random_network(4000, seed=3)
    assert np.array_equal(net.src, again.src) and np.array_equal(net.dst, again.dst)
    assert net.n_edges == 4000 and net.n_nodes == 1000 and net.is_acyclic()
    assert len(inputs) == 500 and (net.in_degree()[inputs] == 0).all()
    assert net.reachable(outputs, reverse=True).all()  # every node reaches the output


def test_cyclic_fraction_closes_cycles_and_keeps_everything_connected() -> None:
    net, _, outputs = random_network(4000, cyclic=0.05, seed=3)
    assert not net.is_acyclic()
    assert net.reachable(outputs, reverse=True).all()
