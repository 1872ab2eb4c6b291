"""The GNN cell-type example, shortened: sample-graph training is fold-safe, reproducible,
scores held-out cells like `predict`, and reports bad graphs as located errors."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pknet
from pknet.api import train_and_evaluate
from pknet.cli import app
from pknet.compiler.dataset import load_dataset
from pknet.compiler.model.graph_model import SampleGraphModel
from pknet.compiler.model.program import build_program
from pknet.compiler.model.run_plan import build_run_plan, sample_graph_plan
from pknet.errors import CompileError
from pknet.runtime.run import _train, fold_rows, fold_stats, stopping_rule
from pknet.runtime.run_files import GRAPH_INPUTS_FILE
from pknet.runtime.sample_graph import sample_graphs
from pknet.runtime.splits import make_splits
from pknet.runtime.train_graph import predict_new_samples

pytestmark = pytest.mark.slow  # end-to-end runs

EXAMPLE = Path(__file__).parents[2] / "examples" / "gnn_celltype"
QUICK = {"train.epochs": 15, "evaluate.cv.folds": 2}
runner = CliRunner()


@pytest.fixture(scope="module")
def gcn_run(tmp_path_factory: pytest.TempPathFactory) -> pknet.RunResult:
    return pknet.run(EXAMPLE / "spec.yaml", QUICK, out=tmp_path_factory.mktemp("gcn") / "run")


def test_quick_gcn_run_scores_cell_types_and_writes_its_run_directory(gcn_run) -> None:
    outcome = gcn_run.outcome
    summary = gcn_run.metrics["summary"]
    assert outcome.dataset.task == "multiclass" and len(outcome.dataset.classes) == 10
    assert 0.8 < summary["roc_auc"]["mean"] <= 1.0
    assert 0.4 < summary["accuracy"]["mean"] <= 1.0
    assert isinstance(outcome.trained.model(0), SampleGraphModel)
    graphs = outcome.graphs
    assert graphs is not None and np.all(graphs.n_edges == 700 * 15)  # k edges into each row
    for name in ("predictions.csv", GRAPH_INPUTS_FILE, "folds/1/model.eqx", "report.md"):
        assert (gcn_run.run_dir / name).is_file(), name
    predictions = pd.read_csv(gcn_run.run_dir / "predictions.csv")
    assert len(predictions) == 700 and predictions["sample"].is_unique
    report = (gcn_run.run_dir / "report.md").read_text()
    assert "Graph: `knn` over samples, built per fold; edges per fold 10,500, 10,500." in report


def test_the_graph_trains_on_fit_rows_and_every_other_row_only_receives(gcn_run) -> None:
    graphs, k = gcn_run.outcome.graphs, 15
    for fold, train in enumerate(graphs.train_rows):
        senders, receivers, weights = (a[fold] for a in graphs.edge_arrays())
        real = weights != 0
        assert np.all(np.isin(senders[real], train))
        counts = np.bincount(receivers[real], minlength=700)
        assert np.all(counts == k)  # every row receives k edges, training rows from each other


def test_predict_scores_new_cells_as_the_cross_validation_scored_held_out_cells(gcn_run) -> None:
    outcome = gcn_run.outcome
    x = outcome.dataset.x
    for fold, split in enumerate(outcome.splits):
        stats = jax.tree.map(lambda a, k=fold: np.asarray(a)[k], outcome.stats)
        train_x = x[outcome.graphs.train_rows[fold]]
        scores = predict_new_samples(
            sample_graph_plan(outcome.program.spec),
            outcome.trained.model(fold),
            outcome.program.loss,
            train_x,
            x[split.test],
            stats,
            fold,
        )
        np.testing.assert_allclose(scores, outcome.test_scores[fold], rtol=1e-4, atol=1e-6)
    out = gcn_run.run_dir / "new.csv"
    data = EXAMPLE / "data" / "pbmc68k_reduced.h5ad"
    result = runner.invoke(app, ["predict", str(gcn_run.run_dir), str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) == 700 and table["prediction"].isin(outcome.dataset.classes).all()


def test_predict_names_missing_training_rows_of_a_fold(gcn_run, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(gcn_run.run_dir, copy)
    with np.load(copy / GRAPH_INPUTS_FILE) as stored:
        np.savez(copy / GRAPH_INPUTS_FILE, x=stored["x"], train_rows_0=stored["train_rows_0"])
    data = EXAMPLE / "data" / "pbmc68k_reduced.h5ad"
    result = runner.invoke(app, ["predict", str(copy), str(data), "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (
        f"{copy / GRAPH_INPUTS_FILE}: train_rows_1: missing array (the file holds train_rows_0, x)"
    ) in result.output


def test_same_seed_gives_identical_metrics(gcn_run, tmp_path: Path) -> None:
    again = pknet.run(EXAMPLE / "spec.yaml", QUICK, out=tmp_path / "again")
    first = json.loads((gcn_run.run_dir / "metrics.json").read_text())
    assert json.loads((again.run_dir / "metrics.json").read_text()) == first


def _pipeline(spec: pknet.Spec, x: np.ndarray | None = None):
    """The steps of `run_folds` up to training, optionally with other input values."""
    dataset = load_dataset(spec, None)
    if x is not None:
        dataset = dataclasses.replace(dataset, x=x)
    program = build_program(spec, None, dataset.x.shape[1], dataset.task, len(dataset.classes))
    plan = build_run_plan(spec)
    splits = make_splits(plan.cv, dataset.y, dataset.task, plan.seed)
    stopping = stopping_rule(plan, dataset.task)
    rows = fold_rows(plan, splits, dataset.y, stopping)
    stats = fold_stats(plan, dataset.x, rows)
    graphs = sample_graphs(sample_graph_plan(spec), dataset.x, rows.fit, stats)
    trained = _train(plan, program, dataset, rows, stats, stopping, None, graphs)
    return dataset, splits, graphs, trained


@pytest.mark.slow
def test_held_out_features_change_neither_the_training_graph_nor_the_trained_model() -> None:
    spec = pknet.load_spec(EXAMPLE / "gat.yaml", {**QUICK, "train.epochs": 5})
    dataset, splits, graphs, trained = _pipeline(spec)
    test = splits[0].test
    x = dataset.x.copy()
    x[test] = np.random.default_rng(0).permutation(x[test].ravel()).reshape(x[test].shape)
    _, _, moved_graphs, moved = _pipeline(spec, x)

    def into_training(g, fold):
        senders, receivers, weights = (a[fold] for a in g.edge_arrays())
        keep = np.isin(receivers, g.train_rows[fold]) & (weights != 0)
        return set(zip(senders[keep].tolist(), receivers[keep].tolist(), strict=True))

    assert into_training(graphs, 0) == into_training(moved_graphs, 0)
    for a, b in zip(jax.tree.leaves(trained.params), jax.tree.leaves(moved.params), strict=True):
        np.testing.assert_allclose(np.asarray(a)[0], np.asarray(b)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_folds_trained_one_at_a_time_equal_folds_trained_together() -> None:
    quick = {**QUICK, "train.epochs": 5}
    together = train_and_evaluate(pknet.load_spec(EXAMPLE / "gat.yaml", quick))
    looped = train_and_evaluate(
        pknet.load_spec(EXAMPLE / "gat.yaml", {**quick, "train.vmap_folds": False})
    )
    params = (together.trained.params, looped.trained.params)
    for a, b in zip(*(jax.tree.leaves(p) for p in params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(together.trained.best_epoch, looped.trained.best_epoch)


def _extend(tmp_path: Path, model_yaml: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(f"extends: {EXAMPLE / 'spec.yaml'}\ntrain: {{epochs: 2}}\n{model_yaml}")
    return path


def test_k_too_large_for_a_fold_is_a_located_error(tmp_path: Path) -> None:
    spec = _extend(tmp_path, "evaluate: {cv: {folds: 2}}\nmodel:\n  graph: {k: 400}\n")
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "spec.yaml:5:14: model.graph.k: k = 400 neighbours need more than k training" in (
        result.output
    )
    assert "fold 0 trains on 315 rows" in result.output
    assert not (tmp_path / "run").exists()


def test_more_principal_components_than_a_fold_gives_is_a_located_error(tmp_path: Path) -> None:
    spec = pknet.load_spec(_extend(tmp_path, "model:\n  graph: {pca: 800}\n"))
    with pytest.raises(CompileError, match=r"`pca: 800` asks for more components") as info:
        train_and_evaluate(spec)
    assert info.value.problems[0].path == "model.graph.pca"
    assert info.value.problems[0].location.line == 4
