"""What a run was made from: versions, device, seed and the SHA-256 of every input file."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jax

import pknet
from pknet.runtime.xla_flags import deterministic_ops

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


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def build_manifest(seed: int, spec_hash: str, inputs: Sequence[Path]) -> dict[str, object]:
    """The manifest of a run on this machine (`inputs`: every file its spec names)."""
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
        "xla": {"gpu_deterministic_ops": deterministic_ops(os.environ.get("XLA_FLAGS", ""))},
        "seed": seed,
        "spec_sha256": spec_hash,
        "inputs": {str(path): sha256(path) for path in inputs},
    }
