"""cvxpy without JAX and without `scipy.stats` at import.

cvxpy probes every solver it knows when it is imported and in `installed_solvers()`, and its MPAX
probe imports JAX, which pruning never uses and which is the slowest import of all. Hiding JAX
during those probes keeps `pknet compile` free of it: MPAX then counts as not installed, and a
later `import jax` (training) is unaffected.

cvxpy also imports `scipy.stats` for one function (`entropy`, in an atom pruning never uses),
which costs about as much as the rest of cvxpy. During the import, `scipy.stats` is a stand-in
whose `entropy` and every other name load the real module when first used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any


@contextmanager
def jax_hidden() -> Iterator[None]:
    """Inside, `import jax` raises ImportError, unless JAX is loaded already."""
    with _standing_in("jax", None):
        yield


def _real_stats() -> ModuleType:
    if isinstance(sys.modules.get("scipy.stats"), _DeferredStats):
        del sys.modules["scipy.stats"]
    return importlib.import_module("scipy.stats")


def _entropy(*args: Any, **kwargs: Any) -> Any:
    """`scipy.stats.entropy`, imported on first call."""
    return _real_stats().entropy(*args, **kwargs)


class _DeferredStats(ModuleType):
    """Stands in for `scipy.stats` while cvxpy imports; any name loads the real module."""

    entropy = staticmethod(_entropy)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system's probes (`__path__`, ...)
            raise AttributeError(name)
        return getattr(_real_stats(), name)


@contextmanager
def _standing_in(name: str, module: ModuleType | None) -> Iterator[None]:
    """`module` (None: an ImportError) in place of `name`, unless `name` is loaded already."""
    if name in sys.modules:
        yield
        return
    sys.modules[name] = module  # type: ignore[assignment]
    try:
        yield
    finally:
        if name in sys.modules and sys.modules[name] is module:
            del sys.modules[name]


with jax_hidden(), _standing_in("scipy.stats", _DeferredStats("scipy.stats")):
    import cvxpy  # noqa: F401
