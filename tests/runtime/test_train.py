"""Fold-vmapped training: equals fold-by-fold training, restores the best epoch, reproduces."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest

import pknet
from pknet.api import train_and_evaluate
from pknet.compiler.model.base import group_arrays
from pknet.runtime.run import RunError, fold_rows, stopping_rule
from pknet.runtime.train import (
    PURPOSE_INIT,
    PURPOSE_SHUFFLE,
    init_folds,
    stream_key,
    which_models,
)


def leaves(trained) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(trained.params)]


@pytest.mark.slow
def test_vmapped_folds_equal_fold_by_fold_training(quick, quick_run) -> None:
    together = quick_run
    looped = train_and_evaluate(quick({"train.vmap_folds": False}))
    for a, b in zip(leaves(together.trained), leaves(looped.trained), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(together.trained.best_epoch, looped.trained.best_epoch)


@pytest.mark.slow
def test_folds_drawn_together_equal_each_fold_built_from_its_own_key(quick_run) -> None:
    program = quick_run.program
    optimizer = program.optimizer(steps_per_epoch=3)
    params, static, _, streams = init_folds(
        program.init_model, optimizer, seed=7, members=[(0, 0), (0, 3)]
    )
    for position, fold in enumerate([0, 3]):
        alone = program.init_model(stream_key(7, PURPOSE_INIT, fold))
        mine = eqx.combine(jax.tree.map(lambda a, k=position: a[k], params), static)
        assert bool(eqx.tree_equal(mine, alone))
        np.testing.assert_array_equal(
            jax.random.key_data(streams[position]),
            jax.random.key_data(stream_key(7, PURPOSE_SHUFFLE, fold)),
        )


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other_weights(quick, quick_run) -> None:
    first, second = quick_run, train_and_evaluate(quick())
    for a, b in zip(leaves(first.trained), leaves(second.trained), strict=True):
        np.testing.assert_array_equal(a, b)
    other = train_and_evaluate(quick({"seed": 1}))
    weight = first.trained.params.layers[0].weight
    assert not np.allclose(weight, other.trained.params.layers[0].weight)


@pytest.mark.slow
def test_early_stopping_restores_the_best_validation_epoch(quick) -> None:
    spec = quick(
        {
            "train.epochs": 30,
            "train.optimizer.lr": 0.05,
            "train.early_stopping": {"monitor": "val_loss", "patience": 3},
        }
    )
    outcome = train_and_evaluate(spec)
    trained = outcome.trained
    for k, history in enumerate(trained.history):
        val = np.asarray(history["val_loss"])
        assert len(val) == trained.epochs_run[k]
        assert trained.best_epoch[k] == int(np.argmin(val)) + 1
        stopped_early = trained.epochs_run[k] < 30
        if stopped_early:
            assert trained.epochs_run[k] - trained.best_epoch[k] == 3  # patience
    # the restored model scores its validation rows exactly as at its best epoch
    x = outcome.dataset.x
    fold = 0
    val_rows = _val_rows(outcome, fold)
    stats = jax.tree.map(lambda a: np.asarray(a)[fold], outcome.stats)
    model = trained.model(fold)
    inputs = (x[val_rows] - stats.shift) / stats.scale
    logits = jax.vmap(model)(inputs)
    weight = np.ones(len(val_rows), np.float32)
    val_loss = outcome.program.loss.total(
        model, logits, inputs, outcome.dataset.y[val_rows], weight, group_arrays
    )
    best = trained.history[fold]["val_loss"][trained.best_epoch[fold] - 1]
    np.testing.assert_allclose(float(val_loss), best, rtol=1e-5)
    assert isinstance(model, eqx.Module)


def _val_rows(outcome, fold: int) -> np.ndarray:
    plan = outcome.plan
    rows = fold_rows(plan, outcome.splits, outcome.dataset.y, stopping_rule(plan, "binary"))
    return rows.val[fold]


H5AD = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "data" / "pbmc68k_reduced.h5ad"


@pytest.mark.parametrize(
    "target, head, evaluate, message",
    [
        (  # ten cell types: one score per class, which r2 does not compare with a label
            "{obs: bulk_labels}",
            "{kind: dense, units: 10}]}\nloss: ce",
            "{metrics: [accuracy, r2]}",
            "evaluate.metrics[1]: `r2` does not score a multiclass target",
        ),
        (  # a numeric obs column: a regression target
            "{obs: percent_mito}",
            "{kind: dense, units: 1}]}\nloss: mse",
            "{cv: {kind: kfold}, metrics: [roc_auc]}",
            "evaluate.metrics[0]: `roc_auc` does not score a regression target",
        ),
    ],
)
def test_a_metric_that_does_not_fit_the_task_fails_before_training(
    tmp_path: Path, target: str, head: str, evaluate: str, message: str
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"version: 1\nname: t\ndata:\n  expression: {{file: {H5AD}, layer: raw}}\n"
        f"  target: {target}\nmodel: {{layers: [{head}\nevaluate: {evaluate}\n"
    )
    with pytest.raises(RunError) as caught:
        train_and_evaluate(pknet.load_spec(spec))
    assert message in caught.value.format()
    assert caught.value.problems[0].location.line == 8  # the `evaluate` line


@pytest.mark.slow
def test_a_monitor_undefined_in_every_epoch_is_an_error_not_the_initial_weights(quick) -> None:
    # one validation row per fold: its ROC-AUC is undefined, so no epoch can be the best
    spec = quick(
        {
            "train.validation_fraction": 0.001,
            "train.early_stopping": {"monitor": "val_roc_auc", "patience": 2},
        }
    )
    with pytest.raises(RunError) as caught:
        train_and_evaluate(spec)
    text = caught.value.format()
    assert "train.early_stopping.monitor: `val_roc_auc` was undefined (NaN) in every epoch" in text


def test_training_errors_name_folds_or_seed_and_fold() -> None:
    assert which_models([(0, 1), (0, 3)]) == "fold(s) [1, 3]"
    assert which_models([(0, 2), (1, 2)]) == "model(s) seed 0 fold 2, seed 1 fold 2"
