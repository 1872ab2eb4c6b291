"""pknet: declarative specs for knowledge-primed neural networks.

`load_spec` and `render_spec` need only the spec layer; `compile_spec` is imported on first use
so that validating a spec does not pay for loading the solver stack.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from pknet.errors import CompileError, PknetError, SpecError
from pknet.specs import Spec, load_spec, render_spec

if TYPE_CHECKING:
    from pknet.api import compile_spec

try:
    __version__ = version("pknet")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

_LAZY = {"compile_spec": "pknet.api"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pknet' has no attribute {name!r}")


__all__ = [
    "CompileError",
    "PknetError",
    "Spec",
    "SpecError",
    "__version__",
    "compile_spec",
    "load_spec",
    "render_spec",
]
