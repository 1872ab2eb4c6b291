"""The node2vec example, shortened: it runs end to end, scores held-out cells as `predict`
scores new cells, trains the same folds one at a time as together, and reports bad values as
located errors."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

import pknet
from pknet.api import train_and_evaluate
from pknet.cli import app
from pknet.compiler.model.graph_model import SampleGraphModel
from pknet.compiler.model.layers.node2vec import Node2vecLayer
from pknet.compiler.model.run_plan import sample_graph_plan
from pknet.runtime.train_graph import predict_new_samples

pytestmark = pytest.mark.slow  # end-to-end runs

EXAMPLE = Path(__file__).parents[2] / "examples" / "gnn_celltype"
QUICK = {
    "train.epochs": 60,
    "evaluate.cv.folds": 2,
    "model.layers": [
        {"kind": "node2vec", "dimensions": 16, "walk_length": 10, "walks_per_node": 4, "q": 0.5},
        {"kind": "dense", "units": 10},
    ],
}
runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> pknet.RunResult:
    out = tmp_path_factory.mktemp("node2vec") / "run"
    return pknet.run(EXAMPLE / "node2vec.yaml", QUICK, out=out)


def test_a_quick_node2vec_run_scores_cell_types_from_the_graph(run) -> None:
    model = run.outcome.trained.model(0)
    assert isinstance(model, SampleGraphModel) and isinstance(model.layers[0], Node2vecLayer)
    assert run.outcome.program.n_parameters == 16 * 10 + 10  # the dense head only
    summary = run.metrics["summary"]
    assert 0.75 < summary["roc_auc"]["mean"] <= 1.0  # chance: 0.5
    assert (run.run_dir / "folds" / "1" / "model.eqx").is_file()


def test_predict_scores_new_cells_as_the_cross_validation_scored_held_out_cells(run) -> None:
    outcome = run.outcome
    x = outcome.dataset.x
    for fold, split in enumerate(outcome.splits):
        stats = jax.tree.map(lambda a, k=fold: np.asarray(a)[k], outcome.stats)
        scores = predict_new_samples(
            sample_graph_plan(outcome.program.spec),
            outcome.trained.model(fold),
            outcome.program.loss,
            x[outcome.graphs.train_rows[fold]],
            x[split.test],
            stats,
            fold,
        )
        np.testing.assert_allclose(scores, outcome.test_scores[fold], rtol=1e-3, atol=1e-4)


def test_folds_trained_one_at_a_time_equal_folds_trained_together(run) -> None:
    spec = pknet.load_spec(EXAMPLE / "node2vec.yaml", {**QUICK, "train.vmap_folds": False})
    looped = train_and_evaluate(spec)
    params = (run.outcome.trained.params, looped.trained.params)
    for a, b in zip(*(jax.tree.leaves(p) for p in params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    for a, b in zip(run.outcome.test_scores, looped.test_scores, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_a_bad_value_is_a_located_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"extends: {EXAMPLE / 'node2vec.yaml'}\n"
        "model:\n"
        "  layers:\n"
        "    - {kind: node2vec, q: -1}\n"
        "    - {kind: dense, units: 10}\n"
    )
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "spec.yaml:4:27: model.layers[0].q: Input should be greater than 0" in result.output
    assert not (tmp_path / "run").exists()


def test_more_samples_than_the_walks_can_number_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pknet.compiler.model.graph_model.MAX_NODES", 500)  # the data: 700 cells
    result = runner.invoke(
        app, ["run", str(EXAMPLE / "node2vec.yaml"), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "node2vec.yaml" in result.output and "model.layers[0]" in result.output
    assert "700 nodes; this layer takes at most 500" in result.output
    assert not (tmp_path / "run").exists()
