"""Sweeps on an embedded Ray (one session shared by the module): a grid sweep with failing
trials and an Optuna sweep on the tiny spec; every trial an ordinary run directory, `best.yaml`
reproducing the best trial."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pknet.api import cv_folds, run
from pknet.cli import app
from pknet.errors import SweepError
from pknet.io.output_folder import require_complete
from pknet.runtime.artifacts import RUN_OUTPUT
from pknet.specs import load_spec
from pknet.sweeps import run_sweep
from pknet.sweeps.cluster import ray_session
from pknet.sweeps.progress import work_folder
from pknet.sweeps.run import SWEEP_OUTPUT

runner = CliRunner()
pytestmark = pytest.mark.slow  # each sweep trains several models in Ray workers

GRID = """\
parameters:
  train.optimizer.lr: [0.01, 0.1]
  evaluate.cv.folds: [2, 50]
search: grid
metric: roc_auc
mode: max
"""
OPTUNA = """\
parameters:
  train.optimizer.lr: {log_uniform: [1.0e-3, 1.0e-1]}
  model.layers[0].dropout: [0.0, 0.5]
search: optuna
trials: 4
metric: roc_auc
mode: max
max_concurrent: 2
seed: 3
"""


@pytest.fixture(scope="module")
def embedded_ray():
    """One embedded Ray (2 CPUs) for the module: `run_sweep` joins it instead of starting its
    own."""
    with ray_session(cpus=2):
        yield


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["summary"]


def test_a_grid_sweep_records_every_trial_and_its_best(
    embedded_ray, write_sweep, tmp_path: Path
) -> None:
    import ray

    assert [node["NodeManagerAddress"] for node in ray.nodes()] == ["127.0.0.1"]
    result = run_sweep(write_sweep(GRID), out=tmp_path / "sweep")
    folder = result.folder
    marker = require_complete(folder, SWEEP_OUTPUT)
    assert {"trials.csv", "best.yaml", "report.md", "sweep.yaml"} <= set(marker.files)
    figures = {"figures/metric_vs_train.optimizer.lr.png", "figures/progress.png"}
    assert figures <= set(marker.files)
    assert "![progress](figures/progress.png)" in (folder / "report.md").read_text("utf-8")
    table = pd.read_csv(folder / "trials.csv", float_precision="round_trip")
    assert len(table) == 4
    assert set(zip(table["train.optimizer.lr"], table["evaluate.cv.folds"], strict=True)) == {
        (0.01, 2),
        (0.1, 2),
        (0.01, 50),
        (0.1, 50),
    }
    failed = table[table["evaluate.cv.folds"] == 50]
    assert (failed["status"] == "error").all()
    assert failed["error"].str.contains("50 folds need at least 50 samples").all()
    ok = table[table["status"] == "ok"]
    assert len(ok) == 2
    for row in ok.itertuples():
        trial = folder / "trials" / row.trial
        require_complete(trial, RUN_OUTPUT)  # an ordinary, complete run directory
        assert summary(trial)["roc_auc"]["mean"] == pytest.approx(row.roc_auc_mean, rel=1e-12)
    best = ok.loc[ok["roc_auc_mean"].idxmax()]
    assert result.best.name == best["trial"]
    assert result.best.values == {
        "train.optimizer.lr": best["train.optimizer.lr"],
        "evaluate.cv.folds": 2,
    }
    assert best["trial"] in (folder / "report.md").read_text(encoding="utf-8")

    # `pknet runs` sets the trials side by side: what differs, and the metrics
    trials = [str(folder / "trials" / name) for name in ok["trial"]]
    listed = runner.invoke(app, ["runs", *trials, "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    compared = pd.read_csv(io.StringIO(listed.output), float_precision="round_trip")
    assert list(compared["run"]) == trials
    assert list(compared["train.optimizer.lr"]) == list(ok["train.optimizer.lr"])
    assert list(compared["roc_auc"]) == list(ok["roc_auc_mean"])
    assert "seed" not in compared and "evaluate.cv.folds" not in compared  # the same in both
    markdown = runner.invoke(app, ["runs", *trials])
    assert markdown.exit_code == 0 and markdown.output.startswith("| run | name | spec_hash |")
    refused = runner.invoke(app, ["runs", str(folder)])  # a sweep folder is not a run
    assert refused.exit_code == 2 and "not a complete pknet run" in refused.output

    # best.yaml is a complete spec that, run on its own, repeats the best trial
    best_file = folder / "best.yaml"
    assert load_spec(best_file).train.optimizer.lr == best["train.optimizer.lr"]
    rerun = run(best_file, out=tmp_path / "rerun")
    assert summary(rerun.run_dir) == summary(folder / "trials" / best["trial"])


def test_an_optuna_sweep_runs_its_trials_within_the_ranges(
    embedded_ray, write_sweep, tmp_path: Path
) -> None:
    result = run_sweep(write_sweep(OPTUNA), out=tmp_path / "sweep")
    table = pd.read_csv(result.folder / "trials.csv", float_precision="round_trip")
    assert len(table) == 4 and (table["status"] == "ok").all()
    assert table["train.optimizer.lr"].between(1e-3, 1e-1).all()
    assert set(table["model.layers[0].dropout"]) <= {0.0, 0.5}
    assert table["train.optimizer.lr"].nunique() == 4  # TPE's draws, not one value repeated
    for _, row in table.iterrows():
        spec = load_spec(result.folder / "trials" / row["trial"] / "spec.resolved.yaml")
        assert spec.train.optimizer.lr == row["train.optimizer.lr"]
        assert spec.model.layers[0].dropout == row["model.layers[0].dropout"]
    assert result.best.mean == table["roc_auc_mean"].max()


NESTED = """\
parameters:
  train.optimizer.lr: [0.003, 0.3]
search: grid
metric: roc_auc
mode: max
selection: nested
"""


def test_nested_selection_searches_inside_each_outer_fold(
    embedded_ray, write_sweep, tmp_path: Path
) -> None:
    path = write_sweep(NESTED)
    result = run_sweep(path, out=tmp_path / "sweep")
    folder = result.folder

    # the outer folds, as an ordinary run of the base spec splits every sample
    folds = cv_folds(tmp_path / "base.yaml")
    lrs = [0.003, 0.3]

    assert [o.fold for o in result.outer] == [0, 1]
    for outer in result.outer:
        k = outer.fold
        assert len(outer.trials) == 2 and all(t.ok for t in outer.trials)
        inner = {}
        for trial in outer.trials:
            trial_dir = folder / "folds" / str(k) / "trials" / trial.name
            spec = load_spec(trial_dir / "spec.resolved.yaml")
            assert spec.data.samples == folds[k][0]  # the outer training samples only
            inner[trial.values["train.optimizer.lr"]] = summary(trial_dir)["roc_auc"]["mean"]
        chosen = max(lrs, key=lambda lr: inner[lr])  # the better inner CV score
        assert outer.chosen.values == {"train.optimizer.lr": chosen}
        assert outer.chosen.mean == inner[chosen]
        # scored by fold k of a run of the chosen values on every sample: trained on the
        # outer training samples, tested on the outer test samples
        outer_run = folder / "outer" / outer.run
        assert load_spec(outer_run / "spec.resolved.yaml").train.optimizer.lr == chosen
        predictions = pd.read_csv(outer_run / "predictions.csv")
        assert list(predictions.loc[predictions["fold"] == k, "sample"]) == folds[k][1]
        metrics = json.loads((outer_run / "metrics.json").read_text(encoding="utf-8"))
        assert outer.score == metrics["folds"][k]["metrics"]["roc_auc"]

    table = pd.read_csv(folder / "nested.csv", float_precision="round_trip")
    assert list(table["fold"]) == [0, 1]
    assert list(table["outer_roc_auc"]) == [o.score for o in result.outer]
    trials = pd.read_csv(folder / "trials.csv")
    assert sorted(trials["fold"]) == [0, 0, 1, 1]
    scores = [o.score for o in result.outer]
    text = (folder / "report.md").read_text(encoding="utf-8")
    mean, sd = sum(scores) / 2, abs(scores[0] - scores[1]) / 2**0.5
    assert f"Outer score: roc_auc {mean:.4f} ± {sd:.4f} over 2 outer folds" in text
    assert (
        load_spec(folder / "best.yaml").train.optimizer.lr
        == result.best.values["train.optimizer.lr"]
    )


RESUMED = """\
parameters:
  train.optimizer.lr: [0.01, 0.03, 0.1]
search: grid
metric: roc_auc
mode: max
max_concurrent: 1
"""


def test_an_interrupted_sweep_resumes_keeping_its_finished_trials(
    embedded_ray, write_sweep, tmp_path: Path
) -> None:
    path, out = write_sweep(RESUMED), tmp_path / "sweep"
    work = work_folder(out)
    sweep = subprocess.Popen(
        [sys.executable, "-m", "pknet", "sweep", str(path), "--out", str(out), "--cpus", "1"],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list(work.glob("trials/*/run.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    sweep.send_signal(signal.SIGINT)  # Ctrl-C once a trial has finished
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, stderr[-3000:]
    assert f"--resume {out}" in stderr and not out.exists()
    finished = {p.parent.name: p.read_bytes() for p in work.glob("trials/*/run.json")}
    assert finished

    with pytest.raises(SweepError, match="an interrupted sweep is here"):
        run_sweep(path, out=out)  # not without --resume
    with pytest.raises(SweepError, match="no interrupted sweep to resume"):
        run_sweep(path, out=tmp_path / "elsewhere", resume=True)

    result = run_sweep(path, out=out, resume=True)
    assert not work.exists()
    table = pd.read_csv(out / "trials.csv", float_precision="round_trip")
    assert sorted(table["train.optimizer.lr"]) == [0.01, 0.03, 0.1]
    assert (table["status"] == "ok").all() and len(result.trials) == 3
    for name, marker in finished.items():  # kept as they were, not run again
        assert (out / "trials" / name / "run.json").read_bytes() == marker
    for row in table.itertuples():
        require_complete(out / "trials" / row.trial, RUN_OUTPUT)
        assert summary(out / "trials" / row.trial)["roc_auc"]["mean"] == row.roc_auc_mean
        recorded = json.loads((out / "trials" / row.trial / "manifest.json").read_text())
        if row.trial in finished:  # read back: the seconds its run recorded
            assert row.seconds == pytest.approx(sum(recorded["timings_s"].values()))
        assert row.seconds >= sum(recorded["timings_s"].values()) - 0.01  # rounded to ms
