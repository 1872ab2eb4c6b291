"""Nested selection: for each fold of the base spec's `evaluate.cv` (the outer folds), the search
runs on that fold's training samples only (`data.samples`; their own CV gives the inner folds),
and the parameters it chooses are scored on the fold's test samples.

The outer score of fold k is fold k of an ordinary run of the chosen parameters on every sample:
its fold k trains on exactly the outer training samples and tests on the outer test samples (the
sweep file may not vary what decides the folds, see `FOLD_SETTINGS`). Folds that chose the same
parameters share that run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pknet.errors import Problem, SweepError
from pknet.specs.sweep import Sweep
from pknet.sweeps.outputs import best_trial
from pknet.sweeps.trial import run_once
from pknet.sweeps.tuner import TrialRecord, run_trials

FOLDS_DIR, OUTER_DIR = "folds", "outer"
SAMPLES = "data.samples"


@dataclass(frozen=True)
class OuterFold:
    """One outer fold: the trials of its search, the one chosen, and the chosen parameters'
    score on the fold's test samples (from the run `outer/<run>`)."""

    fold: int
    trials: list[TrialRecord]
    chosen: TrialRecord
    score: float
    run: str


def run_nested(sweep: Sweep, folder: Path, storage: Path) -> list[OuterFold]:
    """Search on each outer fold's training samples (trials in `folder/folds/<k>/trials`, Tune's
    state in `storage/fold-<k>`), then run each distinct choice on every sample
    (`folder/outer/<j>`) to score it per fold."""
    from pknet.api import cv_folds

    folds = cv_folds(sweep.base_file)
    searched = []
    for k, (train, _) in enumerate(folds):
        trials_dir = folder / FOLDS_DIR / str(k) / "trials"
        trials = run_trials(sweep, trials_dir, storage / f"fold-{k}", {SAMPLES: train})
        searched.append((trials, best_trial(sweep, trials)))
    runs = list(dict.fromkeys(_key(chosen.values) for _, chosen in searched))
    scores = _outer_scores(sweep, [json.loads(key) for key in runs], folder / OUTER_DIR)
    outer = []
    for k, (trials, chosen) in enumerate(searched):
        j = runs.index(_key(chosen.values))
        outer.append(OuterFold(k, trials, chosen, scores[j][k], str(j)))
    return outer


def _key(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


def _outer_scores(sweep: Sweep, choices: list[dict[str, Any]], folder: Path) -> list[list[float]]:
    """Per choice, the metric of each fold of its run on every sample (the mean over seeds)."""
    import ray

    resources = sweep.settings.resources
    task = ray.remote(num_cpus=resources.cpu, num_gpus=resources.gpu)(_fold_scores)
    pending = [
        task.remote(sweep.base_file, values, folder / str(j), sweep.settings.metric)
        for j, values in enumerate(choices)
    ]
    try:
        return ray.get(pending)
    except ray.exceptions.RayTaskError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise SweepError(Problem(f"a run of the chosen parameters failed: {reason}")) from None


def _fold_scores(base_file: Path, values: dict[str, Any], out: Path, metric: str) -> list[float]:
    folds = run_once(base_file, values, out)[0]["folds"]
    n_folds = 1 + max(fold["fold"] for fold in folds)
    return [
        float(np.mean([f["metrics"][metric] for f in folds if f["fold"] == k]))
        for k in range(n_folds)
    ]
