"""Grouped and repeated CV: no group on both sides of a split, scikit-learn's fold assignment,
groups read from `obs` or the label file, located errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

import pknet
from pknet.compiler.model.run_plan import CvPlan
from pknet.errors import CompileError, PknetError
from pknet.runtime.splits import make_splits

PBMC = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "data" / "pbmc68k_reduced.h5ad"


@pytest.fixture(scope="module")
def obs() -> pd.DataFrame:
    import anndata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return anndata.read_h5ad(PBMC, backed="r").obs.copy()


def assert_groups_kept_whole(splits, groups: np.ndarray) -> None:
    for split in splits:
        assert not set(groups[split.train]) & set(groups[split.test])


def test_group_kfold_equals_sklearn_on_louvain(obs: pd.DataFrame) -> None:
    groups = obs["louvain"].astype(str).to_numpy()  # 11 clusters of 13 to 130 cells
    y = np.zeros(len(groups), dtype=np.int64)
    cv = CvPlan("group_kfold", folds=4, shuffle=False, groups="louvain")
    splits = make_splits(cv, y, "binary", seed=7, groups=groups)
    reference = GroupKFold(n_splits=4).split(np.zeros(len(y)), y, groups)
    for split, (train, test) in zip(splits, reference, strict=True):
        np.testing.assert_array_equal(split.test, test)
        np.testing.assert_array_equal(split.train, train)
    assert_groups_kept_whole(splits, groups)


def test_leave_one_group_out_equals_sklearn_on_phase(obs: pd.DataFrame) -> None:
    groups = obs["phase"].astype(str).to_numpy()  # G1, G2M, S
    y = np.zeros(len(groups), dtype=np.int64)
    cv = CvPlan("leave_one_group_out", groups="phase")
    splits = make_splits(cv, y, "binary", seed=0, groups=groups)
    reference = list(LeaveOneGroupOut().split(np.zeros(len(y)), y, groups))
    assert len(splits) == len(reference) == 3
    for split, (train, test) in zip(splits, reference, strict=True):
        np.testing.assert_array_equal(split.test, test)
        np.testing.assert_array_equal(split.train, train)


def test_shuffled_group_kfold_keeps_groups_and_follows_the_seed(obs: pd.DataFrame) -> None:
    groups = obs["louvain"].astype(str).to_numpy()
    y = np.zeros(len(groups), dtype=np.int64)
    cv = CvPlan("group_kfold", folds=3, shuffle=True, groups="louvain")
    splits = make_splits(cv, y, "binary", seed=1, groups=groups)
    assert_groups_kept_whole(splits, groups)
    np.testing.assert_array_equal(np.sort(np.concatenate([s.test for s in splits])), np.arange(700))
    assert sorted(len(set(groups[s.test])) for s in splits) == [3, 4, 4]  # 11 groups in 3 runs
    again = make_splits(cv, y, "binary", seed=1, groups=groups)
    other = make_splits(cv, y, "binary", seed=2, groups=groups)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(splits, again, strict=True))
    assert not all(np.array_equal(a.test, b.test) for a, b in zip(splits, other, strict=True))


def test_fewer_groups_than_folds_is_an_error(obs: pd.DataFrame) -> None:
    groups = obs["phase"].astype(str).to_numpy()
    cv = CvPlan("group_kfold", folds=5, groups="phase")
    with pytest.raises(CompileError, match="5 folds need at least 5 groups; column `phase`"):
        make_splits(cv, np.zeros(len(groups), dtype=np.int64), "binary", 0, groups=groups)


def test_repeated_kfold_repeats_stratified_partitions() -> None:
    y = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [30, 12, 9]))
    cv = CvPlan("repeated_kfold", folds=3, repeats=4)
    splits = make_splits(cv, y, "multiclass", seed=5)
    assert len(splits) == 12
    first = make_splits(CvPlan("stratified_kfold", folds=3), y, "multiclass", seed=5)
    for a, b in zip(splits[:3], first, strict=True):  # repeat 0 is the plain k-fold
        np.testing.assert_array_equal(a.test, b.test)
    for r in range(4):
        repeat = splits[3 * r : 3 * r + 3]
        tests = np.sort(np.concatenate([s.test for s in repeat]))
        np.testing.assert_array_equal(tests, np.arange(len(y)))  # each repeat a partition
        for code, count in zip(*np.unique(y, return_counts=True), strict=True):
            per_fold = [int(np.sum(y[s.test] == code)) for s in repeat]
            assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == count
    assert len({tuple(splits[3 * r].test) for r in range(4)}) == 4  # repeats reshuffle


def write_spec(tmp_path: Path, cv: str, target: str = "{obs: bulk_labels}") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"version: 1\nname: t\ndata:\n  expression: {{file: {PBMC}}}\n  target: {target}\n"
        "model:\n  layers: [{kind: dense, units: 2}]\nloss: ce\n"
        f"evaluate:\n  cv: {cv}\n",
        encoding="utf-8",
    )
    return path


def test_cv_folds_group_by_an_obs_column(tmp_path: Path, obs: pd.DataFrame) -> None:
    folds = pknet.api.cv_folds(
        write_spec(tmp_path, "{kind: group_kfold, folds: 3, groups: louvain}")
    )
    louvain = obs["louvain"].astype(str)
    for train, test in folds:
        assert not set(louvain[train]) & set(louvain[test])
    assert sum(len(test) for _, test in folds) == 700


def test_groups_from_the_label_file(tmp_path: Path, obs: pd.DataFrame) -> None:
    labels = pd.DataFrame(
        {"cell": obs.index, "label": obs["bulk_labels"].astype(str), "donor": obs["phase"]}
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    target = f"{{file: {tmp_path / 'labels.csv'}, column: label}}"
    spec = write_spec(tmp_path, "{kind: leave_one_group_out, groups: donor}", target)
    folds = pknet.api.cv_folds(spec)
    assert [sorted(set(obs.loc[test, "phase"])) for _, test in folds] == [["G1"], ["G2M"], ["S"]]


def test_unknown_group_column_is_located_and_lists_the_columns(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "{kind: group_kfold, folds: 3, groups: donor}")
    with pytest.raises(PknetError) as caught:
        pknet.api.cv_folds(spec)
    text = caught.value.format()
    assert "spec.yaml:10:" in text and "evaluate.cv.groups" in text
    assert "no sample table has a column `donor`" in text
    assert "obs columns: bulk_labels, n_genes" in text and "louvain" in text


def test_groups_without_a_sample_table_fail_validation(tmp_path: Path) -> None:
    matrix = Path(__file__).parents[1] / "data" / "matrices" / "pbmc68k_raw_40x50.csv"
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"version: 1\nname: t\ndata:\n  expression: {{file: {matrix}}}\n"
        "  target: {features: [CD52]}\nmodel:\n  layers: [{kind: dense, units: 1}]\nloss: mse\n"
        "evaluate:\n  cv: {kind: group_kfold, folds: 2, groups: donor}\n  metrics: [r2]\n",
        encoding="utf-8",
    )
    with pytest.raises(PknetError) as caught:
        pknet.load_spec(path)
    text = caught.value.format()
    assert "spec.yaml:10:" in text and "evaluate.cv.groups" in text and "no sample table" in text
