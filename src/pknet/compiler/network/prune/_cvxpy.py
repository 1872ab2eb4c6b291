"""cvxpy without JAX.

cvxpy probes every solver it knows when it is imported and in `installed_solvers()`, and its MPAX
probe imports JAX, which pruning never uses and which is the slowest import of all. Hiding JAX
during those probes keeps `pknet compile` free of it: MPAX then counts as not installed, and a
later `import jax` (training) is unaffected.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def jax_hidden() -> Iterator[None]:
    """Inside, `import jax` raises ImportError, unless JAX is loaded already."""
    if "jax" in sys.modules:
        yield
        return
    sys.modules["jax"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("jax", ...) is None:
            del sys.modules["jax"]


with jax_hidden():
    import cvxpy  # noqa: F401
