"""A sweep's figures and their place in report.md, drawn from trial records (no Ray)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pknet.specs.sweep import load_sweep
from pknet.sweeps.figures import (
    best_so_far,
    plot_parameter,
    plot_progress,
    write_figures,
)
from pknet.sweeps.outputs import report, trials_table
from pknet.sweeps.space import search_parameters
from pknet.sweeps.tuner import TrialRecord

SWEEP = """\
parameters:
  train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}
  loss: ["bce", "bce + 1e-3 * l1(bias)"]
  train.epochs: {int_uniform: [2, 5]}
search: random
trials: 5
metric: roc_auc
mode: max
"""
LR, LOSS, EPOCHS = "train.optimizer.lr", "loss", "train.epochs"
RECORDS = [
    TrialRecord("t0", {LR: 1e-3, LOSS: "bce", EPOCHS: 2}, 0.6, 0.1, 1.0),
    TrialRecord("t1", {LR: 3e-2, LOSS: "bce + 1e-3 * l1(bias)", EPOCHS: 5}, 0.8, 0.05, 1.0),
    TrialRecord("t2", {LR: 1e-4, LOSS: "bce", EPOCHS: 3}, math.nan, math.nan, math.nan, "boom"),
    TrialRecord("t3", {LR: 1e-2, LOSS: "bce", EPOCHS: 4}, 0.7, 0.0, 1.0),
]


@pytest.mark.parametrize("mode", ["max", "min"])
def test_best_so_far_skips_failed_trials(mode: str) -> None:
    scores = pd.Series([math.nan, 0.6, 0.8, math.nan, 0.7, 0.5])
    pick = max if mode == "max" else min
    expected = [
        math.nan
        if all(math.isnan(v) for v in scores[: i + 1])
        else pick(v for v in scores[: i + 1] if not math.isnan(v))
        for i in range(len(scores))
    ]
    np.testing.assert_array_equal(best_so_far(scores, mode), expected)


def test_figures_plot_each_parameter_and_the_progress(write_sweep, tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(SWEEP))
    parameters = search_parameters(sweep.settings)
    table = trials_table(sweep, RECORDS)
    lr, loss, _ = parameters

    fig = plot_parameter(table, lr, "roc_auc", tmp_path / "lr.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"  # a log_uniform range
    points = np.asarray(ax.lines[0].get_xydata())  # the successful trials only
    np.testing.assert_array_equal(points, [[1e-3, 0.6], [3e-2, 0.8], [1e-2, 0.7]])

    fig = plot_parameter(table, loss, "roc_auc", tmp_path / "loss.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bce", "bce + 1e-3 * l1(bias)"]
    np.testing.assert_array_equal(np.asarray(ax.lines[0].get_xydata())[:, 0], [0, 1, 0])

    fig = plot_progress(table, "roc_auc", "max", tmp_path / "progress.png")
    best = fig.axes[0].lines[0].get_ydata()
    np.testing.assert_array_equal(best, [0.6, 0.8, 0.8, 0.8])

    paths = write_figures(table, parameters, "roc_auc", "max", tmp_path / "figures")
    assert [p.name for p in paths] == [
        "metric_vs_train.optimizer.lr.png",
        "metric_vs_loss.png",
        "metric_vs_train.epochs.png",
        "progress.png",
    ]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
    shown = [f"figures/{p.name}" for p in paths]
    text = report(sweep, table, RECORDS[1], figures=shown)
    assert "![progress](figures/progress.png)" in text
    assert "![metric_vs_loss](figures/metric_vs_loss.png)" in text
