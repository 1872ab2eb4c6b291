"""`pknet runs`: run directories side by side (name, spec hash, the spec fields that differ
between them, each metric's mean over folds)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pknet.io.output_folder import require_complete


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested spec data as `--set` paths: `{"model.layers[0].units": 8, ...}`."""
    if isinstance(value, dict) and value:
        return {
            path: leaf
            for key, child in value.items()
            for path, leaf in flatten(child, f"{prefix}.{key}" if prefix else key).items()
        }
    if isinstance(value, list) and value:
        return {
            path: leaf
            for i, child in enumerate(value)
            for path, leaf in flatten(child, f"{prefix}[{i}]").items()
        }
    return {prefix: value}


def runs_table(folders: Sequence[Path]) -> pd.DataFrame:
    """One row per complete run directory (an `OutputError` names any other folder)."""
    from pknet.runtime.artifacts import MANIFEST_FILE, RUN_OUTPUT
    from pknet.runtime.run_files import SPEC_FILE

    for folder in folders:
        require_complete(folder, RUN_OUTPUT)
    specs = [flatten(yaml.safe_load((f / SPEC_FILE).read_text(encoding="utf-8"))) for f in folders]
    paths = list(dict.fromkeys(path for spec in specs for path in spec))
    differing = [
        path
        for path in paths
        if path != "name" and len({json.dumps(spec.get(path)) for spec in specs}) > 1
    ]
    rows = []
    for folder, spec in zip(folders, specs, strict=True):
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        summary = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["summary"]
        rows.append(
            {
                "run": str(folder),
                "name": spec.get("name"),
                "spec_hash": manifest["spec_sha256"][:8],
                **{path: spec.get(path) for path in differing},
                **{metric: value["mean"] for metric, value in summary.items()},
            }
        )
    return pd.DataFrame(rows)
