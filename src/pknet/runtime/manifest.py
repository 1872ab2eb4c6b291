"""What a run was made from: versions, device, seed and the SHA-256 of every input file."""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jax

import pknet
from pknet.specs import Spec
from pknet.specs.paths import map_paths

LIBRARIES = (
    "jax",
    "jaxlib",
    "equinox",
    "optax",
    "cvxpy",
    "highspy",
    "numpy",
    "scipy",
    "pandas",
    "anndata",
    "pydantic",
    "lark",
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_files(spec: Spec) -> list[Path]:
    """Every file the spec names (data, labels, network sources, tables), in spec order."""
    found: list[Path] = []

    def collect(_: tuple, path: Path) -> Path:
        if path not in found:
            found.append(path)
        return path

    map_paths(spec, collect)
    return found


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def build_manifest(spec: Spec, spec_hash: str) -> dict[str, object]:
    """The manifest of a run of `spec` on this machine."""
    device = jax.devices()[0]
    return {
        "pknet": pknet.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "device": {
            "platform": device.platform,
            "kind": device.device_kind,
            "count": jax.device_count(),
        },
        "seed": spec.seed,
        "spec_sha256": spec_hash,
        "inputs": {str(path): sha256(path) for path in input_files(spec)},
    }
