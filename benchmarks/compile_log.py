"""JAX's compile timings (`jax_log_compiles`) collected by a logging handler, shared by the
benchmarks."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator


class CompileLog(logging.Handler):
    """Collects JAX's `jax_log_compiles` timings: (stage, function, seconds), stage `trace`,
    `lower` or `xla`."""

    PATTERN = re.compile(
        r"Finished (tracing|jaxpr to MLIR module conversion|XLA compilation of) "
        r"(?:jit\()?(\S+?)\)?(?: for jit)? in ([0-9.e-]+) sec"
    )

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = self.PATTERN.search(record.getMessage())
        if match:
            stage = {"tracing": "trace", "XLA compilation of": "xla"}.get(match[1], "lower")
            self.records.append((stage, match[2], float(match[3])))

    def xla_seconds(self) -> dict[str, float]:
        """XLA compile seconds per jitted function, summed over its compilations."""
        seconds: dict[str, float] = {}
        for stage, function, spent in self.records:
            if stage == "xla":
                seconds[function] = seconds.get(function, 0.0) + spent
        return seconds


@contextlib.contextmanager
def logged_compiles() -> Iterator[CompileLog]:
    """Turn on `jax_log_compiles` and collect its timings, off the console, while in the block."""
    import jax

    log = CompileLog()
    jax_logger = logging.getLogger("jax")
    propagate = jax_logger.propagate
    jax.config.update("jax_log_compiles", True)
    jax_logger.addHandler(log)
    jax_logger.propagate = False
    try:
        yield log
    finally:
        jax_logger.removeHandler(log)
        jax_logger.propagate = propagate
        jax.config.update("jax_log_compiles", False)
