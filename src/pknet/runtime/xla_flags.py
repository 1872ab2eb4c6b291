"""XLA's deterministic-ops mode for GPU runs, requested through `XLA_FLAGS`.

XLA reads `XLA_FLAGS` when JAX first creates a backend, so the mode is set before a run touches
a device. On a GPU it makes reductions and scatters run in a fixed order (identical metrics run
to run, somewhat slower); CPU runs are deterministic either way.
"""

from __future__ import annotations

import os

DETERMINISTIC_OPS = "--xla_gpu_deterministic_ops"


def with_deterministic_ops(flags: str, on: bool) -> str:
    """`flags` (an `XLA_FLAGS` value) with the deterministic-ops flag set to `on`, unless the
    user already set it there (theirs wins)."""
    if DETERMINISTIC_OPS in flags:
        return flags
    return f"{flags} {DETERMINISTIC_OPS}={'true' if on else 'false'}".strip()


def deterministic_ops(flags: str) -> bool:
    """Whether `flags` turns XLA's GPU deterministic-ops mode on (the last setting counts)."""
    value = None
    for flag in flags.split():
        name, _, setting = flag.partition("=")
        if name == DETERMINISTIC_OPS:
            value = setting.lower() in ("", "true", "1")
    return bool(value)


def request_deterministic_ops(on: bool) -> None:
    """Ask XLA for (or not) deterministic GPU ops in this process, before JAX picks a device."""
    os.environ["XLA_FLAGS"] = with_deterministic_ops(os.environ.get("XLA_FLAGS", ""), on)
