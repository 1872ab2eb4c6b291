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


def run_once(base_file: Path, values: dict[str, Any], out: Path) -> dict[str, Any]:
    """The metrics of a run of the base spec with `values` at `out`: read from the complete run
    an interrupted sweep left there (`--resume`), else from a new run."""
    from pknet.api import run
    from pknet.io.output_folder import read_marker
    from pknet.runtime.artifacts import RUN_OUTPUT

    if read_marker(out, RUN_OUTPUT) is not None:
        return json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return run(base_file, values, out=out).metrics


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
    start = perf_counter()
    try:
        metrics = run_once(
            base_file, {**fixed, **overrides(parameters, config)}, trials_dir / trial
        )
    except PknetError as exc:
        raise TrialFailed(exc.format()) from None
    summary = metrics["summary"][metric]
    tune.report({SCORE: summary["mean"], "sd": summary["sd"], "seconds": perf_counter() - start})
