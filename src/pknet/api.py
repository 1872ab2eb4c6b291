"""The public Python API that the CLI and notebooks share."""

from __future__ import annotations

from pathlib import Path

from pknet.compiler import CompiledNetwork, compile_network
from pknet.compiler.network_files import write_network_files
from pknet.io.atomic import atomic_directory
from pknet.specs import Spec, load_spec
from pknet.specs.load import Overrides


def _spec(spec: Spec | str | Path, overrides: Overrides) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(spec, overrides)


def compile_spec(
    spec: Spec | str | Path, overrides: Overrides = (), out: str | Path | None = None
) -> CompiledNetwork:
    """Validate (if given a path), read the network and data features, clean and prune.

    With `out`, also writes `out/network/` (pruned edges, report.json, the MILP as MPS),
    atomically: an interrupted compile leaves no partial folder.
    """
    compiled = compile_network(_spec(spec, overrides))
    if out is not None:
        with atomic_directory(Path(out) / "network") as staging:
            write_network_files(compiled, staging)
    return compiled
