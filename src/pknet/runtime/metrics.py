"""Metrics in NumPy: a registry of `fn(y_true, y_score, task) -> float`, and fold summaries.

Classification scores are predicted probabilities: `(n,)` of class 1 for a binary task,
`(n, C)` for a multiclass task. Predicted classes are `score >= 0.5` (binary) or the argmax.
Precision, recall and F1 count class 1 as positive (binary) or macro-average over the classes
that occur in `y_true` or the predictions (multiclass); an undefined ratio counts as 0.
Balanced accuracy is the mean recall over the classes in `y_true`; MCC is the (multiclass)
Matthews correlation of the predicted classes (0 when a side is constant); ROC-AUC and average
precision rank the scores (one against the rest, macro over the classes in `y_true`, for a
multiclass task); log loss is the mean negative log probability of the true class, scores
clipped to [eps, 1 - eps] and rows normalised — all as scikit-learn computes them.
A metric that is undefined on a fold (ROC-AUC with one class present, R² or Pearson on a
constant) is NaN with a warning, never an error.

Several targets (a multi-output regression, `y` of shape samples x tasks) are scored task by
task: each metric gets one task's column at a time, and its value is the mean over the tasks
where it is defined (`score`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

MetricFn = Callable[[np.ndarray, np.ndarray, str], float]


def predicted_classes(y_score: np.ndarray, task: str) -> np.ndarray:
    """Class codes from probabilities: threshold 0.5 (binary) or argmax (multiclass)."""
    scores = np.asarray(y_score)
    if task == "binary":
        return (scores.reshape(-1) >= 0.5).astype(np.int64)
    return np.argmax(scores, axis=1).astype(np.int64)


def accuracy(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    return float(np.mean(predicted_classes(y_score, task) == np.asarray(y_true)))


def _confusion(
    y_true: np.ndarray, y_score: np.ndarray, task: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted positives and actual positives per scored class."""
    truth, pred = np.asarray(y_true).astype(np.int64), predicted_classes(y_score, task)
    labels = np.array([1]) if task == "binary" else np.union1d(truth, pred)
    tp = np.array([np.sum((truth == c) & (pred == c)) for c in labels], dtype=np.float64)
    n_pred = np.array([np.sum(pred == c) for c in labels], dtype=np.float64)
    n_true = np.array([np.sum(truth == c) for c in labels], dtype=np.float64)
    return tp, n_pred, n_true


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def precision(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    tp, n_pred, _ = _confusion(y_true, y_score, task)
    return float(np.mean(_ratio(tp, n_pred)))


def recall(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    tp, _, n_true = _confusion(y_true, y_score, task)
    return float(np.mean(_ratio(tp, n_true)))


def f1(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    tp, n_pred, n_true = _confusion(y_true, y_score, task)
    return float(np.mean(_ratio(2 * tp, n_pred + n_true)))


def balanced_accuracy(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    truth, pred = np.asarray(y_true).astype(np.int64), predicted_classes(y_score, task)
    return float(np.mean([np.mean(pred[truth == c] == c) for c in np.unique(truth)]))


def mcc(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    """Matthews correlation from the confusion matrix (Gorodkin's multiclass form)."""
    truth, pred = np.asarray(y_true).astype(np.int64), predicted_classes(y_score, task)
    labels = np.union1d(truth, pred)
    t_sum = np.array([np.sum(truth == c) for c in labels], dtype=np.float64)
    p_sum = np.array([np.sum(pred == c) for c in labels], dtype=np.float64)
    n, correct = float(len(truth)), float(np.sum(truth == pred))
    cov_tp = correct * n - t_sum @ p_sum
    cov_pp, cov_tt = n * n - p_sum @ p_sum, n * n - t_sum @ t_sum
    if cov_pp * cov_tt == 0:
        return 0.0
    return float(cov_tp / np.sqrt(cov_tt * cov_pp))


def log_loss(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    truth = np.asarray(y_true).astype(np.int64)
    scores = np.asarray(y_score, dtype=np.float64)
    if task == "binary":
        scores = scores.reshape(-1, 1)
        scores = np.hstack([1 - scores, scores])
    eps = np.finfo(np.float64).eps
    scores = np.clip(scores, eps, 1 - eps)
    scores = scores / scores.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(scores[np.arange(len(truth)), truth])))


def _binary_ap(positive: np.ndarray, score: np.ndarray) -> float:
    """Average precision: precision at each distinct score (highest first), weighted by the
    recall it adds."""
    order = np.argsort(-score, kind="stable")
    ends = np.r_[np.flatnonzero(np.diff(score[order])), len(score) - 1]
    true_pos = np.cumsum(positive[order])[ends]
    precision = true_pos / (ends + 1)
    recall_gain = np.diff(np.r_[0, true_pos]) / true_pos[-1]
    return float(np.sum(recall_gain * precision))


def _one_vs_rest(
    name: str,
    fn: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    y_score: np.ndarray,
    task: str,
) -> float:
    """A ranking metric: binary, or the macro mean over the classes present (one vs rest)."""
    truth = np.asarray(y_true).astype(np.int64)
    present = np.unique(truth)
    if len(present) < 2:
        warnings.warn(
            f"{name} is undefined when only class {present.tolist()} is present; reporting NaN",
            RuntimeWarning,
            stacklevel=3,
        )
        return math.nan
    scores = np.asarray(y_score, dtype=np.float64)
    if task == "binary":
        return fn(truth == 1, scores.reshape(-1))
    return float(np.mean([fn(truth == c, scores[:, c]) for c in present]))


def average_precision(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    """Binary average precision, or the macro one-vs-rest mean over the classes present."""
    return _one_vs_rest("average_precision", _binary_ap, y_true, y_score, task)


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC: the chance a positive outranks a negative, ties counting one half."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(score)  # average ranks for ties
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    """Binary ROC-AUC, or the macro one-vs-rest mean over the classes present in `y_true`."""
    return _one_vs_rest("roc_auc", _binary_auc, y_true, y_score, task)


def per_class(
    y_true: np.ndarray, y_score: np.ndarray, classes: Sequence[str]
) -> dict[str, dict[str, float]]:
    """A multiclass table: per class its precision, recall, F1, support (samples of the class)
    and one-vs-rest ROC-AUC (NaN when the class is absent or alone)."""
    truth = np.asarray(y_true).astype(np.int64)
    scores = np.asarray(y_score, dtype=np.float64)
    pred = predicted_classes(scores, "multiclass")
    table = {}
    for c, name in enumerate(classes):
        hits, said, actual = (truth == c) & (pred == c), pred == c, truth == c
        tp, n_pred, n_true = (float(np.sum(a)) for a in (hits, said, actual))
        defined = 0 < n_true < len(truth)
        table[name] = {
            "precision": tp / n_pred if n_pred else 0.0,
            "recall": tp / n_true if n_true else 0.0,
            "f1": 2 * tp / (n_pred + n_true) if n_pred + n_true else 0.0,
            "support": int(n_true),
            "roc_auc": _binary_auc(truth == c, scores[:, c]) if defined else math.nan,
        }
    return table


def roc_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Binary ROC curve: false and true positive rates from (0, 0) through each distinct score
    (highest first), and the area under it; empty rates and NaN when one class is missing."""
    truth = np.asarray(y_true).reshape(-1) == 1
    score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        warnings.warn(
            "a ROC curve needs both classes; reporting none", RuntimeWarning, stacklevel=2
        )
        return np.empty(0), np.empty(0), math.nan
    order = np.argsort(-score, kind="stable")
    ends = np.r_[np.flatnonzero(np.diff(score[order])), len(score) - 1]  # last row of each score
    true_pos = np.cumsum(truth[order])[ends]
    tpr = np.r_[0.0, true_pos / n_pos]
    fpr = np.r_[0.0, (ends + 1 - true_pos) / n_neg]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def _values(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.asarray(y_true, dtype=np.float64).reshape(-1),
        np.asarray(y_score, dtype=np.float64).reshape(-1),
    )


def _undefined(name: str) -> float:
    warnings.warn(
        f"{name} is undefined for constant values; reporting NaN", RuntimeWarning, stacklevel=3
    )
    return math.nan


def r2(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    truth, pred = _values(y_true, y_score)
    total = np.sum((truth - truth.mean()) ** 2)
    if total == 0:
        return _undefined("r2")
    return float(1 - np.sum((truth - pred) ** 2) / total)


def pearson(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    truth, pred = _values(y_true, y_score)
    dt, dp = truth - truth.mean(), pred - pred.mean()
    norm = np.sqrt(np.sum(dt**2) * np.sum(dp**2))
    if norm == 0:
        return _undefined("pearson")
    return float(np.sum(dt * dp) / norm)


def mse(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    truth, pred = _values(y_true, y_score)
    return float(np.mean((truth - pred) ** 2))


def mae(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    truth, pred = _values(y_true, y_score)
    return float(np.mean(np.abs(truth - pred)))


METRICS: dict[str, MetricFn] = {
    "accuracy": accuracy,
    "balanced_accuracy": balanced_accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "mcc": mcc,
    "roc_auc": roc_auc,
    "average_precision": average_precision,
    "log_loss": log_loss,
    "r2": r2,
    "pearson": pearson,
    "mse": mse,
    "mae": mae,
}


def register_metric(name: str, fn: MetricFn, *, replace: bool = False) -> None:
    """Add a user metric `fn(y_true, y_score, task) -> float` under `name`."""
    if name in METRICS and not replace:
        raise ValueError(f"a metric named {name!r} exists; pass replace=True to override it")
    METRICS[name] = fn


def compute_metrics(
    names: list[str], y_true: np.ndarray, y_score: np.ndarray, task: str
) -> dict[str, float]:
    """The named metrics of one fold."""
    return {name: METRICS[name](y_true, y_score, task) for name in names}


def summarize(per_fold: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (ddof=1) of each metric over the folds.

    NaN folds are left out (`n` says how many folds counted); with fewer than 2 such folds the
    standard deviation is NaN.
    """
    names = list(dict.fromkeys(name for fold in per_fold for name in fold))
    summary = {}
    for name in names:
        values = np.array([fold.get(name, math.nan) for fold in per_fold], dtype=np.float64)
        values = values[~np.isnan(values)]
        summary[name] = {
            "mean": float(values.mean()) if len(values) else math.nan,
            "sd": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
            "n": len(values),
        }
    return summary


def mean_sd(value: Mapping[str, float]) -> str:
    """A summary entry as `mean ± sd`, or the mean alone when there is no spread to show (one
    fold, e.g. a holdout)."""
    if math.isnan(value["sd"]):
        return f"{value['mean']:.4f}"
    return f"{value['mean']:.4f} ± {value['sd']:.4f}"


TaskValues = dict[str, dict[str, float]]  # metric -> task -> value


@dataclass(frozen=True)
class Scores:
    """The metrics of one set of predictions. With several targets `per_task` holds each
    task's value and `values` their mean over the tasks where it is defined."""

    values: dict[str, float]
    per_task: TaskValues


def per_task_metrics(
    metrics: Mapping[str, MetricFn],
    y_true: np.ndarray,
    y_score: np.ndarray,
    task: str,
    targets: Sequence[str],
) -> TaskValues:
    """Each metric on each task: column `j` of `y_true` and `y_score` is task `targets[j]`."""
    truth = np.asarray(y_true).reshape(len(y_true), -1)
    pred = np.asarray(y_score).reshape(len(y_true), -1)
    return {
        name: {t: float(fn(truth[:, j], pred[:, j], task)) for j, t in enumerate(targets)}
        for name, fn in metrics.items()
    }


def _defined_mean(values: Sequence[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else math.nan


def score(
    metrics: Mapping[str, MetricFn],
    y_true: np.ndarray,
    y_score: np.ndarray,
    task: str,
    targets: Sequence[str] = (),
) -> Scores:
    """`metrics` of one set of predictions; per task when `targets` name several tasks."""
    if not targets:
        return Scores({name: float(fn(y_true, y_score, task)) for name, fn in metrics.items()}, {})
    tasks = per_task_metrics(metrics, y_true, y_score, task, targets)
    return Scores({name: _defined_mean(list(v.values())) for name, v in tasks.items()}, tasks)


def summarize_tasks(per_fold: list[TaskValues]) -> dict[str, dict[str, dict[str, float]]]:
    """Per metric and task: mean and sd over the folds (as `summarize`)."""
    names = list(dict.fromkeys(name for fold in per_fold for name in fold))
    return {name: summarize([fold[name] for fold in per_fold if name in fold]) for name in names}


def across_tasks(per_task: TaskValues) -> dict[str, dict[str, float]]:
    """Per metric: mean and sd over the tasks (as `summarize`, tasks in place of folds)."""
    tasks = list(dict.fromkeys(t for values in per_task.values() for t in values))
    return summarize([{name: values[t] for name, values in per_task.items()} for t in tasks])
