"""What a run reports while it works: epochs with the numbers the run records, stages in order,
and the pruning solve's progress ending on the numbers of its report."""

from __future__ import annotations

import numpy as np
import pytest

from pknet.api import compile_spec, train_and_evaluate
from pknet.compiler.network.solve_progress import showing_solve_progress


@pytest.fixture(scope="module")
def reported(quick):
    """A quick run monitoring a metric, with importances and the shuffled-prior control."""
    epochs, stages = [], []
    spec = quick(
        {
            "train.epochs": 5,
            "train.early_stopping": {"monitor": "val_roc_auc", "patience": 2},
            "explain": {"methods": ["bias"], "control": "shuffled"},
        }
    )
    outcome = train_and_evaluate(
        spec, on_epoch=epochs.append, on_stage=lambda *stage: stages.append(stage)
    )
    return outcome, epochs, stages


@pytest.mark.slow
def test_each_epoch_reports_the_losses_and_the_monitored_metric_the_run_uses(reported) -> None:
    outcome, epochs, _ = reported
    trained, n_folds = outcome.trained, len(outcome.splits)
    main = epochs[: int(trained.epochs_run.max())]  # the control's epochs follow
    assert [r.epoch for r in main] == list(range(1, len(main) + 1))
    for k in range(n_folds):
        history = trained.history[k]
        mine = [r for r in main if r.active[k]]
        assert [r.train_loss[k] for r in mine] == pytest.approx(history["train_loss"])
        assert [r.val_loss[k] for r in mine] == pytest.approx(history["val_loss"])
        assert all(r.monitor == "val_roc_auc" for r in mine)
        auc = [r.monitored[k] for r in mine]
        assert trained.best_epoch[k] == int(np.argmax(auc)) + 1  # what early stopping chose


@pytest.mark.slow
def test_stages_arrive_in_order_with_their_counts(reported) -> None:
    outcome, _, stages = reported
    models = len(outcome.splits)
    names = list(dict.fromkeys(name for name, _, _ in stages))
    assert names == [
        "training",
        "scoring the held-out samples",
        "explaining",
        "training the shuffled-prior control",
        "explaining the control",
    ]
    assert stages[0] == ("training", 0, 5)
    explaining = [(done, total) for name, done, total in stages if name == "explaining"]
    assert explaining == [(m, models) for m in range(models + 1)]


def test_the_solve_reports_its_final_objective_bound_and_gap(example_path) -> None:
    seen = []
    with showing_solve_progress(seen.append):
        compiled = compile_spec(example_path)
    report = compiled.pruning.report
    last = seen[-1]
    assert (last.incumbent, last.bound, last.gap) == pytest.approx(
        (report.objective, report.best_bound, report.gap)
    )
    assert "incumbent 681" in last.describe()  # the example's proven optimum, cvxpy's offset in
