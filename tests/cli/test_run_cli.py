"""`pknet run` and `pknet predict`: the run directory, reproducibility, and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import pknet
from pknet.cli import app
from pknet.compiler.model.program import build_program

pytestmark = pytest.mark.slow  # end-to-end runs

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "kpnn_tcr" / "spec.yaml"
MATRICES = ROOT / "tests" / "data" / "matrices"
PKNET = Path(sys.executable).with_name("pknet")
QUICK = ["--set", "train.epochs=6", "--set", "evaluate.cv.folds=2"]
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "kpnn"
    result = runner.invoke(app, ["run", str(EXAMPLE), *QUICK, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_run_directory_holds_every_artifact(run_dir: Path) -> None:
    expected = [
        "run.json",
        "spec.resolved.yaml",
        "manifest.json",
        "model.json",
        "metrics.json",
        "predictions.csv",
        "importances.csv",
        "report.md",
        "network/edges.pruned.tsv",
        "network/report.json",
        "network/prune.mps",
        "figures/roc.png",
        "figures/training.png",
        "figures/importances_node_weights.png",
    ]
    for fold in ("0", "1"):
        expected += [
            f"folds/{fold}/model.eqx",
            f"folds/{fold}/stats.npz",
            f"folds/{fold}/history.csv",
        ]
    missing = [name for name in expected if not (run_dir / name).is_file()]
    assert not missing
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["device"]["platform"] == "cpu" and manifest["seed"] == 0
    assert all(len(digest) == 64 for digest in manifest["inputs"].values())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert len(metrics["folds"]) == 2
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert len(predictions) == 700 and set(predictions["fold"]) == {0, 1}
    importances = pd.read_csv(run_dir / "importances.csv")
    assert set(importances["method"]) == {"bias", "gradient_x_input", "node_weights"}
    assert not list(run_dir.parent.glob(".*tmp*"))  # no staging folder left behind


def test_the_runs_graphml_carries_the_importances(run_dir: Path) -> None:
    import networkx as nx

    graph = nx.read_graphml(run_dir / "network" / "network.graphml")
    edges = pd.read_csv(run_dir / "network" / "edges.pruned.tsv", sep="\t")
    assert set(graph.edges) == set(zip(edges["from"], edges["to"], strict=True))
    importances = pd.read_csv(run_dir / "importances.csv")
    for row in importances.itertuples():
        attributes = graph.nodes[row.node]
        assert attributes["kind"] == row.kind  # input, hidden, output alike
        assert attributes[f"{row.method}_mean"] == pytest.approx(row.mean, rel=1e-12)
        assert attributes[f"{row.method}_sd"] == pytest.approx(row.sd, rel=1e-12)
    unscored = set(graph.nodes) - set(importances.query("method == 'bias'")["node"])
    assert unscored and all(np.isnan(graph.nodes[n]["bias_mean"]) for n in unscored)


def test_rendered_spec_in_the_run_validates(run_dir: Path) -> None:
    spec = pknet.Spec.model_validate(yaml.safe_load((run_dir / "spec.resolved.yaml").read_text()))
    assert spec.train.epochs == 6


def test_predict_reproduces_the_fold_models_scores(run_dir: Path, tmp_path: Path) -> None:
    data = EXAMPLE.parent / "data" / "pbmc68k_reduced.h5ad"
    out = tmp_path / "pred.csv"
    result = runner.invoke(app, ["predict", str(run_dir), str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    held_out = pd.read_csv(run_dir / "predictions.csv")
    merged = held_out.merge(table, on="sample")
    for fold in (0, 1):
        rows = merged[merged["fold"] == fold]
        np.testing.assert_allclose(rows["score_x"], rows[f"score_fold_{fold}"], rtol=1e-5)
    np.testing.assert_allclose(table["score"], table[["score_fold_0", "score_fold_1"]].mean(1))


def test_checkpoints_load_into_the_model(run_dir: Path) -> None:
    spec = pknet.load_spec(EXAMPLE, {"train.epochs": 6, "evaluate.cv.folds": 2})
    program = build_program(spec, pknet.compile_spec(spec), 612, "binary", 2)
    skeleton = program.init_model(jax.random.key(1))
    model = eqx.tree_deserialise_leaves(run_dir / "folds" / "0" / "model.eqx", skeleton)
    assert model.layers[0].weight.shape == (681,)
    assert not np.array_equal(model.layers[0].weight, skeleton.layers[0].weight)


def test_metrics_do_not_depend_on_the_hash_seed(run_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = tmp_path / "again"
    command = [str(PKNET), "run", str(EXAMPLE), *QUICK, "--out", str(out), "--quiet"]
    subprocess.run(command, env=env, check=True, capture_output=True)
    assert (out / "metrics.json").read_bytes() == (run_dir / "metrics.json").read_bytes()
    for fold in ("0", "1"):
        model = Path("folds") / fold / "model.eqx"
        assert (out / model).read_bytes() == (run_dir / model).read_bytes()


def failing_run(tmp_path: Path, body: str, *extra: str) -> str:
    spec = tmp_path / "spec.yaml"
    spec.write_text(body)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(spec), *QUICK, *extra, "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    assert "Traceback" not in result.output
    return result.output


def extending(body: str) -> str:
    return f"extends: {EXAMPLE}\n{body}"


def test_labels_that_do_not_join_are_an_error(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("barcode,TCR\nAAACCTGCACACATGT-1,0\nAAACCTGCACGTCTCT-1,1\n")
    body = extending(
        f"data:\n  target: {{file: {labels}, index: barcode, column: TCR, obs: null, "
        "positive: null}\n"
    )
    output = failing_run(tmp_path, body)
    assert "data.target" in output and "join" in output


def test_missing_target_column_suggests_one(tmp_path: Path) -> None:
    output = failing_run(tmp_path, extending("data:\n  target: {obs: bulk_label}\n"))
    assert "spec.yaml:3:17: data.target.obs" in output and "bulk_labels" in output


def test_inputs_without_data_columns_are_an_error(tmp_path: Path) -> None:
    output = failing_run(tmp_path, extending("network:\n  inputs: leaves\n"))
    assert "network.inputs" in output and "have no column in the data" in output


DENSE_PLASMA = f"""version: 1
name: plasma
data:
  expression: {{file: {MATRICES / "plasma_proteomics_20x30.csv"}, orientation: samples_as_columns}}
  target: {{file: {MATRICES / "plasma_proteomics_design_30.tsv"}, index: sample, column: group}}
  missing: error
model:
  layers: [{{kind: dense, units: 1}}]
loss: bce
evaluate: {{cv: {{kind: kfold, folds: 2}}}}
"""


def test_missing_values_with_policy_error_stop_the_run(tmp_path: Path) -> None:
    output = failing_run(tmp_path, DENSE_PLASMA)
    assert "missing value" in output and "data.missing" in output


def test_diverging_training_is_a_clear_error(tmp_path: Path) -> None:
    body = f"""version: 1
name: diverge
data:
  expression: {{file: {EXAMPLE.parent / "data" / "pbmc68k_reduced.h5ad"}, layer: raw}}
  target: {{obs: n_counts, task: regression}}
model:
  layers: [{{kind: dense, units: 1, activation: linear}}]
loss: mse
train: {{optimizer: {{name: sgd, lr: 10}}, epochs: 50}}
evaluate: {{cv: {{kind: kfold, folds: 2}}, metrics: [r2], seeds: 2}}
"""
    output = failing_run(tmp_path, body)
    assert "diverged" in output and "train.optimizer.lr" in output
    assert "seed 1 fold 1" in output  # the models named by seed and fold


def test_a_layer_too_large_for_memory_stops_before_allocating(tmp_path: Path) -> None:
    body = DENSE_PLASMA.replace("missing: error", "missing: zero").replace(
        "layers: [{kind: dense, units: 1}]",
        "layers: [{kind: dense, units: 1000000000}, {kind: dense, units: 1}]",
    )
    output = failing_run(tmp_path, body)
    assert "spec.yaml:8:33: model.layers[0].units: training would need about" in output
    assert "GB available on cpu; layer `dense_1` takes" in output and "fewer units" in output


def test_samples_left_out_are_counted_and_named(tmp_path: Path) -> None:
    data = MATRICES / "pbmc68k_raw_40x50.csv"
    samples = pd.read_csv(data, index_col=0).index
    known = pd.read_csv(MATRICES / "pbmc68k_tcr_labels.csv", index_col=0)["TCR"]
    known = known[known.index.isin(samples)]
    chosen = pd.concat([known[known == 1][:5], known[known == 0][:5], known[known.isna()]])
    dropped = [s for s in samples if s not in chosen.dropna().index]
    labels = tmp_path / "labels.csv"
    chosen.to_csv(labels)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"version: 1\nname: part\ndata:\n  expression: {{file: {data}}}\n"
        f"  target: {{file: {labels}, column: TCR}}\n"
        "model: {layers: [{kind: dense, units: 1}]}\nloss: bce\ntrain: {epochs: 2}\n"
        "evaluate: {cv: {kind: kfold, folds: 2}}\n"
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(spec), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "samples: 40 read, 11 labelled, 10 used" in result.output
    warning = " ".join(result.output.split("warning: ")[1].split("\nrun part")[0].split())
    assert warning == (
        "30 of 40 samples left out, 29 without a label row in labels.csv, 1 with a missing "
        f"target value (e.g. {', '.join(dropped[:3])}); 10 used"
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["samples"] == {"read": 40, "labelled": 11, "used": 10}
    assert metrics["n_samples"] == 10


def test_unwritable_outputs_are_user_errors(run_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    result = runner.invoke(app, ["schema", "--output", str(missing / "schema.json")])
    assert result.exit_code == 2 and "cannot write" in result.output
    data = EXAMPLE.parent / "data" / "pbmc68k_reduced.h5ad"
    result = runner.invoke(
        app, ["predict", str(run_dir), str(data), "--out", str(missing / "p.csv")]
    )
    assert result.exit_code == 2 and "cannot write" in result.output


def test_an_output_folder_pknet_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    result = runner.invoke(app, ["run", str(EXAMPLE), *QUICK, "--out", str(precious), "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{precious}: a folder pknet did not write (it has no valid run.json)" in result.output
    assert (precious / "chapter1.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # nothing staged beside it

    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    for out in (a_file, a_file / "run"):
        result = runner.invoke(app, ["run", str(EXAMPLE), *QUICK, "--out", str(out), "-q"])
        assert result.exit_code == 2 and f"{a_file} is a file" in result.output
    assert a_file.read_text() == "keep"
    result = runner.invoke(app, ["compile", str(EXAMPLE), "--out", str(precious)])
    assert result.exit_code == 0  # compile writes its own `network/` subfolder only
    assert (precious / "chapter1.tex").exists() and (precious / "network" / "report.json").exists()


@pytest.mark.parametrize("damage", ["no marker", "a listed file missing"])
def test_predict_refuses_a_run_that_is_not_complete(run_dir: Path, tmp_path: Path, damage) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    if damage == "no marker":  # what a killed run leaves
        (copy / "run.json").unlink()
        message = f"{copy}: not a complete pknet run folder (no valid run.json)"
    else:
        (copy / "metrics.json").unlink()
        message = f"{copy / 'run.json'}: damaged: metrics.json listed in run.json is missing"
    data = EXAMPLE.parent / "data" / "pbmc68k_reduced.h5ad"
    result = runner.invoke(app, ["predict", str(copy), str(data), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in result.output
    assert not (tmp_path / "p.csv").exists()


def test_missing_values_in_new_samples_are_named_in_their_file(run_dir, tmp_path) -> None:
    data = EXAMPLE.parent / "data" / "pbmc68k_reduced.h5ad"
    table = pknet.predict(run_dir, data)  # the samples as they are
    inputs = json.loads((run_dir / "model.json").read_text())["features"]
    frame = pd.DataFrame(0.0, index=table["sample"][:5], columns=inputs)
    frame.iloc[2, 3] = np.nan
    frame.to_csv(tmp_path / "new.csv")
    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "new.csv")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{tmp_path / 'new.csv'}: new.csv has 1 missing value(s)" in result.output
    assert f"e.g. sample {frame.index[2]}, feature {inputs[3]}" in result.output
