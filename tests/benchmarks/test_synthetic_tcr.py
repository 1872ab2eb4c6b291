"""The semi-synthetic TCR data generator of the benchmarks (small sample counts, fast)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synthetic_tcr", BENCHMARKS / "synthetic_tcr.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


synthetic_tcr = _load()
N = 200


@pytest.fixture(scope="module")
def data():
    return synthetic_tcr.generate(synthetic_tcr.SyntheticConfig(n_samples=N, seed=3))


def test_shapes_and_names(data) -> None:
    edges = pd.read_csv(synthetic_tcr.TCR_EDGES)
    leaves = sorted(set(edges["child"]) - set(edges["parent"]))
    assert data.counts.shape == (N, 13121)
    assert list(data.genes) == [g.removesuffix("_gene") for g in leaves]
    assert len(set(data.barcodes)) == N
    assert set(np.unique(data.labels)) == {0, 1}
    assert data.labels.sum() == round(N * 880 / 1735) == data.truth["n_positive"]


def test_deterministic_from_the_seed(data) -> None:
    again = synthetic_tcr.generate(synthetic_tcr.SyntheticConfig(n_samples=N, seed=3))
    other = synthetic_tcr.generate(synthetic_tcr.SyntheticConfig(n_samples=N, seed=4))
    assert (data.counts != again.counts).nnz == 0
    np.testing.assert_array_equal(data.labels, again.labels)
    assert data.truth == again.truth
    assert (data.counts != other.counts).nnz > 0


def test_sparse_log1p_counts(data) -> None:
    zeros = 1.0 - data.counts.nnz / np.prod(data.counts.shape)
    assert 0.85 < zeros < 0.95
    assert zeros == pytest.approx(data.truth["zero_fraction"])
    assert data.counts.dtype == np.int32 and data.counts.data.min() > 0
    values = data.log1p
    assert values.dtype == np.float32
    np.testing.assert_allclose(values.data, np.log1p(data.counts.data), rtol=1e-6)


def test_truth_names_the_planted_sub_pathway(data) -> None:
    truth = data.truth
    edges = synthetic_tcr.read_edges()
    below = synthetic_tcr.upstream(edges, truth["node"])
    assert truth["node"] == "PPARD"
    assert truth["genes"] == sorted(g.removesuffix("_gene") for g in below if g.endswith("_gene"))
    assert truth["n_genes"] == len(truth["genes"]) == 55
    assert set(truth["exclusive_genes"]) <= set(truth["genes"])
    assert "TCR" in truth["downstream_nodes"]
    assert all(1.0 <= v <= 2.0 for v in truth["log2_fold_change"].values())


def test_labels_follow_the_planted_genes(data) -> None:
    dense = data.log1p.toarray()
    planted = np.isin(np.asarray(data.genes), data.truth["genes"])
    positive = data.labels == 1
    score = dense[:, planted].sum(axis=1)
    gap = score[positive].mean() - score[~positive].mean()
    assert gap > 4 * score.std() / np.sqrt(N)  # planted genes separate the classes
    # ... and the same number of other genes does not
    rng = np.random.default_rng(0)
    other = rng.choice(np.flatnonzero(~planted), planted.sum(), replace=False)
    null = dense[:, other].sum(axis=1)
    assert abs(null[positive].mean() - null[~positive].mean()) < gap / 3
    correlation = np.corrcoef(score, data.labels)[0, 1]
    assert correlation > 0.4


def test_write_reads_back(data, tmp_path: Path) -> None:
    anndata = pytest.importorskip("anndata")
    paths = synthetic_tcr.write(data, tmp_path)
    adata = anndata.read_h5ad(paths["expression"])
    assert adata.shape == data.counts.shape
    assert list(adata.var_names) == list(data.genes)
    np.testing.assert_allclose(adata.X.toarray(), data.log1p.toarray())
    labels = pd.read_csv(paths["labels"])
    assert list(labels.columns) == ["barcode", "TCR"]
    np.testing.assert_array_equal(labels["TCR"], data.labels)
    assert json.loads(paths["truth"].read_text()) == data.truth


def test_rejects_unknown_nodes() -> None:
    with pytest.raises(ValueError, match="not an internal node"):
        synthetic_tcr.generate(synthetic_tcr.SyntheticConfig(n_samples=20, node="CD3E_gene"))
