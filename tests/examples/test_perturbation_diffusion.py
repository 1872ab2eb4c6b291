"""The perturbation-diffusion example: its data are CellBox's, and a shortened run (3 folds in
place of leave-one-out) scores all 99 responses, with the metric written in Python."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

import pknet

pytestmark = pytest.mark.slow  # end-to-end runs

EXAMPLE = Path(__file__).parents[2] / "examples" / "perturbation_diffusion"
CELLBOX = Path("/work/shared/data/cellbox")  # the source, where this machine has it
THREE_FOLDS = {"evaluate.cv": {"kind": "kfold", "folds": 3}}


@pytest.mark.skipif(not CELLBOX.is_dir(), reason="the CellBox source files are not here")
@pytest.mark.parametrize("name", ["pert", "expr"])
def test_data_are_the_cellbox_files_with_a_header(name: str) -> None:
    converted = pd.read_csv(EXAMPLE / "data" / f"{name}.csv", index_col="condition")
    source = np.loadtxt(CELLBOX / f"{name}.csv", delimiter=",")
    nodes = (CELLBOX / "node_Index.csv").read_text().split()
    assert list(converted.columns) == nodes
    np.testing.assert_array_equal(converted.to_numpy(), source)


@pytest.mark.parametrize("spec", ["spec.yaml", "baseline.yaml", "pca.yaml"])
def test_example_runs_and_scores_every_node(spec: str, tmp_path: Path) -> None:
    result = pknet.run(EXAMPLE / spec, THREE_FOLDS, out=tmp_path / "run")
    doc = result.metrics
    assert len(doc["targets"]) == 99 and doc["n_samples"] == 89
    pooled = doc["out_of_fold"]
    assert pooled["n"] == 89 and set(pooled["metrics"]) == {"pearson", "r2", "mse", "spearman"}
    assert pooled["across_tasks"]["pearson"]["mean"] > 0.6
    assert len(pooled["per_task"]["spearman"]) == 99

    # `pknet predict` rebuilds the models (the diffusion from the run's network) and averages them
    table = pknet.predict(result.run_dir, EXAMPLE / "data" / "pert.csv")
    x = result.outcome.dataset.x
    trained = result.outcome.trained
    mean = np.mean([jax.vmap(trained.model(k))(x) for k in range(3)], axis=0)
    nodes = result.outcome.dataset.targets
    assert list(table.columns) == ["sample", *(f"score_{node}" for node in nodes)]
    np.testing.assert_allclose(table.iloc[:, 1:].to_numpy(), mean, rtol=1e-5, atol=1e-6)
