"""One trial, as Ray Tune runs it in a worker: an ordinary `pknet.api.run` into the sweep's
`trials/<trial id>` folder (with `fixed`: overrides every trial of the search shares), reporting
the metric's mean and sd over the folds."""

from __future__ import annotations

import json
from pathlib import Path
from time import perf_counter
from typing import Any

from pknet.errors import PknetError
from pknet.sweeps.space import SearchParameter, overrides

SCORE = "score"  # the key Tune optimises: the metric's mean over folds


class TrialFailed(Exception):
    """A trial's run stopped with a user-facing error; `message` is that error, formatted."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def run_once(base_file: Path, values: dict[str, Any], out: Path) -> tuple[dict[str, Any], float]:
    """The metrics of a run of the base spec with `values` at `out`, and its seconds: read from
    the complete run an interrupted sweep left there (`--resume`; the seconds its manifest
    recorded), else from a new run (its wall time)."""
    from pknet.api import run
    from pknet.io.output_folder import read_marker
    from pknet.runtime.artifacts import MANIFEST_FILE, RUN_OUTPUT

    if read_marker(out, RUN_OUTPUT) is not None:
        manifest = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        return metrics, float(sum(manifest.get("timings_s", {}).values()))
    start = perf_counter()
    metrics = run(base_file, values, out=out).metrics
    return metrics, perf_counter() - start


def run_trial(
    config: dict[str, Any],
    *,
    base_file: Path,
    parameters: list[SearchParameter],
    fixed: dict[str, Any],
    trials_dir: Path,
    metric: str,
) -> None:
    from ray import tune

    trial = tune.get_context().get_trial_id()
    try:
        metrics, seconds = run_once(
            base_file, {**fixed, **overrides(parameters, config)}, trials_dir / trial
        )
    except PknetError as exc:
        raise TrialFailed(exc.format()) from None
    summary = metrics["summary"][metric]
    tune.report({SCORE: summary["mean"], "sd": summary["sd"], "seconds": seconds})
