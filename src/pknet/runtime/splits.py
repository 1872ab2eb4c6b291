"""Cross-validation splits and early-stopping validation splits, deterministic from the seed.

Randomness comes from `numpy.random.default_rng([seed, purpose, ...])` only, so the same seed
gives the same folds on every machine and Python hash seed.

- `stratified_kfold`: each class is shuffled (when `shuffle`) and dealt round-robin to the folds,
  classes one after another, so every fold holds each class in proportion (counts differ by at
  most 1) and fold sizes differ by at most 1. For a regression target it is plain k-fold: there
  are no classes to stratify.
- `kfold`: samples shuffled (when `shuffle`) and cut into `folds` contiguous blocks.
- `leave_one_out`: one split per sample.
- `holdout`: one split; stratified holdouts take each class's share of the test set by the
  largest-remainder rule and always leave a class at least one training sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pknet.compiler.dataset import Task
from pknet.compiler.model.run_plan import CvPlan
from pknet.errors import CompileError, Problem

CV_STREAM, VALIDATION_STREAM = 1, 2


@dataclass(frozen=True)
class Split:
    """Row indices (sorted int64) of one fold's training and test samples."""

    train: np.ndarray
    test: np.ndarray


def make_splits(
    cv: CvPlan,
    y: np.ndarray,
    task: Task,
    seed: int,
    *,
    classes: Sequence[str] = (),
) -> list[Split]:
    """The train/test splits of `cv` for targets `y` (class codes or values).

    Errors name their field path (`evaluate.cv...`); `classes` names the class codes in them.
    """
    n = len(y)
    rng = np.random.default_rng([seed, CV_STREAM])
    if cv.kind == "holdout":
        stratify = cv.stratify and task != "regression"
        test = _holdout(y, _test_size(n, cv.test_fraction), stratify, rng)
        if len(test) == 0 or len(test) == n:
            raise CompileError(
                _problem(
                    "evaluate.cv.test_fraction",
                    f"a holdout of {cv.test_fraction} of {n} samples leaves no "
                    + ("test" if len(test) == 0 else "training")
                    + " samples",
                    "use more samples or another `test_fraction`",
                )
            )
        return [_split(n, test)]
    if cv.kind == "leave_one_out":
        if n < 2:
            raise CompileError(_problem("evaluate.cv", f"leave-one-out needs 2 samples, got {n}"))
        return [_split(n, np.array([i])) for i in range(n)]
    if n < cv.folds:
        raise CompileError(
            _problem(
                "evaluate.cv.folds",
                f"{cv.folds} folds need at least {cv.folds} samples, got {n}",
                "use fewer folds",
            )
        )
    if cv.kind == "stratified_kfold" and task != "regression":
        _check_class_sizes(y, cv.folds, classes)
        order = _class_order(y, rng if cv.shuffle else None)
        fold_of = np.empty(n, dtype=np.int64)
        fold_of[order] = np.arange(n) % cv.folds
    else:
        order = rng.permutation(n) if cv.shuffle else np.arange(n)
        fold_of = np.empty(n, dtype=np.int64)
        fold_of[order] = np.repeat(np.arange(cv.folds), _block_sizes(n, cv.folds))
    return [_split(n, np.flatnonzero(fold_of == k)) for k in range(cv.folds)]


def validation_split(
    train_idx: np.ndarray, y: np.ndarray, fraction: float, seed: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a fold's training rows into rows to fit and rows to monitor early stopping.

    Stratified when `y` holds integer class codes (classification), random otherwise; about
    `fraction` of the rows (at least one when `fraction > 0`, never all) are held out. Both
    parts are sorted row indices into `y`.
    """
    train_idx = np.sort(np.asarray(train_idx, dtype=np.int64))
    if fraction <= 0:
        return train_idx, train_idx[:0]
    rng = np.random.default_rng([seed, VALIDATION_STREAM, fold])
    stratify = np.issubdtype(np.asarray(y).dtype, np.integer)
    held = _holdout(y[train_idx], _test_size(len(train_idx), fraction), stratify, rng)
    is_val = np.zeros(len(train_idx), dtype=bool)
    is_val[held] = True
    return train_idx[~is_val], train_idx[is_val]


def _split(n: int, test: np.ndarray) -> Split:
    is_test = np.zeros(n, dtype=bool)
    is_test[test] = True
    return Split(
        np.flatnonzero(~is_test).astype(np.int64), np.flatnonzero(is_test).astype(np.int64)
    )


def _problem(path: str, message: str, hint: str | None = None) -> Problem:
    return Problem(message, path=path, hint=hint)


def _check_class_sizes(y: np.ndarray, folds: int, classes: Sequence[str]) -> None:
    codes, counts = np.unique(y, return_counts=True)
    if counts.min() < folds:
        code = int(codes[np.argmin(counts)])
        small = f"`{classes[code]}`" if code < len(classes) else str(code)
        raise CompileError(
            _problem(
                "evaluate.cv.folds",
                f"class {small} has {counts.min()} sample(s), fewer than the {folds} folds; "
                "stratified folds need at least one of each class per fold",
                f"use at most {counts.min()} folds, or `kind: kfold`",
            )
        )


def _class_order(y: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Sample indices grouped by class (ascending), each class shuffled when `rng` is given."""
    groups = []
    for code in np.unique(y):
        members = np.flatnonzero(y == code)
        groups.append(rng.permutation(members) if rng is not None else members)
    return np.concatenate(groups)


def _block_sizes(n: int, parts: int) -> np.ndarray:
    """`parts` sizes summing to `n` that differ by at most 1 (larger ones first)."""
    return np.full(parts, n // parts) + (np.arange(parts) < n % parts)


def _test_size(n: int, fraction: float) -> int:
    """`fraction` of `n` rounded, but at least 1 and leaving at least 1 (where `n` allows)."""
    return int(np.clip(round(fraction * n), 1, max(n - 1, 1))) if n else 0


def _holdout(y: np.ndarray, size: int, stratify: bool, rng: np.random.Generator) -> np.ndarray:
    """Indices of `size` (about, when stratified) held-out samples."""
    if not stratify:
        return np.sort(rng.permutation(len(y))[:size])
    codes, counts = np.unique(y, return_counts=True)
    quota = size * counts / len(y)
    take = np.floor(quota).astype(np.int64)
    extra = np.argsort(-(quota - take), kind="stable")[: size - int(take.sum())]
    take[extra] += 1
    take = np.minimum(take, counts - 1)  # every class keeps a training sample
    held = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(codes, take, strict=True)]
    return np.sort(np.concatenate(held))
