"""Several targets per sample: loading them (label-file columns, data features), scoring them
task by task, the closed-form ridge head, and metrics written in Python."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from typer.testing import CliRunner

import pknet
from pknet.api import train_and_evaluate
from pknet.cli import app
from pknet.compiler.dataset import load_dataset
from pknet.compiler.model.run_plan import build_run_plan
from pknet.errors import CompileError, MetricError
from pknet.runtime.metrics import METRICS, per_task_metrics, score
from pknet.runtime.run import stopping_rule

N, FEATURES, TASKS = 24, [f"g{i}" for i in range(6)], ["t1", "t2", "t3"]
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, len(FEATURES))).round(3)
Y = (X @ RNG.normal(size=(len(FEATURES), 3)) + 0.1 * RNG.normal(size=(N, 3))).round(3)
SAMPLES = [f"s{i:02d}" for i in range(N)]


def write_data(folder: Path, labels: pd.DataFrame | None = None) -> None:
    """expression.csv (samples x g0..g5) and labels.csv (s00 has no label row; one row names a
    sample the data does not have)."""
    pd.DataFrame(X, index=pd.Index(SAMPLES, name="sample"), columns=FEATURES).to_csv(
        folder / "expression.csv"
    )
    if labels is None:
        labels = pd.DataFrame(Y, columns=TASKS).assign(sample=SAMPLES)[["sample", *TASKS]]
        labels = pd.concat(
            [labels.iloc[1:], pd.DataFrame([["extra", 1, 2, 3]], columns=labels.columns)]
        )
    labels.to_csv(folder / "labels.csv", index=False)


def write_spec(folder: Path, target: str, body: str = "", model: str | None = None) -> Path:
    """A spec over the files of `write_data` with `target:` as given."""
    layers = model or "    - {kind: dense, units: 3, activation: linear}"
    default_body = "loss: mse\ntrain: {epochs: 5, batch_size: 8}\n"
    default_body += "evaluate: {cv: {kind: kfold, folds: 3}, metrics: [r2, pearson, mse]}\n"
    path = folder / "spec.yaml"
    path.write_text(
        "version: 1\nname: multi\n"
        f"data:\n  expression: {{file: expression.csv}}\n  target: {target}\n"
        f"model:\n  layers:\n{layers}\n" + (body or default_body)
    )
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_data(tmp_path)
    return tmp_path


def dataset(path: Path):
    return load_dataset(pknet.load_spec(path), None)


# --- loading ---------------------------------------------------------------------------------


def test_label_file_columns_are_a_multi_output_regression(data: Path) -> None:
    ds = dataset(write_spec(data, "{file: labels.csv, index: sample, columns: [t3, t1]}"))
    assert ds.task == "regression" and ds.targets == ("t3", "t1") and ds.classes == ()
    assert ds.samples == tuple(SAMPLES[1:])  # s00 has no label row
    np.testing.assert_allclose(ds.y, Y[1:][:, [2, 0]], rtol=1e-6)
    assert ds.y.dtype == np.float32 and ds.x.shape == (N - 1, 6)
    assert ds.join.n_labels == N and ds.join.n_used == N - 1 and ds.join.dropped == ("s00",)

    every = dataset(write_spec(data, "{file: labels.csv, index: sample, columns: all}"))
    assert every.targets == tuple(TASKS)


@pytest.mark.parametrize(
    "cell, target, message",
    [
        ("", "columns: all", "sample `s05` has no value in target column `t2`"),
        ("high", "columns: all", "sample `s05` has 'high', which is not a number,"),
        (None, "columns: [t1, t4]", "data.target.columns[1]: label file labels.csv has no column"),
        (None, "columns: [t1, T2]", "did you mean `t2`?"),
    ],
)
def test_bad_label_targets_are_located_errors(data, cell, target, message) -> None:
    if cell is not None:
        labels = pd.read_csv(data / "labels.csv", dtype=str)
        labels.loc[labels["sample"] == "s05", "t2"] = cell
        write_data(data, labels)
    with pytest.raises(CompileError) as caught:
        dataset(write_spec(data, f"{{file: labels.csv, index: sample, {target}}}"))
    text = caught.value.format()
    assert message in text
    if cell is not None:  # s05 is on line 6: the header, then s01..s04
        assert "labels.csv:6" in text


def test_labels_that_join_no_sample_are_an_error(data: Path) -> None:
    labels = pd.read_csv(data / "labels.csv").assign(sample=lambda t: "x" + t["sample"])
    write_data(data, labels)
    with pytest.raises(CompileError, match="none of the 24 label ids matches"):
        dataset(write_spec(data, "{file: labels.csv, index: sample, columns: all}"))


def test_target_features_are_taken_out_of_the_inputs(data: Path) -> None:
    ds = dataset(write_spec(data, "{features: [g4, g1]}"))
    assert ds.features == ("g0", "g2", "g3", "g5") and ds.targets == ("g4", "g1")
    np.testing.assert_allclose(ds.y, X[:, [4, 1]], rtol=1e-6)
    np.testing.assert_allclose(ds.x, X[:, [0, 2, 3, 5]], rtol=1e-6)
    assert len(ds.samples) == N


def test_bad_target_features_are_located_errors(data: Path) -> None:
    with pytest.raises(CompileError) as caught:
        dataset(write_spec(data, "{features: [g1, G4]}"))
    assert "data.target.features[1]: expression.csv has no feature `G4`" in caught.value.format()
    assert "did you mean `g4`?" in caught.value.format()
    frame = pd.read_csv(data / "expression.csv", index_col=0)
    frame.loc["s03", "g1"] = np.nan
    frame.to_csv(data / "expression.csv")
    with pytest.raises(CompileError, match=r"1 missing value.*sample s03, feature g1"):
        dataset(write_spec(data, "{features: [g1]}"))


# --- metrics per task ------------------------------------------------------------------------


def test_per_task_metrics_equal_scikit_learn() -> None:
    truth, pred = RNG.normal(size=(30, 4)), RNG.normal(size=(30, 4))
    names = ["a", "b", "c", "d"]
    values = per_task_metrics(
        {m: METRICS[m] for m in ("r2", "pearson", "mse", "mae")}, truth, pred, "regression", names
    )
    expected = {
        "r2": skm.r2_score(truth, pred, multioutput="raw_values"),
        "mse": skm.mean_squared_error(truth, pred, multioutput="raw_values"),
        "mae": skm.mean_absolute_error(truth, pred, multioutput="raw_values"),
        "pearson": [np.corrcoef(truth[:, j], pred[:, j])[0, 1] for j in range(4)],
    }
    for metric, reference in expected.items():
        np.testing.assert_allclose([values[metric][t] for t in names], reference)
    scores = score({"r2": METRICS["r2"]}, truth, pred, "regression", names)
    assert scores.values["r2"] == pytest.approx(skm.r2_score(truth, pred))  # uniform average


def test_undefined_tasks_are_left_out_of_the_mean() -> None:
    truth = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
    with pytest.warns(RuntimeWarning, match="r2 is undefined"):
        scores = score({"r2": METRICS["r2"]}, truth, truth, "regression", ["a", "b"])
    assert scores.values["r2"] == 1.0 and math.isnan(scores.per_task["r2"]["b"])


# --- runs ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_multi_output_run_reports_each_task(data: Path, tmp_path_factory) -> None:
    spec = write_spec(data, "{file: labels.csv, index: sample, columns: all}")
    result = pknet.run(spec, out=tmp_path_factory.mktemp("run") / "multi")
    doc = json.loads((result.run_dir / "metrics.json").read_text())
    assert doc["targets"] == TASKS
    fold = doc["folds"][0]
    assert set(fold["per_task"]["r2"]) == set(TASKS)
    assert fold["metrics"]["r2"] == pytest.approx(np.mean(list(fold["per_task"]["r2"].values())))
    assert set(doc["per_task_summary"]["pearson"]["t2"]) == {"mean", "sd", "n"}
    pooled = doc["out_of_fold"]
    assert pooled["n"] == N - 1 and pooled["across_tasks"]["mse"]["n"] == 3
    predictions = pd.read_csv(result.run_dir / "predictions.csv")
    assert list(predictions.columns[:4]) == ["sample", "fold", "target_t1", "score_t1"]
    truth = predictions[[f"target_{t}" for t in TASKS]].to_numpy()
    scores = predictions[[f"score_{t}" for t in TASKS]].to_numpy()
    expected = skm.r2_score(truth, scores, multioutput="raw_values")
    np.testing.assert_allclose([pooled["per_task"]["r2"][t] for t in TASKS], expected, rtol=1e-5)

    table = pknet.predict(result.run_dir, data / "expression.csv")
    assert list(table.columns) == ["sample", "score_t1", "score_t2", "score_t3"]
    assert len(table) == N


@pytest.mark.slow
def test_early_stopping_watches_the_mean_over_tasks(data: Path) -> None:
    body = "loss: mse\ntrain: {epochs: 4, early_stopping: {monitor: val_r2, patience: 2}}\n"
    body += "evaluate: {cv: {kind: kfold, folds: 3}, metrics: [r2]}\n"
    spec = pknet.load_spec(write_spec(data, "{file: labels.csv, columns: all}", body))
    rule = stopping_rule(build_run_plan(spec), "regression", targets=TASKS)
    truth, pred = RNG.normal(size=(10, 3)), RNG.normal(size=(10, 3))
    assert rule.metric(truth, pred) == pytest.approx(skm.r2_score(truth, pred))
    outcome = train_and_evaluate(spec)  # validation rows split at random (no classes to stratify)
    assert all(
        len(h["val_loss"]) == outcome.trained.epochs_run[k]
        for k, h in enumerate(outcome.trained.history)
    )


RIDGE = "    - {kind: ridge, units: 3, alpha: 2.0}"
LOO_BODY = "loss: mse\nevaluate: {cv: {kind: leave_one_out}, metrics: [r2, pearson]}\n"


def test_a_ridge_head_equals_scikit_learn_on_every_fold(data: Path) -> None:
    spec = write_spec(data, "{file: labels.csv, index: sample, columns: all}", LOO_BODY, RIDGE)
    outcome = train_and_evaluate(pknet.load_spec(spec))
    ds = outcome.dataset
    for k, split in enumerate(outcome.splits):
        reference = Ridge(alpha=2.0).fit(ds.x[split.train], ds.y[split.train])
        expected = reference.predict(ds.x[split.test])
        np.testing.assert_allclose(outcome.test_scores[k], expected, rtol=1e-4, atol=1e-4)
    assert outcome.fold_metrics[0] == {}  # one held-out sample per fold: scored pooled only
    assert outcome.out_of_fold.values["r2"] > 0.9
    assert outcome.trained.epochs_run.tolist() == [1] * (N - 1)


PCA_RIDGE = "    - {kind: pca, components: 3, whiten: true}\n" + RIDGE


@pytest.mark.slow
def test_principal_component_regression_equals_scikit_learn_on_every_fold(data: Path) -> None:
    body = "loss: mse\nevaluate: {cv: {kind: kfold, folds: 4}, metrics: [r2]}\n"
    spec = write_spec(data, "{file: labels.csv, index: sample, columns: all}", body, PCA_RIDGE)
    outcome = train_and_evaluate(pknet.load_spec(spec))
    ds = outcome.dataset
    for k, split in enumerate(outcome.splits):
        reference = make_pipeline(PCA(3, whiten=True, svd_solver="full"), Ridge(alpha=2.0))
        expected = reference.fit(ds.x[split.train], ds.y[split.train]).predict(ds.x[split.test])
        np.testing.assert_allclose(outcome.test_scores[k], expected, rtol=1e-3, atol=1e-3)


def test_more_components_than_a_fold_has_samples_is_a_located_error(data: Path) -> None:
    model = "    - {kind: pca, components: 5}\n" + RIDGE
    body = "loss: mse\nevaluate: {cv: {kind: holdout, test_fraction: 0.85}, metrics: [r2]}\n"
    spec = write_spec(data, "{file: labels.csv, index: sample, columns: all}", body, model)
    result = CliRunner().invoke(app, ["run", str(spec), "--quiet", "--out", str(data / "run")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "spec.yaml:8:31: model.layers[0].components" in result.output
    assert "the `pca` layer keeps 5 components, but a training fold has only" in result.output
    assert not (data / "run").exists()


# --- metrics written in Python ---------------------------------------------------------------

METRIC_FILE = """
import numpy as np


def weighted_error(y_true, y_score, task):
    return float(np.sum((y_true - y_score) ** 2 * np.arange(len(y_true))))


def broken(y_true, y_score, task):
    raise ValueError("no good")


def text(y_true, y_score, task):
    return "0.5"


def quits(y_true, y_score, task):
    raise SystemExit(3)
"""


def python_metric_spec(folder: Path, entry: str) -> Path:
    (folder / "my_metrics.py").write_text(METRIC_FILE)
    evaluate = f"{{cv: {{kind: kfold, folds: 3}}, metrics: [r2, {entry}]}}"
    body = f"loss: mse\ntrain: {{epochs: 3}}\nevaluate: {evaluate}\n"
    return write_spec(folder, "{file: labels.csv, index: sample, columns: all}", body)


@pytest.mark.slow
def test_a_python_metric_is_scored_per_task(data: Path) -> None:
    spec = python_metric_spec(data, "{name: weighted_error, file: my_metrics.py}")
    outcome = train_and_evaluate(pknet.load_spec(spec))
    split, scores = outcome.splits[1], outcome.test_scores[1]
    truth = outcome.dataset.y[split.test]
    expected = [np.sum((truth[:, j] - scores[:, j]) ** 2 * np.arange(len(truth))) for j in range(3)]
    per_task = outcome.task_metrics[1]["weighted_error"]
    np.testing.assert_allclose([per_task[t] for t in TASKS], expected, rtol=1e-5)


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            "{name: weighted, file: my_metrics.py}",
            "evaluate.metrics[1].name: my_metrics.py defines no function `weighted`",
        ),
        ("{name: b, file: my_metrics.py, function: broken}", "raised ValueError: no good"),
        ("{name: t, file: my_metrics.py, function: text}", "returned str '0.5', not a number"),
        ("{name: q, file: my_metrics.py, function: quits}", "raised SystemExit: 3"),
        ("{name: e, file: syntax.py}", "importing syntax.py failed: SyntaxError"),
    ],
)
@pytest.mark.slow
def test_python_metric_failures_are_located_errors(data, entry, message) -> None:
    (data / "syntax.py").write_text("def oops(:\n")
    spec = python_metric_spec(data, entry)
    with pytest.raises(MetricError) as caught:
        train_and_evaluate(pknet.load_spec(spec))
    assert message in caught.value.format()
    assert caught.value.problems[0].location.line == 11  # the `evaluate:` line of the spec
    result = CliRunner().invoke(app, ["run", str(spec), "--quiet", "--out", str(data / "run")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (data / "run").exists()


# --- networks --------------------------------------------------------------------------------


def network_spec(folder: Path, edges: list[tuple[str, str]], target: str, inputs: str) -> Path:
    pd.DataFrame(edges, columns=["a", "b"]).to_csv(folder / "edges.csv", index=False)
    network = f"network:\n  edges: {{file: edges.csv, from: a, to: b}}\n  inputs: {inputs}\n"
    network += "  outputs: name(g4, g5)\n"
    body = network + "loss: mse\nevaluate: {cv: {kind: kfold, folds: 3}, metrics: [r2]}\n"
    model = "    - {kind: diffusion, alpha: [0.5]}\n    - {kind: ridge, units: 2}"
    return write_spec(folder, target, body, model)


CHAIN = [("g0", "g1"), ("g1", "g2"), ("g2", "g4"), ("g3", "g5"), ("g2", "g3")]


@pytest.mark.slow
def test_network_outputs_as_targets(data: Path) -> None:
    spec = network_spec(data, CHAIN, "{features: network_outputs}", "measured")
    outcome = train_and_evaluate(pknet.load_spec(spec))
    assert outcome.dataset.targets == ("g4", "g5")
    assert outcome.dataset.features == ("g0", "g1", "g2", "g3")  # outputs left the inputs
    np.testing.assert_allclose(outcome.dataset.y, X[:, [4, 5]], rtol=1e-6)
    assert outcome.out_of_fold.values["r2"] == pytest.approx(
        skm.r2_score(
            outcome.dataset.y[np.concatenate([s.test for s in outcome.splits])],
            np.concatenate(outcome.test_scores),
        ),
        rel=1e-5,
    )


def test_a_network_node_missing_in_the_data_is_named(data: Path) -> None:
    edges = [*CHAIN, ("zz9", "g4")]
    spec = network_spec(data, edges, "{file: labels.csv, index: sample, columns: [t1, t2]}", "all")
    result = CliRunner().invoke(app, ["run", str(spec), "--quiet", "--out", str(data / "run")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    expected = "spec.yaml:12:11: network.inputs: 1 of 7 input nodes have no column in the data"
    assert f"{expected}: `zz9`" in result.output
