"""Cross-validation splits and early-stopping validation splits, deterministic from the seed.

Randomness comes from `numpy.random.default_rng([seed, purpose, ...])` only, so the same seed
gives the same folds on every machine and Python hash seed.

- `stratified_kfold`: each class is shuffled (when `shuffle`) and dealt round-robin to the folds,
  classes one after another, so every fold holds each class in proportion (counts differ by at
  most 1) and fold sizes differ by at most 1. For a regression target it is plain k-fold: there
  are no classes to stratify.
- `kfold`: samples shuffled (when `shuffle`) and cut into `folds` contiguous blocks.
- `repeated_kfold`: `repeats` rounds of `stratified_kfold` (or `kfold` without `stratify`),
  repeat-major: split `r * folds + k` is fold k of repeat r. Repeat 0 draws from the same stream
  as a plain k-fold with that seed, so it equals `stratified_kfold`'s folds; repeat r > 0 from
  its own stream (scikit-learn's `RepeatedStratifiedKFold` has the same shape).
- `group_kfold`: scikit-learn's `GroupKFold` — no group on both sides of a split. Without
  `shuffle` (its default) the largest groups go first, each to the fold with the fewest samples
  so far (ties: the lower fold), exactly as scikit-learn; with `shuffle` the groups are
  permuted with the seed and cut into `folds` runs of about equal group counts.
- `leave_one_group_out`: one split per group, groups in sorted order (`LeaveOneGroupOut`).
- `leave_one_out`: one split per sample.
- `holdout`: one split; stratified holdouts take each class's share of the test set by the
  largest-remainder rule and always leave a class at least one training sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pknet.compiler.dataset import Dataset, Task
from pknet.compiler.model.run_plan import CvPlan, RunPlan
from pknet.errors import CompileError, Problem

CV_STREAM, VALIDATION_STREAM = 1, 2


@dataclass(frozen=True)
class Split:
    """Row indices (sorted int64) of one fold's training and test samples."""

    train: np.ndarray
    test: np.ndarray


def dataset_splits(plan: RunPlan, dataset: Dataset) -> list[Split]:
    """The cross-validation splits `plan` makes of `dataset` (its classes and groups)."""
    return make_splits(
        plan.cv,
        dataset.y,
        dataset.task,
        plan.seed,
        classes=dataset.classes,
        groups=dataset.groups,
    )


def make_splits(
    cv: CvPlan,
    y: np.ndarray,
    task: Task,
    seed: int,
    *,
    classes: Sequence[str] = (),
    groups: np.ndarray | None = None,
) -> list[Split]:
    """The train/test splits of `cv` for targets `y` (class codes or values); `groups` holds
    each sample's group for the group kinds.

    Errors name their field path (`evaluate.cv...`); `classes` names the class codes in them.
    """
    n = len(y)
    rng = np.random.default_rng([seed, CV_STREAM])
    if cv.kind in ("group_kfold", "leave_one_group_out"):
        if groups is None:
            raise ValueError(f"`{cv.kind}` needs each sample's group")
        return _group_splits(cv, np.asarray(groups), rng)
    if cv.kind == "repeated_kfold":
        kind = "stratified_kfold" if cv.stratify else "kfold"
        return [
            split
            for r in range(cv.repeats)
            for split in _kfold(
                kind,
                cv.folds,
                y,
                task,
                rng if r == 0 else np.random.default_rng([seed, CV_STREAM, r]),
                True,
                classes,
            )
        ]
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
    return _kfold(cv.kind, cv.folds, y, task, rng, cv.shuffle, classes)


def _kfold(
    kind: str,
    folds: int,
    y: np.ndarray,
    task: Task,
    rng: np.random.Generator,
    shuffle: bool,
    classes: Sequence[str],
) -> list[Split]:
    """`stratified_kfold` or `kfold` splits drawn from `rng`."""
    n = len(y)
    if n < folds:
        raise CompileError(
            _problem(
                "evaluate.cv.folds",
                f"{folds} folds need at least {folds} samples, got {n}",
                "use fewer folds",
            )
        )
    fold_of = np.empty(n, dtype=np.int64)
    if kind == "stratified_kfold" and task != "regression":
        _check_class_sizes(y, folds, classes)
        fold_of[_class_order(y, rng if shuffle else None)] = np.arange(n) % folds
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        fold_of[order] = np.repeat(np.arange(folds), _block_sizes(n, folds))
    return [_split(n, np.flatnonzero(fold_of == k)) for k in range(folds)]


def _group_splits(cv: CvPlan, groups: np.ndarray, rng: np.random.Generator) -> list[Split]:
    """`group_kfold` or `leave_one_group_out` splits: every group on one side only."""
    names, group_of = np.unique(groups, return_inverse=True)
    if cv.kind == "leave_one_group_out":
        if len(names) < 2:
            raise CompileError(
                _problem(
                    "evaluate.cv.groups",
                    f"leave-one-group-out needs 2 groups; column `{cv.groups}` holds {len(names)}",
                    "group by a column with several values",
                )
            )
        fold_of_group = np.arange(len(names))
    else:
        if len(names) < cv.folds:
            raise CompileError(
                _problem(
                    "evaluate.cv.folds",
                    f"{cv.folds} folds need at least {cv.folds} groups; column `{cv.groups}` "
                    f"holds {len(names)}: {', '.join(map(str, names[:10]))}",
                    f"use at most {len(names)} folds, or `kind: leave_one_group_out`",
                )
            )
        fold_of_group = _group_folds(np.bincount(group_of), cv.folds, rng if cv.shuffle else None)
    fold_of = fold_of_group[group_of]
    return [_split(len(groups), np.flatnonzero(fold_of == k)) for k in range(fold_of.max() + 1)]


def _group_folds(sizes: np.ndarray, folds: int, rng: np.random.Generator | None) -> np.ndarray:
    """The fold of each group: shuffled runs of groups (`rng`), else largest groups first into
    the lightest fold (scikit-learn's `GroupKFold` without shuffle, tie for tie)."""
    fold_of = np.empty(len(sizes), dtype=np.int64)
    if rng is not None:
        order = rng.permutation(len(sizes))
        fold_of[order] = np.repeat(np.arange(folds), _block_sizes(len(sizes), folds))
        return fold_of
    load = np.zeros(folds)
    for group in np.argsort(sizes, kind="stable")[::-1]:
        lightest = int(np.argmin(load))
        load[lightest] += sizes[group]
        fold_of[group] = lightest
    return fold_of


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
