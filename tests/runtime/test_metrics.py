"""Metrics against scikit-learn on random and tied data; undefined folds; plug-ins; summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from pknet.runtime.metrics import (
    METRICS,
    compute_metrics,
    mean_sd,
    per_class,
    register_metric,
    roc_curve,
    summarize,
)


def binary_case(seed: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 60))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    score = rng.random(n)
    if ties:
        score = np.round(score * 4) / 4  # five distinct values, many ties, some exactly 0.5
    return y, score.astype(np.float32)


def multiclass_case(seed: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(6, 60)), int(rng.integers(3, 6))
    y = rng.integers(0, c, n)
    y[:c] = np.arange(c)
    logits = rng.normal(size=(n, c))
    if ties:
        logits = np.round(logits)
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, prob


SK_CLASSIFICATION = {
    "accuracy": lambda y, pred, avg: skm.accuracy_score(y, pred),
    "precision": lambda y, pred, avg: skm.precision_score(y, pred, average=avg, zero_division=0),
    "recall": lambda y, pred, avg: skm.recall_score(y, pred, average=avg, zero_division=0),
    "f1": lambda y, pred, avg: skm.f1_score(y, pred, average=avg, zero_division=0),
    "balanced_accuracy": lambda y, pred, avg: skm.balanced_accuracy_score(y, pred),
    "mcc": lambda y, pred, avg: skm.matthews_corrcoef(y, pred),
}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_new_classification_metrics_match_sklearn(seed: int, ties: bool) -> None:
    """average_precision, balanced_accuracy, mcc and log_loss, binary and multiclass."""
    y, score = binary_case(seed, ties)
    score = score.astype(np.float64)
    pred = (score >= 0.5).astype(int)
    expected = {
        "average_precision": skm.average_precision_score(y, score),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "mcc": skm.matthews_corrcoef(y, pred),
        "log_loss": skm.log_loss(y, score, labels=[0, 1]),
    }
    for name, value in expected.items():
        assert np.isclose(METRICS[name](y, score, "binary"), value), name
    y, prob = multiclass_case(seed, ties)
    pred = prob.argmax(axis=1)
    expected = {
        "average_precision": skm.average_precision_score(y, prob, average="macro"),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "mcc": skm.matthews_corrcoef(y, pred),
        "log_loss": skm.log_loss(y, prob, labels=np.arange(prob.shape[1])),
    }
    for name, value in expected.items():
        assert np.isclose(METRICS[name](y, prob, "multiclass"), value), name


def test_per_class_table_matches_sklearn() -> None:
    y, prob = multiclass_case(3, ties=False)
    classes = [f"c{c}" for c in range(prob.shape[1])]
    table = per_class(y, prob, classes)
    pred = prob.argmax(axis=1)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=np.arange(len(classes)), zero_division=0
    )
    for c, name in enumerate(classes):
        row = table[name]
        assert np.allclose(
            [row["precision"], row["recall"], row["f1"], row["support"]],
            [precision[c], recall[c], f1[c], support[c]],
        )
        assert np.isclose(row["roc_auc"], skm.roc_auc_score(y == c, prob[:, c]))


def test_mean_sd_shows_one_value_without_a_spread() -> None:
    assert mean_sd(summarize([{"auc": 0.75}])["auc"]) == "0.7500"  # a holdout: one fold
    assert mean_sd(summarize([{"auc": 0.5}, {"auc": 1.0}])["auc"]) == "0.7500 ± 0.3536"


@pytest.mark.slow
@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_binary_metrics_match_sklearn(seed: int, ties: bool) -> None:
    y, score = binary_case(seed, ties)
    pred = (score >= 0.5).astype(int)
    for name, reference in SK_CLASSIFICATION.items():
        assert np.isclose(METRICS[name](y, score, "binary"), reference(y, pred, "binary")), name
    assert np.isclose(METRICS["roc_auc"](y, score, "binary"), skm.roc_auc_score(y, score))


@pytest.mark.slow
@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_multiclass_metrics_match_sklearn(seed: int, ties: bool) -> None:
    y, prob = multiclass_case(seed, ties)
    pred = prob.argmax(axis=1)
    for name, reference in SK_CLASSIFICATION.items():
        assert np.isclose(METRICS[name](y, prob, "multiclass"), reference(y, pred, "macro")), name
    expected = skm.roc_auc_score(y, prob, multi_class="ovr", average="macro")
    assert np.isclose(METRICS["roc_auc"](y, prob, "multiclass"), expected)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_regression_metrics_match_sklearn_and_scipy(seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    y = rng.normal(size=n)
    pred = y + rng.normal(scale=0.5, size=n)
    if ties:
        y, pred = np.round(y), np.round(pred)
        y[:2] = [0, 1]
        pred[:2] = [0, 1]
    assert np.isclose(METRICS["r2"](y, pred, "regression"), skm.r2_score(y, pred))
    assert np.isclose(METRICS["mse"](y, pred, "regression"), skm.mean_squared_error(y, pred))
    assert np.isclose(METRICS["mae"](y, pred, "regression"), skm.mean_absolute_error(y, pred))
    assert np.isclose(METRICS["pearson"](y, pred, "regression"), np.corrcoef(y, pred)[0, 1])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_roc_curve_matches_sklearn(seed: int, ties: bool) -> None:
    y, score = binary_case(seed, ties)
    fpr, tpr, auc = roc_curve(y, score)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert np.isclose(auc, METRICS["roc_auc"](y, score, "binary"))


def test_roc_curve_of_one_class() -> None:
    with pytest.warns(RuntimeWarning, match="needs both classes"):
        fpr, tpr, auc = roc_curve(np.zeros(4, dtype=int), np.arange(4.0))
    assert len(fpr) == len(tpr) == 0 and math.isnan(auc)


def test_all_tied_scores_give_half() -> None:
    y = np.array([0, 1, 0, 1, 1])
    assert METRICS["roc_auc"](y, np.full(5, 0.3), "binary") == 0.5


def test_multiclass_precision_ignores_classes_absent_everywhere() -> None:
    y = np.array([0, 0, 1, 1])
    prob = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1]])
    expected = skm.precision_score(y, prob.argmax(axis=1), average="macro", zero_division=0)
    assert np.isclose(METRICS["precision"](y, prob, "multiclass"), expected)


def test_one_class_fold_gives_nan_with_a_warning() -> None:
    with pytest.warns(RuntimeWarning, match="roc_auc is undefined"):
        assert math.isnan(METRICS["roc_auc"](np.ones(4, dtype=int), np.full(4, 0.7), "binary"))
    with pytest.warns(RuntimeWarning, match="roc_auc is undefined"):
        value = METRICS["roc_auc"](np.zeros(3, dtype=int), np.full((3, 3), 1 / 3), "multiclass")
    assert math.isnan(value)
    with pytest.warns(RuntimeWarning, match="r2 is undefined"):
        assert math.isnan(METRICS["r2"](np.ones(3), np.arange(3.0), "regression"))
    with pytest.warns(RuntimeWarning, match="pearson is undefined"):
        assert math.isnan(METRICS["pearson"](np.arange(3.0), np.ones(3), "regression"))


def test_multiclass_auc_with_a_class_missing_averages_the_present_ones() -> None:
    y, prob = multiclass_case(3, ties=False)
    keep = y != 0
    per_class = [skm.roc_auc_score(y[keep] == c, prob[keep, c]) for c in np.unique(y[keep])]
    assert np.isclose(METRICS["roc_auc"](y[keep], prob[keep], "multiclass"), np.mean(per_class))


def test_register_a_user_metric() -> None:
    def balanced_accuracy(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
        return float(skm.balanced_accuracy_score(y_true, np.asarray(y_score) >= 0.5))

    register_metric("test_balanced_accuracy", balanced_accuracy)
    try:
        y, score = binary_case(0, ties=False)
        values = compute_metrics(["accuracy", "test_balanced_accuracy"], y, score, "binary")
        assert values["test_balanced_accuracy"] == balanced_accuracy(y, score, "binary")
        with pytest.raises(ValueError, match="exists"):
            register_metric("test_balanced_accuracy", balanced_accuracy)
        register_metric("test_balanced_accuracy", METRICS["accuracy"], replace=True)
    finally:
        del METRICS["test_balanced_accuracy"]


def test_summarize_mean_and_sample_sd() -> None:
    folds = [
        {"accuracy": 0.8, "roc_auc": 0.9},
        {"accuracy": 0.6, "roc_auc": math.nan},
        {"accuracy": 0.7, "roc_auc": 0.7},
    ]
    summary = summarize(folds)
    assert list(summary) == ["accuracy", "roc_auc"]
    assert np.isclose(summary["accuracy"]["mean"], 0.7)
    assert np.isclose(summary["accuracy"]["sd"], np.std([0.8, 0.6, 0.7], ddof=1))
    assert summary["roc_auc"]["n"] == 2 and np.isclose(summary["roc_auc"]["mean"], 0.8)
    single = summarize([{"mse": 1.5}])["mse"]
    assert single["mean"] == 1.5 and math.isnan(single["sd"])
