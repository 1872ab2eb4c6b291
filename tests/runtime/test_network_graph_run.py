"""The gene-network GCN example, shortened: it trains per sample, predicts new cells, and a
network node without data is a located error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pknet
from pknet.cli import app
from pknet.compiler.model.network_graph_model import NetworkGraphModel

pytestmark = pytest.mark.slow  # end-to-end runs

EXAMPLE = Path(__file__).parents[2] / "examples" / "gnn_celltype"
QUICK = {"train.epochs": 3, "evaluate.cv.folds": 2}
runner = CliRunner()


def test_quick_network_gcn_run_trains_and_predicts_new_cells(tmp_path: Path) -> None:
    result = pknet.run(EXAMPLE / "network_gcn.yaml", QUICK, out=tmp_path / "run")
    outcome = result.outcome
    assert isinstance(outcome.trained.model(0), NetworkGraphModel)
    assert outcome.dataset.x.shape == (700, 66) and outcome.graphs is None
    assert 0.5 < result.metrics["summary"]["roc_auc"]["mean"] <= 1.0
    new = pknet.predict(result.run_dir, EXAMPLE / "data" / "pbmc68k_reduced.h5ad")
    assert len(new) == 700 and set(new["prediction"]) <= set(outcome.dataset.classes)
    np.testing.assert_allclose(new.filter(like="score_").sum(axis=1), 1.0, rtol=1e-4)


def test_a_network_node_missing_in_the_data_is_a_located_error(tmp_path: Path) -> None:
    edges = pd.read_csv(EXAMPLE / "data" / "dorothea_abc_pbmc68k.tsv", sep="\t")
    extra = pd.DataFrame({"tf": ["SPI1"], "confidence": ["A"], "target": ["NOT_A_GENE"]})
    pd.concat([edges, extra]).to_csv(tmp_path / "edges.tsv", sep="\t", index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"extends: {EXAMPLE / 'network_gcn.yaml'}\n"
        "network:\n"
        f"  edges: {{file: {tmp_path / 'edges.tsv'}, from: tf, to: target}}\n"
        "  outputs: all\n"
    )
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "model.graph: graph node missing in the data" in result.output
    assert "NOT_A_GENE" in result.output and "network_gcn.yaml:17:" in result.output
    assert not (tmp_path / "run").exists()
