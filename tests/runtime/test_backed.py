"""`data.expression.backed: true`: rows streamed from a sparse `.h5ad` give the in-memory run's
metrics; the block order is reproducible; bad files give located errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anndata
import h5py
import jax
import numpy as np
import pytest
from scipy import sparse

import pknet
from pknet.api import train_and_evaluate
from pknet.compiler import streamed
from pknet.errors import PknetError
from pknet.runtime.explain import explain_fold, explain_in_blocks
from pknet.runtime.progress import EpochReport
from pknet.runtime.streamed_train import chunk_order, member_order
from pknet.runtime.transforms import apply_input_stats, fit_input_stats

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


@pytest.mark.slow
def test_backed_run_equals_in_memory(sparse_copy: Path) -> None:
    in_memory = train_and_evaluate(_spec(sparse_copy, False))
    backed = train_and_evaluate(_spec(sparse_copy, True))
    assert _documents(backed) == _documents(in_memory)
    assert backed.importances.equals(in_memory.importances)


@pytest.mark.slow
def test_block_order_reproducible(sparse_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several blocks of rows (read in a per-epoch order): two runs give identical results."""
    monkeypatch.setattr(streamed, "CHUNK_BYTES", 100 * 4 * 765)  # ~100 rows per block
    first = train_and_evaluate(_spec(sparse_copy, True, explain=[]))
    second = train_and_evaluate(_spec(sparse_copy, True, explain=[]))
    assert len(first.dataset.samples) > 5 * first.dataset.x.chunk_rows
    assert _documents(first) == _documents(second)


def test_member_order_visits_blocks_in_order() -> None:
    """Each training row once per epoch, block after block in the drawn order, shuffled by the
    noise within a block; one block is the in-memory order (a stable sort by the noise)."""
    rng = np.random.default_rng(0)
    fit = np.sort(rng.choice(1000, 600, replace=False))
    noise = rng.random(1000).astype(np.float32)
    order = chunk_order(0, 3, 10)
    assert sorted(order.tolist()) == list(range(10))
    assert not np.array_equal(order, chunk_order(0, 4, 10))
    rows = member_order(fit, noise, 100, order)
    assert sorted(rows.tolist()) == fit.tolist()
    blocks = rows // 100
    assert [b for i, b in enumerate(blocks) if i == 0 or b != blocks[i - 1]] == [
        b for b in order.tolist() if b in set(blocks.tolist())
    ]
    for b in set(blocks.tolist()):
        assert np.all(np.diff(noise[rows[blocks == b]]) >= 0)
    one = member_order(fit, noise, 1000, chunk_order(0, 3, 1))
    np.testing.assert_array_equal(one, fit[np.argsort(noise[fit], kind="stable")])


def test_fold_statistics_from_blocks(sparse_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`standardize` fitted on rows read block by block equals the in-memory fit, and NumPy's
    mean and population sd."""
    monkeypatch.setattr(streamed, "CHUNK_BYTES", 50 * 4 * 765)
    extra = {"data.transform": ["log1p", "select_measured", "standardize"]}
    backed = _dataset(_spec(sparse_copy, True, **extra))
    memory = _dataset(_spec(sparse_copy, False, **extra))
    rows = np.sort(np.random.default_rng(1).choice(len(memory.samples), 400, replace=False))
    np.testing.assert_array_equal(backed.x[rows], memory.x[rows])
    from_blocks = fit_input_stats(backed.x, rows, standardize=True)
    in_memory = fit_input_stats(memory.x, rows, standardize=True)
    for field in ("fill", "shift", "scale"):
        np.testing.assert_array_equal(getattr(from_blocks, field), getattr(in_memory, field))
    reference = memory.x[rows].astype(np.float64)
    np.testing.assert_allclose(from_blocks.shift, reference.mean(axis=0), rtol=1e-6, atol=1e-7)
    sd = reference.std(axis=0)
    np.testing.assert_allclose(from_blocks.scale, np.where(sd > 0, sd, 1.0), rtol=1e-5)


def _dataset(spec: pknet.Spec):
    from pknet.api import _network_and_dataset

    return _network_and_dataset(spec)[1]


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


def test_unreadable_filter_is_a_located_error(sparse_copy: Path, tmp_path: Path) -> None:
    """A matrix compressed with a filter this HDF5 cannot decode (here: blosc, id 32001)."""
    path = tmp_path / "blosc.h5ad"
    shutil.copy(sparse_copy, path)
    with h5py.File(path, "r+") as f:
        values = f["X/data"][...]
        del f["X/data"]
        f.create_dataset(
            "X/data", data=values, chunks=True, compression=32001, allow_unknown_filter=True
        )
    with pytest.raises(PknetError) as info:
        train_and_evaluate(_spec(path, True))
    text = str(info.value)
    assert "data.expression.backed" in text and "32001" in text


@pytest.mark.slow
def test_file_changed_during_run_is_an_error(sparse_copy: Path, tmp_path: Path) -> None:
    """The file rewritten between two epochs: the run stops naming it and writes nothing."""
    path = tmp_path / "changing.h5ad"
    shutil.copy(sparse_copy, path)

    def touch(report: EpochReport) -> None:
        if report.epoch == 1:
            os.utime(path, ns=(0, 0))

    out = tmp_path / "run"
    spec = _spec(path, True, explain=[], **{"train.epochs": 2})
    with pytest.raises(PknetError) as info:
        pknet.api.run(spec, out=out, on_epoch=touch)
    assert "changed while the run read it" in str(info.value)
    assert str(path) in str(info.value)
    assert not out.exists()


@pytest.mark.slow
def test_importances_from_blocks_equal_one_pass(sparse_copy: Path) -> None:
    """Streamed data are explained block by block: the blocks' means, weighted by their rows,
    are the mean over all test rows."""
    outcome = train_and_evaluate(_spec(sparse_copy, False, explain=[], **{"train.epochs": 1}))
    model, test = outcome.trained.model(0), outcome.splits[0].test
    stats = jax.tree.map(lambda a: np.asarray(a)[0], outcome.stats)

    def read(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return apply_input_stats(outcome.dataset.x[rows], stats), outcome.dataset.y[rows]

    methods = ["bias", "gradient_x_input", "node_weights"]
    predict = outcome.program.loss.predict
    whole = explain_fold(model, predict, methods, None, read(test))
    blocks = explain_in_blocks(model, predict, methods, test, read, 37)
    assert len(test) > 5 * 37
    for method in methods:
        np.testing.assert_allclose(blocks[method], whole[method], rtol=2e-5, atol=1e-9)


def test_activation_auc_is_refused_for_backed_data(sparse_copy: Path) -> None:
    with pytest.raises(PknetError) as caught:
        train_and_evaluate(_spec(sparse_copy, True, explain=["activation_auc"]))
    problem = caught.value.problems[0]
    assert problem.path == "explain" and "activation_auc" in problem.message
