"""CV splits: partitions, class proportions, determinism from the seed, errors at the spec field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import KFold

import pknet
from pknet.compiler.located import locate
from pknet.compiler.model.run_plan import cv_plan
from pknet.errors import CompileError
from pknet.runtime.splits import Split, make_splits, validation_split
from pknet.specs.schema.evaluate import HoldoutSpec, KFoldSpec, LeaveOneOutSpec

DATA = Path(__file__).parents[1] / "data" / "matrices"


def labels(counts: list[int], seed: int = 0) -> np.ndarray:
    """Class codes with `counts[c]` members of class c, in shuffled order."""
    y = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(y).astype(np.int64)


def assert_partition(splits: list[Split], n: int) -> None:
    tests = np.concatenate([s.test for s in splits])
    np.testing.assert_array_equal(np.sort(tests), np.arange(n))  # disjoint and covering
    for s in splits:
        assert s.train.dtype == s.test.dtype == np.int64
        assert np.all(np.diff(s.train) > 0) and np.all(np.diff(s.test) > 0)
        np.testing.assert_array_equal(np.union1d(s.train, s.test), np.arange(n))
        assert len(np.intersect1d(s.train, s.test)) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=2, max_size=5),
    st.integers(2, 10),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_stratified_kfold_keeps_class_proportions(
    counts: list[int], folds: int, seed: int, shuffle: bool
) -> None:
    counts = [max(c, folds) for c in counts]
    y = labels(counts, seed)
    splits = make_splits(
        KFoldSpec(kind="stratified_kfold", folds=folds, shuffle=shuffle), y, "binary", seed
    )
    assert len(splits) == folds
    assert_partition(splits, len(y))
    sizes = [len(s.test) for s in splits]
    assert max(sizes) - min(sizes) <= 1
    for code, count in enumerate(counts):
        per_fold = [int(np.sum(y[s.test] == code)) for s in splits]
        assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == count


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 60), st.integers(2, 10), st.integers(0, 2**32 - 1))
def test_kfold_sizes_differ_by_at_most_one(n: int, folds: int, seed: int) -> None:
    folds = min(folds, n)
    y = np.random.default_rng(seed).normal(size=n).astype(np.float32)
    splits = make_splits(KFoldSpec(kind="kfold", folds=folds), y, "regression", seed)
    assert_partition(splits, n)
    sizes = [len(s.test) for s in splits]
    assert max(sizes) - min(sizes) <= 1


def test_unshuffled_kfold_equals_sklearn() -> None:
    y = np.zeros(23, dtype=np.int64)
    ours = make_splits(KFoldSpec(kind="kfold", folds=5, shuffle=False), y, "binary", 0)
    for split, (train, test) in zip(ours, KFold(5).split(y), strict=True):
        np.testing.assert_array_equal(split.train, train)
        np.testing.assert_array_equal(split.test, test)


def test_stratified_kfold_for_regression_is_kfold() -> None:
    y = np.linspace(0, 1, 17).astype(np.float32)
    stratified = make_splits(KFoldSpec(kind="stratified_kfold", folds=4), y, "regression", 3)
    plain = make_splits(KFoldSpec(kind="kfold", folds=4), y, "regression", 3)
    for a, b in zip(stratified, plain, strict=True):
        np.testing.assert_array_equal(a.test, b.test)


@pytest.mark.parametrize(
    "cv",
    [
        KFoldSpec(kind="stratified_kfold", folds=5),
        KFoldSpec(kind="kfold", folds=5),
        HoldoutSpec(kind="holdout"),
        HoldoutSpec(kind="holdout", stratify=False),
    ],
)
def test_deterministic_from_the_seed(cv) -> None:
    y = labels([30, 20, 10])
    first, again = make_splits(cv, y, "multiclass", 7), make_splits(cv, y, "multiclass", 7)
    other = make_splits(cv, y, "multiclass", 8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.test, b.test)
    assert any(not np.array_equal(a.test, b.test) for a, b in zip(first, other, strict=True))


def test_leave_one_out() -> None:
    splits = make_splits(LeaveOneOutSpec(kind="leave_one_out"), labels([3, 2]), "binary", 0)
    assert [s.test.tolist() for s in splits] == [[i] for i in range(5)]
    assert_partition(splits, 5)


@pytest.mark.parametrize("stratify", [True, False])
def test_holdout_takes_the_fraction(stratify: bool) -> None:
    y = labels([70, 30])
    cv = HoldoutSpec(kind="holdout", test_fraction=0.25, stratify=stratify)
    (split,) = make_splits(cv, y, "binary", 0)
    assert_partition([split, Split(split.test, split.train)], 100)
    assert len(split.test) == 25
    if stratify:
        assert np.sum(y[split.test] == 1) == 7  # 17.5 : 7.5, the tie goes to class 0


def test_holdout_stratified_keeps_every_class_in_training() -> None:
    y = labels([1, 1, 1, 20])
    (split,) = make_splits(HoldoutSpec(kind="holdout", test_fraction=0.5), y, "multiclass", 0)
    assert set(y[split.train].tolist()) == {0, 1, 2, 3}


def test_class_smaller_than_folds_is_an_error() -> None:
    with pytest.raises(CompileError) as caught:
        make_splits(KFoldSpec(kind="stratified_kfold", folds=5), labels([10, 3]), "binary", 0)
    text = caught.value.format()
    assert "evaluate.cv.folds: class 1 has 3 sample(s), fewer than the 5 folds" in text
    assert "use at most 3 folds, or `kind: kfold`" in text
    with pytest.raises(CompileError) as caught:
        make_splits(
            KFoldSpec(kind="stratified_kfold", folds=5),
            labels([10, 3]),
            "binary",
            0,
            classes=("T cell", "other"),
        )
    assert "class `other` has 3 sample(s)" in caught.value.format()  # named, not coded


def test_error_located_in_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"version: 1\nname: t\ndata:\n  expression: {{file: {DATA / 'pbmc68k_40x50.h5ad'}}}\n"
        "  target: {obs: phase}\nmodel:\n  layers: [{kind: dense, units: 2}]\nloss: ce\n"
        "evaluate:\n  cv: {kind: stratified_kfold, folds: 10}\n"
    )
    spec = pknet.load_spec(path)
    with pytest.raises(CompileError) as caught:
        make_splits(cv_plan(spec.evaluate.cv), labels([20, 5]), "binary", 0)
    located = locate(spec, caught.value)
    assert "spec.yaml:10:39: evaluate.cv.folds: class 1 has 5 sample(s)" in located.format()


def test_too_few_samples_for_the_folds() -> None:
    with pytest.raises(CompileError, match="5 folds need at least 5 samples, got 3"):
        make_splits(
            KFoldSpec(kind="kfold", folds=5), np.zeros(3, dtype=np.float32), "regression", 0
        )


@pytest.mark.parametrize("fold", [0, 3])
def test_validation_split_is_stratified_and_deterministic(fold: int) -> None:
    y = labels([60, 40])
    train = np.arange(0, 100, 2)
    fit, val = validation_split(train, y, 0.2, seed=1, fold=fold)
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), train)
    assert len(val) == 10 and len(np.intersect1d(fit, val)) == 0
    share = np.mean(y[train] == 1)
    assert abs(np.mean(y[val] == 1) - share) <= 0.1
    again = validation_split(train, y, 0.2, seed=1, fold=fold)
    np.testing.assert_array_equal(again[1], val)
    other = validation_split(train, y, 0.2, seed=1, fold=fold + 1)
    assert not np.array_equal(other[1], val)


def test_validation_split_for_regression_and_zero_fraction() -> None:
    y = np.linspace(0, 1, 40).astype(np.float32)
    fit, val = validation_split(np.arange(40), y, 0.25, seed=0, fold=0)
    assert (len(fit), len(val)) == (30, 10)
    fit, val = validation_split(np.arange(40), y, 0.0, seed=0, fold=0)
    assert len(val) == 0 and len(fit) == 40
