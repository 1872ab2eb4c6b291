"""`results.h5ad` of a run on `.h5ad` data holds what predictions.csv and importances.csv hold,
cell by cell and gene by gene; `pknet predict` on `.h5ad` writes the CSV's columns into obs."""

from __future__ import annotations

from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pknet.cli import app

pytestmark = pytest.mark.slow  # end-to-end runs

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "matrices" / "pbmc68k_40x50.h5ad"
LABELS = ROOT / "tests" / "data" / "matrices" / "pbmc68k_tcr_labels.csv"
TINY_KPNN = f"""extends: {ROOT / "examples" / "kpnn_tcr" / "spec.yaml"}
name: tiny-kpnn
data:
  expression: {{file: {DATA}, layer: lognorm}}
  target: {{obs: null, positive: null, file: {LABELS}, index: barcode, column: TCR}}
train: {{epochs: 2}}
evaluate: {{cv: {{kind: kfold, folds: 2}}}}
explain: [bias, gradient_x_input]
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KPNN run on 40 cells, 30 of them labelled: 2 folds of 2 epochs, with importances."""
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "spec.yaml").write_text(TINY_KPNN)
    out = folder / "run"
    result = runner.invoke(app, ["run", str(folder / "spec.yaml"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def test_obs_hold_the_out_of_fold_predictions(run_dir: Path) -> None:
    results = anndata.read_h5ad(run_dir / "results.h5ad")
    source = anndata.read_h5ad(DATA)
    assert list(results.obs_names) == list(source.obs_names)  # every cell, in the input's order
    np.testing.assert_array_equal(
        results.layers["lognorm"].toarray(), source.layers["lognorm"].toarray()
    )
    for column in source.obs.columns:
        pd.testing.assert_series_equal(results.obs[column], source.obs[column])
    csv = pd.read_csv(run_dir / "predictions.csv").set_index("sample")
    assert len(csv) == 30
    obs = results.obs.loc[csv.index]
    np.testing.assert_array_equal(obs["pknet_fold"], csv["fold"])
    np.testing.assert_allclose(obs["pknet_score"], csv["score"], rtol=1e-6)
    np.testing.assert_array_equal(obs["pknet_target"].astype(str), csv["target"].astype(str))
    predicted = np.where(csv["score"] >= 0.5, "1", "0")
    np.testing.assert_array_equal(obs["pknet_prediction"].astype(str), predicted)
    unlabelled = results.obs.drop(index=csv.index)
    assert len(unlabelled) == 10
    assert (unlabelled["pknet_fold"] == -1).all() and unlabelled["pknet_score"].isna().all()


def test_var_hold_each_input_genes_importance(run_dir: Path) -> None:
    results = anndata.read_h5ad(run_dir / "results.h5ad")
    table = pd.read_csv(run_dir / "importances.csv")
    grads = table[table["method"] == "gradient_x_input"].set_index("node")["mean"]
    genes = [node.removesuffix("_gene") for node in grads.index if node.endswith("_gene")]
    assert len(genes) == 44  # the 44 input genes among the 50 columns
    expected = grads.reindex([f"{gene}_gene" for gene in results.var_names]).to_numpy()
    np.testing.assert_allclose(results.var["pknet_gradient_x_input"], expected, rtol=1e-6)
    assert results.var["pknet_gradient_x_input"].notna().sum() == 44
    assert "pknet_bias" not in results.var  # inputs have no bias


def test_uns_hold_the_node_table_and_the_spec(run_dir: Path) -> None:
    results = anndata.read_h5ad(run_dir / "results.h5ad")
    about = results.uns["pknet"]
    assert about["name"] == "tiny-kpnn"
    assert about["spec"] == (run_dir / "spec.resolved.yaml").read_text()
    assert about["pknet_version"]
    table = pd.read_csv(run_dir / "importances.csv")
    assert sorted(about["importances"]) == sorted(table.columns)
    for column in table.columns:
        stored = about["importances"][column]
        if stored.dtype == object:  # text: the CSV reads an empty cell as NaN
            assert list(stored) == list(table[column].fillna("").astype(str)), column
        else:
            np.testing.assert_allclose(stored, table[column], rtol=1e-6)


def test_predict_on_anndata_writes_the_csv_columns_into_obs(run_dir: Path, tmp_path: Path) -> None:
    for out in ("p.csv", "p.h5ad"):
        result = runner.invoke(
            app, ["predict", str(run_dir), str(DATA), "--out", str(tmp_path / out)]
        )
        assert result.exit_code == 0, result.output
    csv = pd.read_csv(tmp_path / "p.csv").set_index("sample")
    adata = anndata.read_h5ad(tmp_path / "p.h5ad")
    assert list(adata.obs_names) == list(csv.index)
    assert [c for c in adata.obs.columns if c.startswith("pknet_")] == [
        f"pknet_{c}" for c in csv.columns
    ]
    for column in csv.columns:
        mine = adata.obs[f"pknet_{column}"]
        if not pd.api.types.is_float_dtype(csv[column]):
            assert list(mine.astype(str)) == list(csv[column].astype(str))
        else:
            np.testing.assert_allclose(mine, csv[column], rtol=1e-6)
    np.testing.assert_array_equal(adata.X, anndata.read_h5ad(DATA).X)


def test_var_importances_follow_a_var_names_column(tmp_path: Path) -> None:
    # the 40 cells with made-up ids as var_names and the symbols in a column
    adata = anndata.read_h5ad(DATA)
    symbols = adata.var_names.astype(str).tolist()
    adata.var["gene_short_name"] = symbols
    adata.var_names = [f"ENSG{i:011d}" for i in range(adata.n_vars)]
    adata.write_h5ad(tmp_path / "ids.h5ad")
    spec = TINY_KPNN.replace(
        f"{{file: {DATA}, layer: lognorm}}",
        f"{{file: {tmp_path / 'ids.h5ad'}, layer: lognorm, var_names: gene_short_name}}",
    )
    (tmp_path / "spec.yaml").write_text(spec)
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(tmp_path / "spec.yaml"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    results = anndata.read_h5ad(out / "results.h5ad")
    table = pd.read_csv(out / "importances.csv")
    grads = table[table["method"] == "gradient_x_input"].set_index("node")["mean"]
    expected = grads.reindex([f"{gene}_gene" for gene in symbols]).to_numpy()
    assert list(results.var_names) == list(adata.var_names)  # the file's own rows
    np.testing.assert_allclose(results.var["pknet_gradient_x_input"], expected, rtol=1e-6)
    assert results.var["pknet_gradient_x_input"].notna().sum() == 44
