"""A GCN over a kNN graph of the genes built from the data, shortened: it trains per sample,
stores the graph, `predict` rebuilds the same models, and too large a `k` is a located error."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import pknet
from pknet.cli import app
from pknet.compiler.model.feature_graph import feature_graph, feature_points
from pknet.compiler.model.network_graph_model import NetworkGraphModel
from pknet.errors import CompileError, RunDirectoryError
from pknet.runtime.run_files import FEATURE_GRAPH_FILE, read_feature_graph
from pknet.runtime.transforms import apply_input_stats

pytestmark = pytest.mark.slow  # end-to-end runs

EXAMPLE = Path(__file__).parents[2] / "examples" / "gnn_celltype"
QUICK = {"train.epochs": 3, "evaluate.cv.folds": 2}
runner = CliRunner()


def _spec(tmp_path: Path, graph: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"extends: {EXAMPLE / 'dense.yaml'}\n"
        "model:\n"
        f"  graph: {graph}\n"
        "  layers:\n"
        "    - {kind: gcn, units: 4}\n"
        "    - {kind: dense, units: 10}\n"
    )
    return path


def test_quick_feature_knn_gcn_run_stores_the_graph_and_predicts(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "{kind: knn, over: features, k: 5, readout: mean}")
    result = pknet.run(spec, QUICK, out=tmp_path / "run")
    outcome = result.outcome
    model = outcome.trained.model(0)
    assert isinstance(model, NetworkGraphModel) and outcome.graphs is None
    stored = read_feature_graph(result.run_dir / FEATURE_GRAPH_FILE, 765)
    assert stored.n_nodes == 765 and stored.n_edges == len(model.senders) >= 765 * 5
    np.testing.assert_array_equal(stored.senders, model.senders)
    np.testing.assert_array_equal(stored.receivers, model.receivers)

    new = pknet.predict(result.run_dir, EXAMPLE / "data" / "pbmc68k_reduced.h5ad")
    want = []
    for k in range(2):
        stats = jax.tree.map(lambda a, k=k: jnp.asarray(a)[k], outcome.stats)
        logits = jax.vmap(outcome.trained.model(k))(apply_input_stats(outcome.dataset.x, stats))
        want.append(np.asarray(jax.nn.softmax(logits)))
    got = new.filter(like="score_").to_numpy()
    np.testing.assert_allclose(got, np.mean(want, axis=0), rtol=1e-4, atol=1e-6)

    stored_file = result.run_dir / FEATURE_GRAPH_FILE
    np.savez(stored_file, n_nodes=764, senders=stored.senders, receivers=stored.receivers)
    with pytest.raises(RunDirectoryError) as caught:  # predict reads it through the same reader
        pknet.predict(result.run_dir, EXAMPLE / "data" / "pbmc68k_reduced.h5ad")
    (problem,) = caught.value.problems
    assert (str(problem.location), problem.path) == (str(stored_file), "n_nodes")
    assert problem.message == "764 nodes, but the model has 765 features (one node each)"


def test_a_cosine_graph_over_features_links_similar_columns_both_ways(tmp_path: Path) -> None:
    spec = pknet.load_spec(_spec(tmp_path, "{kind: cosine, over: features, threshold: 0.8}"))
    x = np.array([[1.0, 1.1, 0.0, 0.0], [0.0, 0.1, 1.0, 1.0], [np.nan, 0.0, 1.0, 0.9]])
    np.testing.assert_allclose(feature_points(x)[0], [1.0, 0.0, 0.5])  # NaN: the column mean
    graph = feature_graph(spec, x, ("a", "b", "c", "d"))
    pairs = set(zip(graph.senders.tolist(), graph.receivers.tolist(), strict=True))
    assert pairs == {(0, 1), (1, 0), (2, 3), (3, 2)}
    x[:, 3] = 0
    with pytest.raises(CompileError, match=r"undefined for 1 all-zero feature\(s\): d"):
        feature_graph(spec, x, ("a", "b", "c", "d"))


def test_k_as_large_as_the_features_is_a_located_error(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "{kind: knn, over: features, k: 765}")
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "spec.yaml:3:41: model.graph.k: k = 765 neighbours need more than k features" in (
        result.output
    )
    assert not (tmp_path / "run").exists()
