"""pknet: declarative specs for knowledge-primed neural networks."""

from importlib.metadata import PackageNotFoundError, version

from pknet.api import compile_spec
from pknet.errors import CompileError, PknetError, SpecError
from pknet.specs import Spec, load_spec, render_spec

try:
    __version__ = version("pknet")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

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
