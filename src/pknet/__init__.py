"""pknet: declarative specs for knowledge-primed neural networks.

`load_spec` and `render_spec` need only the spec layer; `compile_spec`, `run` and `predict` are
imported on first use, so validating a spec does not pay for loading JAX and the solver stack.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from pknet.errors import CompileError, PknetError, SpecError
from pknet.specs import Spec, load_spec, render_spec

if TYPE_CHECKING:
    from pknet.api import RunResult, compile_spec, predict, run

try:
    __version__ = version("pknet")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

_LAZY = {name: "pknet.api" for name in ("RunResult", "compile_spec", "predict", "run")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pknet' has no attribute {name!r}")


__all__ = [
    "CompileError",
    "PknetError",
    "RunResult",
    "Spec",
    "SpecError",
    "__version__",
    "compile_spec",
    "load_spec",
    "predict",
    "render_spec",
    "run",
]
