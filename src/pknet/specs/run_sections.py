"""What `run` needs beyond what `validate` and `compile` do: data, a model and a loss.

A spec without them prunes its network only (`pknet compile`), as CORNETO's users do.
"""

from __future__ import annotations

from pknet.errors import Problem, SpecError
from pknet.specs.schema import Spec

RUN_SECTIONS = {
    "data": "the samples and the target to train on",
    "model": "the layers to train",
    "loss": "what training minimises",
}


def require_run_sections(spec: Spec, command: str = "run") -> None:
    """Raise a `SpecError`, located at the spec file, naming every section `run` lacks."""
    missing = [key for key in RUN_SECTIONS if getattr(spec, key) is None]
    if not missing:
        return
    location = spec.sources.value_location(()) if spec.sources else None
    raise SpecError(
        [
            Problem(
                f"`{command}` needs a `{key}` section ({RUN_SECTIONS[key]}); this spec has none",
                location,
                key,
                hint="add it, or prune the network alone with `pknet compile`",
            )
            for key in missing
        ]
    )
