"""pknet: declarative specs for knowledge-primed neural networks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pknet")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
