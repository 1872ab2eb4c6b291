"""Run a sweep's trials with Ray Tune and collect one `TrialRecord` per trial."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pknet.specs.sweep import Sweep
from pknet.sweeps.space import SearchParameter, overrides, search_parameters
from pknet.sweeps.trial import SCORE, TrialFailed, run_trial


@dataclass(frozen=True)
class TrialRecord:
    """What one trial set, scored and took; `error` when it failed."""

    name: str
    values: dict[str, Any]
    mean: float
    sd: float
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_trials(
    sweep: Sweep, trials_dir: Path, experiment: Path, fixed: dict[str, Any] | None = None
) -> list[TrialRecord]:
    """Run every trial of `sweep` on the current Ray session (see `ray_session`); each writes
    its run directory to `trials_dir/<trial id>`, with the overrides `fixed` beside its own
    values. Failed trials are recorded, not raised. Tune keeps the search's state in
    `experiment`; a search interrupted there is resumed (its unfinished trials run again, a
    trial whose run directory is complete is read back)."""
    # Ctrl-C stays pknet's (`pknet.interrupts`): it stops the sweep and nothing is written,
    # where Tune's own handler would end the trials and let the sweep finish as if complete
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator
    from ray.tune.search.optuna import OptunaSearch

    settings = sweep.settings
    parameters = search_parameters(settings)
    grid = settings.search == "grid"
    if settings.search == "optuna":
        search_alg: Any = OptunaSearch(seed=settings.seed)
    else:
        search_alg = BasicVariantGenerator(random_state=settings.seed)
    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial,
            base_file=sweep.base_file,
            parameters=parameters,
            fixed=fixed or {},
            trials_dir=trials_dir,
            metric=settings.metric,
        ),
        {"cpu": settings.resources.cpu, "gpu": settings.resources.gpu},
    )
    space = {p.key: p.tune_domain(grid) for p in parameters}
    if tune.Tuner.can_restore(experiment):
        tuner = tune.Tuner.restore(str(experiment), trainable, param_space=space)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(
                metric=SCORE,
                mode=settings.mode,
                search_alg=search_alg,
                num_samples=1 if grid else settings.trials or 1,
                max_concurrent_trials=settings.max_concurrent,
                reuse_actors=True,  # a worker imports JAX once, not once per trial
                trial_dirname_creator=lambda trial: trial.trial_id,
            ),
            run_config=tune.RunConfig(
                name=experiment.name, storage_path=str(experiment.parent), verbose=0
            ),
        )
    with contextlib.redirect_stdout(sys.stderr):  # Tune's progress; stdout is the summary's
        results = tuner.fit()
    records = [_record(result, parameters) for result in results]
    return sorted(records, key=lambda r: r.name)  # trial ids count up: the order of creation


def _record(result: Any, parameters: list[SearchParameter]) -> TrialRecord:
    name = Path(result.path).name
    values = overrides(parameters, result.config)
    if result.error is not None:
        return TrialRecord(name, values, math.nan, math.nan, math.nan, _message(result.error))
    metrics = result.metrics
    return TrialRecord(name, values, metrics[SCORE], metrics["sd"], metrics["seconds"])


def _message(error: BaseException) -> str:
    """The user-facing message of a trial's error (Ray wraps what the trial raised)."""
    cause = error
    while cause is not None and not isinstance(cause, TrialFailed):
        cause = getattr(cause, "cause", None) or cause.__cause__
    if isinstance(cause, TrialFailed):
        return cause.message
    return f"{type(error).__name__}: {str(error).strip().splitlines()[-1]}"
