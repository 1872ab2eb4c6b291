"""The AnnData results: obs from the predictions frame, var from the folded importances."""

from __future__ import annotations

from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest

from pknet.runtime import results_anndata
from pknet.runtime.results_anndata import (
    add_obs,
    gene_importances,
    input_anndata,
    predict_obs,
    prediction_obs,
)

DATA = Path(__file__).parents[1] / "data" / "matrices" / "pbmc68k_40x50.h5ad"


def test_binary_obs_have_fold_target_score_and_the_predicted_class() -> None:
    frame = pd.DataFrame(
        {
            "sample": ["a", "b", "c"],
            "fold": [0, 1, 0],
            "target": ["no", "yes", "yes"],
            "score": [0.2, 0.5, 0.9],
            "score_seed_0": [0.1, 0.4, 0.8],
            "score_seed_1": [0.3, 0.6, 1.0],
        }
    )
    obs = prediction_obs(frame, "binary", ("no", "yes"))
    assert list(obs.columns) == ["pknet_fold", "pknet_target", "pknet_score", "pknet_prediction"]
    assert list(obs.index) == ["a", "b", "c"]
    assert list(obs["pknet_prediction"]) == ["no", "yes", "yes"]  # score >= 0.5
    np.testing.assert_array_equal(obs["pknet_score"], frame["score"])


def test_multiclass_obs_name_the_class_of_largest_score() -> None:
    frame = pd.DataFrame(
        {
            "sample": ["a", "b"],
            "fold": [0, 1],
            "target": ["B", "C"],
            "score_A": [0.1, 0.7],
            "score_B/x": [0.6, 0.2],
            "score_C": [0.3, 0.1],
        }
    )
    obs = prediction_obs(frame, "multiclass", ("A", "B/x", "C"))
    assert list(obs.columns[:-1]) == ["pknet_" + c for c in frame.columns[1:]]
    assert list(obs["pknet_prediction"]) == ["B/x", "A"]
    adata = anndata.AnnData(obs=pd.DataFrame(index=["b", "a"]))
    add_obs(adata, obs)  # `/` is leaving h5ad keys
    assert "pknet_score_B_x" in adata.obs and list(adata.obs["pknet_score_B_x"]) == [0.2, 0.6]


def test_several_targets_give_a_target_and_a_score_per_task() -> None:
    frame = pd.DataFrame(
        {"sample": ["a"], "fold": [0], "target_t1": [1.0], "score_t1": [0.5], "target_t2": [2.0]}
    )
    frame["score_t2"] = 1.5
    obs = prediction_obs(frame, "regression", ())
    assert list(obs.columns) == [
        "pknet_fold",
        "pknet_target_t1",
        "pknet_score_t1",
        "pknet_target_t2",
        "pknet_score_t2",
    ]


def test_cells_without_a_prediction_get_fold_minus_one_and_nan() -> None:
    adata = anndata.AnnData(obs=pd.DataFrame(index=["c", "a", "unlabelled"]))
    frame = pd.DataFrame(
        {"sample": ["a", "c"], "fold": [1, 0], "target": ["no", "yes"], "score": [0.2, 0.7]}
    )
    add_obs(adata, prediction_obs(frame, "binary", ("no", "yes")))
    assert list(adata.obs["pknet_fold"]) == [0, 1, -1]
    assert adata.obs["pknet_fold"].dtype == np.int64
    np.testing.assert_array_equal(adata.obs["pknet_score"], [0.7, 0.2, np.nan])
    assert list(adata.obs["pknet_prediction"].astype(object).fillna("-")) == ["yes", "no", "-"]


def test_predict_obs_take_every_column_but_the_sample() -> None:
    table = pd.DataFrame(
        {"sample": ["a"], "score": [0.3], "score_fold_0": [0.2], "prediction": "x"}
    )
    obs = predict_obs(table)
    assert list(obs.columns) == ["pknet_score", "pknet_score_fold_0", "pknet_prediction"]
    assert list(obs.index) == ["a"]


def test_gene_importances_follow_each_genes_node() -> None:
    top = pd.DataFrame(
        {
            "method": ["gradient_x_input", "gradient_x_input", "activation_auc[CD4+/CD25]", "bias"],
            "node": ["A_gene", "B_gene", "A_gene", "hidden"],
            "mean": [0.5, 0.25, 0.75, 0.1],
        }
    )
    var = gene_importances(top, {"A": "A_gene", "B": "B_gene"}, ["B", "Z", "A"])
    # `bias` gives no gene a value: no column
    assert list(var.columns) == ["pknet_gradient_x_input", "pknet_activation_auc[CD4+_CD25]"]
    np.testing.assert_array_equal(var["pknet_gradient_x_input"], [0.25, np.nan, 0.5])
    np.testing.assert_array_equal(var["pknet_activation_auc[CD4+_CD25]"], [np.nan, np.nan, 0.75])


@pytest.mark.parametrize("large", [False, True])
def test_a_large_input_gives_obs_and_var_without_matrices(
    large: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if large:
        monkeypatch.setattr(results_anndata, "COPY_MAX_BYTES", DATA.stat().st_size - 1)
    adata = input_anndata(DATA)
    source = anndata.read_h5ad(DATA)
    pd.testing.assert_frame_equal(adata.obs, source.obs)
    pd.testing.assert_frame_equal(adata.var, source.var)
    assert (adata.X is None) == large and (len(adata.layers) == 0) == large
    adata.write_h5ad(tmp_path / "results.h5ad")  # an AnnData without X is valid on disk
    back = anndata.read_h5ad(tmp_path / "results.h5ad")
    assert back.shape == source.shape and (back.X is None) == large
