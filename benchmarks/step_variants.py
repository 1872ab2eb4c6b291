"""Time two variants of one jitted training step alternately and compare their gradients
(shared by the step benchmarks)."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import jax
import numpy as np


def compare_variants(
    variants: dict[str, tuple[Callable[[], Any], Any, float]],
    repeats: int,
    *,
    milliseconds: bool = False,
) -> None:
    """`variants[name] = (run, gradients, jit_and_first_step_s)`: print the largest gradient
    difference between the first two, then each one's minimum and median step over `repeats`
    alternating calls."""
    grads = [
        np.concatenate([np.ravel(a) for a in jax.tree.leaves(v[1])]) for v in variants.values()
    ]
    print(f"max |gradient difference| {np.abs(grads[0] - grads[1]).max():.2e}")
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (run, *_) in variants.items():
            start = perf_counter()
            run()
            times[name].append(perf_counter() - start)
    scale, unit = (1e3, "ms") if milliseconds else (1.0, "s")
    for name, ts in times.items():
        print(
            f"{name:<12} jit + first step {variants[name][2]:6.2f} s  "
            f"step min {min(ts) * scale:.3g} {unit}  median {np.median(ts) * scale:.3g} {unit}"
        )
