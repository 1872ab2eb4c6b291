"""Seed ensembles (`evaluate.seeds`): N seeds x K folds trained as one program, seed 0 being the
one-seed run; metrics, predictions, importances and `predict` over every member; chunks of seeds
when they do not fit the device's memory together."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm

import pknet
from pknet.api import predict, run, train_and_evaluate
from pknet.errors import RunError
from pknet.runtime import memory
from pknet.runtime.members import members_of
from pknet.runtime.train import (
    PURPOSE_INIT,
    PURPOSE_REPLICATE,
    PURPOSE_SHUFFLE,
    member_keys,
    stream_key,
)

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "matrices" / "pbmc68k_40x50.h5ad"
TINY_KPNN = f"""extends: {ROOT / "examples" / "kpnn_tcr" / "spec.yaml"}
name: tiny-seeds
data:
  expression: {{file: {DATA}, layer: lognorm}}
train: {{epochs: 3, early_stopping: null}}
evaluate: {{cv: {{kind: stratified_kfold, folds: 2}}}}
explain: {{methods: [bias], control: shuffled}}
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KPNN on 40 cells (44 input genes), 2 folds of 3 epochs, bias importances and their
    shuffled-prior control."""
    path = tmp_path_factory.mktemp("seeds") / "spec.yaml"
    path.write_text(TINY_KPNN)
    return path


@pytest.fixture(scope="module")
def one_seed(tiny: Path):
    return train_and_evaluate(pknet.load_spec(tiny))


@pytest.fixture(scope="module")
def three_seeds(tiny: Path):
    return train_and_evaluate(pknet.load_spec(tiny, {"evaluate.seeds": 3}))


def leaves(trained) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(trained.params)]


def test_seed_0_keeps_the_one_seed_keys_and_other_seeds_draw_their_own() -> None:
    members = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 1)]
    keys = {}
    for purpose in (PURPOSE_INIT, PURPOSE_SHUFFLE):
        drawn = jax.random.key_data(jax.jit(lambda p=purpose: member_keys(5, p, members))())
        for (s, k), key in zip(members, drawn, strict=True):
            path = (purpose, k) if s == 0 else (PURPOSE_REPLICATE, s, purpose, k)
            np.testing.assert_array_equal(key, jax.random.key_data(stream_key(5, *path)))
            keys[purpose, s, k] = tuple(np.asarray(key).tolist())
    assert len(set(keys.values())) == len(keys)  # no member shares a stream with another


@pytest.mark.slow
def test_seed_0_of_an_ensemble_is_the_one_seed_run(one_seed, three_seeds) -> None:
    """Equal up to float rounding: XLA may vectorise a vmapped batch of 6 models unlike one of
    2 (on `examples/kpnn_tcr` the checkpoints are identical byte for byte)."""
    n_folds = len(one_seed.splits)
    assert three_seeds.members == members_of(range(3), n_folds)
    for a, b in zip(leaves(one_seed.trained), leaves(three_seeds.trained), strict=True):
        np.testing.assert_allclose(b[:n_folds], a, rtol=1e-5, atol=1e-6)
        assert not np.allclose(b[:n_folds], b[n_folds : 2 * n_folds])  # seed 1 is another
    for a, b in zip(one_seed.fold_metrics, three_seeds.fold_metrics[:n_folds], strict=True):
        assert b == pytest.approx(a, abs=1e-6)
    for k in range(n_folds):
        np.testing.assert_allclose(three_seeds.test_scores[k], one_seed.test_scores[k], rtol=1e-5)


@pytest.mark.slow
def test_metrics_per_seed_and_fold_and_of_the_mean_over_seeds(three_seeds) -> None:
    doc, outcome = three_seeds.metrics_document(), three_seeds
    y, n_folds = outcome.dataset.y, len(outcome.splits)
    assert doc["seeds"] == 3
    assert [(f["seed"], f["fold"]) for f in doc["folds"]] == outcome.members
    aucs = [
        skm.roc_auc_score(y[outcome.splits[k].test], outcome.test_scores[m])
        for m, (_, k) in enumerate(outcome.members)
    ]
    assert [f["metrics"]["roc_auc"] for f in doc["folds"]] == pytest.approx(aucs)
    assert doc["summary"]["roc_auc"]["mean"] == pytest.approx(np.mean(aucs))
    assert doc["summary"]["roc_auc"]["sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert doc["summary"]["roc_auc"]["n"] == 3 * n_folds
    rows = np.concatenate([s.test for s in outcome.splits])

    def pooled_auc(per_fold: list[np.ndarray]) -> float:
        return skm.roc_auc_score(y[rows], np.concatenate(per_fold))

    seeds = [outcome.test_scores[s * n_folds : (s + 1) * n_folds] for s in range(3)]
    mean = [np.mean([seed[k] for seed in seeds], axis=0) for k in range(n_folds)]
    assert doc["out_of_fold"]["metrics"]["roc_auc"] == pytest.approx(pooled_auc(mean))
    per_seed = [pooled_auc(seed) for seed in seeds]
    assert [p["out_of_fold"]["metrics"]["roc_auc"] for p in doc["per_seed"]] == pytest.approx(
        per_seed
    )
    assert doc["seed_summary"]["roc_auc"]["sd"] == pytest.approx(np.std(per_seed, ddof=1))


@pytest.mark.slow
def test_importances_are_over_every_member_with_a_control_from_the_same_seeds(
    one_seed, three_seeds
) -> None:
    table = three_seeds.importances.set_index("node")
    columns = [f"seed_{s}_fold_{k}" for s, k in three_seeds.members]
    values = table[columns].to_numpy()
    np.testing.assert_allclose(table["mean"], values.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(table["sd"], values.std(axis=1, ddof=1), rtol=1e-5)
    one = one_seed.importances.set_index("node").loc[table.index]
    for k in range(len(one_seed.splits)):
        np.testing.assert_allclose(table[f"seed_0_fold_{k}"], one[f"fold_{k}"], atol=1e-5)
    # the control's spread is over the seeds' models too: not the one-seed control's
    assert not np.allclose(table["control_sd"], one["control_sd"])
    assert np.isfinite(table[["control_mean", "control_sd"]].to_numpy()).all()


@pytest.mark.slow
def test_seeds_per_chunk_is_the_most_seeds_that_fit(tiny: Path, monkeypatch) -> None:
    outcome = train_and_evaluate(pknet.load_spec(tiny, {"train.epochs": 1, "explain": []}))
    program, n_folds = outcome.program, len(outcome.splits)
    sizes = {"batch": 20, "held_out": 20, "data_bytes": 10_000, "keeps_best": True}

    def total(seeds: int) -> int:
        optimizer = program.optimizer(steps_per_epoch=1)
        return memory.estimate_training_memory(
            program, optimizer, folds=seeds * n_folds, **sizes
        ).total

    for budget_seeds in (1, 3, 7):
        available = int(total(budget_seeds) / memory.HEADROOM) + 1
        monkeypatch.setattr(memory, "available_bytes", lambda _, a=available: a)
        brute = max(s for s in range(1, 11) if total(s) <= memory.HEADROOM * available)
        assert brute == budget_seeds
        chunk = memory.seeds_per_chunk(program, seeds=10, folds=n_folds, **sizes)
        assert chunk == brute


@pytest.mark.slow
def test_seeds_that_do_not_fit_together_train_in_chunks_alike(
    tiny: Path, three_seeds, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("pknet.runtime.run.seeds_per_chunk", lambda *_, **__: 2)
    said: list[str] = []
    spec = pknet.load_spec(tiny, {"evaluate.seeds": 3})
    result = run(spec, out=tmp_path / "run", log=said.append)
    chunked = result.outcome
    assert chunked.seed_chunks == [[0, 1], [2]]
    assert any("in 2 chunks of up to 2 seeds" in line for line in said)
    assert result.metrics["seeds"] == 3
    for a, b in zip(leaves(chunked.trained), leaves(three_seeds.trained), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(chunked.fold_metrics, three_seeds.fold_metrics, strict=True):
        assert a == pytest.approx(b, abs=1e-6)
    manifest = (tmp_path / "run" / "manifest.json").read_text()
    assert '"seed_chunks"' in manifest
    assert "in 2 chunks of up to 2 seeds" in (tmp_path / "run" / "report.md").read_text()


@pytest.mark.slow
def test_predict_scores_with_every_member(tiny: Path, tmp_path: Path) -> None:
    spec = pknet.load_spec(tiny, {"evaluate.seeds": 2, "explain": []})
    result = run(spec, out=tmp_path / "run")
    outcome = result.outcome
    table = predict(tmp_path / "run", DATA)
    members = [f"score_seed_{s}_fold_{k}" for s, k in outcome.members]
    assert [c for c in table.columns if c.startswith("score_")] == members
    np.testing.assert_allclose(table["score"], table[members].mean(axis=1), rtol=1e-6)
    # each sample's held-out model scores it as in the run
    held_out = pd.read_csv(tmp_path / "run" / "predictions.csv").set_index("sample")
    assert list(held_out.columns[-3:]) == ["score", "score_seed_0", "score_seed_1"]
    by_sample = table.set_index("sample").loc[held_out.index]
    for s in range(2):
        mine = [by_sample[f"score_seed_{s}_fold_{k}"].iloc[i] for i, k in enumerate(held_out.fold)]
        np.testing.assert_allclose(mine, held_out[f"score_seed_{s}"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        held_out["score"], held_out[["score_seed_0", "score_seed_1"]].mean(axis=1), rtol=1e-6
    )


def test_a_closed_form_model_with_several_seeds_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"extends: {ROOT / 'examples' / 'perturbation_diffusion' / 'baseline.yaml'}\n"
        "evaluate: {seeds: 2}\n"
    )
    with pytest.raises(RunError) as caught:
        train_and_evaluate(pknet.load_spec(path))
    assert caught.value.problems[0].path == "evaluate.seeds"
    assert "closed-form" in caught.value.format()
