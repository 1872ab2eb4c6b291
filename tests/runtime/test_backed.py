"""`data.expression.backed: true`: rows streamed from a sparse `.h5ad` give the in-memory run's
metrics; the block order is reproducible; bad files give located errors."""

from __future__ import annotations

from pathlib import Path

import anndata
import numpy as np
import pytest
from scipy import sparse

import pknet
from pknet.api import train_and_evaluate
from pknet.compiler import streamed
from pknet.errors import PknetError
from pknet.runtime.transforms import fit_input_stats

EXAMPLE_DATA = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "data"


@pytest.fixture(scope="module")
def sparse_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's `.raw` counts as a CSR `X` (a derived copy of the shipped file)."""
    source = anndata.read_h5ad(EXAMPLE_DATA / "pbmc68k_reduced.h5ad")
    counts = anndata.AnnData(
        X=sparse.csr_matrix(source.raw.X), obs=source.obs.copy(), var=source.raw.var.copy()
    )
    path = tmp_path_factory.mktemp("backed") / "pbmc_csr.h5ad"
    counts.write_h5ad(path)
    return path


def _spec(path: Path, backed: bool, **extra: object) -> pknet.Spec:
    example = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "spec.yaml"
    overrides = {
        "data.expression.file": str(path),
        "data.expression.layer": "X",
        "data.expression.backed": backed,
        "train.epochs": 4,
        "evaluate.cv.folds": 2,
        "explain": ["bias", "gradient_x_input"],
        **extra,
    }
    return pknet.load_spec(example, overrides)


def _documents(outcome) -> tuple[dict, list]:
    return outcome.metrics_document(), [h["train_loss"] for h in outcome.trained.history]


def test_backed_run_equals_in_memory(sparse_copy: Path) -> None:
    in_memory = train_and_evaluate(_spec(sparse_copy, False))
    backed = train_and_evaluate(_spec(sparse_copy, True))
    assert _documents(backed) == _documents(in_memory)
    assert backed.importances.equals(in_memory.importances)


def test_blocks_reproducible_and_standardized(
    sparse_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several blocks of rows: two runs agree, and differ from one block only in the row order
    (the metrics stay close); per-fold statistics from blocks equal NumPy's."""
    monkeypatch.setattr(streamed, "CHUNK_BYTES", 100 * 4 * 765)  # 100 rows per block
    extra = {"data.transform": ["log1p", "select_measured", "standardize"]}
    first = train_and_evaluate(_spec(sparse_copy, True, **extra))
    second = train_and_evaluate(_spec(sparse_copy, True, **extra))
    assert first.dataset.x.chunk_rows < len(first.dataset.samples) // 3
    assert _documents(first) == _documents(second)
    in_memory = train_and_evaluate(_spec(sparse_copy, False, **extra))
    assert _documents(first) != _documents(in_memory)
    x = in_memory.dataset.x
    for k, fit in enumerate(first.splits):
        del fit
    rows = [np.asarray(r) for r in _fit_rows(in_memory)]
    for k, fit in enumerate(rows):
        mean = x[fit].astype(np.float64).mean(axis=0)
        std = x[fit].astype(np.float64).std(axis=0)
        np.testing.assert_allclose(first.stats.shift[k], mean, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(first.stats.scale[k], np.where(std > 0, std, 1), rtol=1e-5)
        direct = fit_input_stats(first.dataset.x, fit, standardize=True)
        np.testing.assert_array_equal(direct.shift, in_memory.stats.shift[k])


def _fit_rows(outcome) -> list[np.ndarray]:
    from pknet.runtime.run import fold_rows, stopping_rule

    stopping = stopping_rule(outcome.plan, outcome.dataset.task)
    return fold_rows(outcome.plan, outcome.splits, outcome.dataset.y, stopping).fit


def test_backed_csv_refused_by_validate() -> None:
    with pytest.raises(PknetError) as info:
        _spec(Path("cells.csv"), True)
    assert "data.expression.backed" in str(info.value)


def test_dense_file_is_a_located_error(tmp_path: Path) -> None:
    dense = tmp_path / "dense.h5ad"
    source = anndata.read_h5ad(EXAMPLE_DATA / "pbmc68k_reduced.h5ad")
    anndata.AnnData(
        X=np.asarray(source.raw.X.toarray()), obs=source.obs, var=source.raw.var
    ).write_h5ad(dense)
    with pytest.raises(PknetError) as info:
        train_and_evaluate(_spec(dense, True))
    text = str(info.value)
    assert "data.expression.backed" in text and "dense" in text
