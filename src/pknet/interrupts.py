"""Interrupts (Ctrl-C, SIGTERM) that cannot be lost.

Python raises `KeyboardInterrupt` wherever the main thread happens to be; inside a garbage
collector callback or a `__del__` (JAX registers such callbacks) the exception is printed and
swallowed, and the run would go on to finish. The handler here also records the signal, and
`raise_if_interrupted()` at the points that publish results (the commit of an output folder,
the end of an epoch) raises it again.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

_received: int | None = None


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM arrived; `signal` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _handle(signum: int, _frame: object) -> None:
    global _received
    _received = signum
    raise Interrupted(signum)


def received() -> int | None:
    """The signal that arrived since `catching()` began, if any."""
    return _received


def raise_if_interrupted() -> None:
    """Raise `Interrupted` if a signal arrived since `catching()` began, even one whose
    exception was swallowed."""
    if _received is not None:
        raise Interrupted(_received)


@contextlib.contextmanager
def catching() -> Iterator[None]:
    """Record SIGINT and SIGTERM (and raise `Interrupted` for them) inside the block."""
    global _received
    _received = None
    previous = {sig: signal.signal(sig, _handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
