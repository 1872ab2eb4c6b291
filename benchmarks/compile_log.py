"""A logging handler that collects JAX's compile timings (`jax_log_compiles`), shared by the
benchmarks."""

from __future__ import annotations

import logging
import re


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
