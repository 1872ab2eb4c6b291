"""Repeated, grouped and holdout evaluation end to end on a tiny KPNN: what metrics.json,
predictions.csv, report.md and the terminal say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from typer.testing import CliRunner

import pknet
from pknet.api import run, train_and_evaluate
from pknet.cli import app
from pknet.runtime.artifacts import predictions

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "matrices" / "pbmc68k_40x50.h5ad"
TINY = f"""extends: {ROOT / "examples" / "kpnn_tcr" / "spec.yaml"}
name: tiny-cv
data:
  expression: {{file: {DATA}, layer: lognorm}}
train: {{epochs: 3, early_stopping: null}}
explain: []
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cv") / "spec.yaml"
    path.write_text(TINY)
    return path


@pytest.mark.slow
def test_repeated_kfold_scores_the_mean_over_repeats(tiny: Path) -> None:
    cv = {"kind": "repeated_kfold", "folds": 2, "repeats": 3}
    outcome = train_and_evaluate(pknet.load_spec(tiny, {"evaluate.cv": cv}))
    doc, y = outcome.metrics_document(), outcome.dataset.y
    assert len(outcome.splits) == 6 and [f["repeat"] for f in doc["folds"]] == [0, 0, 1, 1, 2, 2]
    n = len(y)
    per_repeat = np.zeros((3, n))
    for m, split in enumerate(outcome.splits):
        per_repeat[m // 2, split.test] = outcome.test_scores[m]
    expected = skm.roc_auc_score(y, per_repeat.mean(axis=0))
    assert doc["out_of_fold"]["n"] == n
    assert doc["out_of_fold"]["predictions"] == "mean over repeats"
    assert doc["out_of_fold"]["metrics"]["roc_auc"] == pytest.approx(expected)
    repeat_aucs = [skm.roc_auc_score(y, scores) for scores in per_repeat]
    assert [r["out_of_fold"]["metrics"]["roc_auc"] for r in doc["per_repeat"]] == pytest.approx(
        repeat_aucs
    )
    assert doc["repeat_summary"]["roc_auc"]["sd"] == pytest.approx(np.std(repeat_aucs, ddof=1))
    table = predictions(outcome)
    assert len(table) == 3 * n and list(table.columns[:3]) == ["sample", "repeat", "fold"]
    assert (table.groupby("repeat")["sample"].nunique() == n).all()  # each repeat: every sample


DENSE_BY_CLUSTER = f"""version: 1
name: tiny-groups
data:
  expression: {{file: {DATA}, layer: lognorm}}
  target: {{obs: phase}}
  transform: [standardize]
model: {{layers: [{{kind: dense, units: 3}}]}}
loss: ce
train: {{epochs: 3}}
evaluate:
  cv: {{kind: leave_one_group_out, groups: louvain}}
  metrics: [accuracy, balanced_accuracy, mcc, log_loss]
explain: []
"""


@pytest.mark.slow
def test_grouped_run_writes_groups_and_multiclass_per_class_table(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(DENSE_BY_CLUSTER)
    result = run(spec, out=tmp_path / "run")
    table = pd.read_csv(tmp_path / "run" / "predictions.csv", dtype={"group": str})
    for _, fold in table.groupby("fold"):
        assert fold["group"].nunique() == 1  # one louvain cluster per held-out fold
    assert table.groupby("group")["fold"].nunique().eq(1).all()
    doc = json.loads((tmp_path / "run" / "metrics.json").read_text())
    per_class = doc["out_of_fold"]["per_class"]
    assert set(per_class) == set(result.outcome.dataset.classes)
    assert sum(row["support"] for row in per_class.values()) == len(table)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "### Per class (one against the rest)" in report and "| balanced_accuracy |" in report


@pytest.mark.slow
def test_holdout_shows_single_values_not_nan_spreads(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "holdout"
    result = CliRunner().invoke(
        app,
        ["run", str(tiny), "--set", "evaluate.cv={kind: holdout}", "--out", str(out), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    assert "nan" not in result.output and "±" not in result.output.split("pooled")[0]
    report = (out / "report.md").read_text()
    assert "nan" not in report and "## Metrics (the held-out samples)" in report


def test_missing_group_column_exits_2(tiny: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", str(tiny), "--set", "evaluate.cv={kind: group_kfold, groups: donor}"]
    )
    assert result.exit_code == 2
    assert "evaluate.cv.groups" in result.output and "louvain" in result.output
