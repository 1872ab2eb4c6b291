"""A `vae` run end to end: training lowers the loss, metrics, embeddings, per-class importances,
the .h5ad copy and reproducibility."""

from __future__ import annotations

from pathlib import Path

import anndata
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pknet
from pknet.api import train_and_evaluate
from pknet.runtime.embedding import EMBEDDING_KEY, principal_components
from pknet.runtime.metrics import compute_metrics
from pknet.runtime.run import RunError, RunOutcome
from pknet.runtime.transforms import apply_input_stats

pytestmark = pytest.mark.slow  # end-to-end runs

EXAMPLE = Path(__file__).parents[2] / "examples" / "go_vae" / "spec.yaml"
QUICK = {
    "train.epochs": 5,
    "train.early_stopping": None,
    "evaluate.cv.folds": 2,
    "model.kl_warmup_epochs": 0,
    "explain.control": "none",
}
DENSE = {**QUICK, "model.layers": [{"kind": "dense", "units": 16}], "explain": [], "network": None}


@pytest.fixture(scope="module")
def outcome() -> RunOutcome:
    return train_and_evaluate(pknet.load_spec(EXAMPLE, QUICK))


def test_training_lowers_the_loss(outcome: RunOutcome) -> None:
    for history in outcome.trained.history:
        assert history["train_loss"][-1] < history["train_loss"][0]


def test_metrics_compare_held_out_reconstructions_with_inputs(outcome: RunOutcome) -> None:
    split = outcome.splits[0]
    stats = jax.tree.map(lambda a: np.asarray(a)[0], outcome.stats)
    inputs = apply_input_stats(jnp.asarray(outcome.dataset.x[split.test]), stats)
    model = outcome.trained.model(0)
    recon = jax.vmap(lambda x: model(x).reconstruction)(inputs)  # mse: the mean itself
    expected = compute_metrics(["mse", "r2"], np.ravel(inputs), np.ravel(recon), "regression")
    for name, value in expected.items():
        assert outcome.fold_metrics[0][name] == pytest.approx(value, rel=1e-5)
    assert outcome.test_scores is None


def test_embeddings_are_each_folds_posterior_means(outcome: RunOutcome) -> None:
    n = len(outcome.dataset.samples)
    assert outcome.embeddings.shape == (2, n, 10)
    stats = jax.tree.map(lambda a: np.asarray(a)[1], outcome.stats)
    inputs = apply_input_stats(jnp.asarray(outcome.dataset.x[:3]), stats)
    mean = jax.vmap(lambda x: outcome.trained.model(1).encode(x)[0])(inputs)
    np.testing.assert_allclose(outcome.embeddings[1, :3], mean, rtol=1e-5, atol=1e-6)


def test_activation_auc_is_reported_per_cell_type(outcome: RunOutcome) -> None:
    methods = set(outcome.importances["method"])
    assert methods == {f"activation_auc[{c}]" for c in outcome.dataset.classes}
    terms = outcome.importances[outcome.importances["kind"] == "term"]
    assert terms["mean"].between(0, 1).all() and len(terms) > 0


def test_principal_components_are_deterministic_and_centred() -> None:
    points = np.random.default_rng(0).normal(size=(50, 4)) @ np.diag([5.0, 2.0, 1.0, 0.5])
    pcs = principal_components(points)
    np.testing.assert_allclose(pcs.mean(axis=0), 0, atol=1e-12)
    assert pcs[:, 0].var() > pcs[:, 1].var()
    assert abs(np.corrcoef(pcs[:, 0], points[:, 0])[0, 1]) > 0.95  # the widest axis comes first
    flipped = principal_components(-points)  # the axes keep their sign, so the scores flip
    np.testing.assert_allclose(flipped, -pcs, atol=1e-9)


def test_the_run_directory_has_the_annotated_copy_and_the_plot(tmp_path: Path) -> None:
    result = pknet.run(pknet.load_spec(EXAMPLE, DENSE), out=tmp_path / "run")
    run_dir = result.run_dir
    adata = anndata.read_h5ad(run_dir / "embedding.h5ad")
    embeddings = result.outcome.embeddings
    assert list(adata.obs_names) == list(result.outcome.dataset.samples)
    np.testing.assert_array_equal(adata.obsm[EMBEDDING_KEY], embeddings[0])
    np.testing.assert_array_equal(adata.obsm[f"{EMBEDDING_KEY}_fold1"], embeddings[1])
    assert set(adata.obs["pknet_target"]) == set(result.outcome.dataset.classes)
    assert (run_dir / "figures" / "embedding_pca.png").stat().st_size > 0
    assert not (run_dir / "predictions.csv").exists()


def test_the_same_seed_gives_the_same_embedding() -> None:
    first = train_and_evaluate(pknet.load_spec(EXAMPLE, DENSE)).embeddings
    again = train_and_evaluate(pknet.load_spec(EXAMPLE, DENSE)).embeddings
    other = train_and_evaluate(pknet.load_spec(EXAMPLE, {**DENSE, "seed": 1})).embeddings
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_predict_embeds_new_samples_like_fold_0(tmp_path: Path) -> None:
    spec = pknet.load_spec(EXAMPLE, DENSE)
    result = pknet.run(spec, out=tmp_path / "run")
    table = pknet.predict(result.run_dir, spec.data.expression.file)
    assert list(table["sample"]) == list(result.outcome.dataset.samples)
    latent = table[[f"latent_{i}" for i in range(10)]].to_numpy()
    np.testing.assert_allclose(latent, result.outcome.embeddings[0], rtol=1e-5, atol=1e-6)


def test_a_count_likelihood_on_standardised_inputs_is_an_error() -> None:
    spec = pknet.load_spec(EXAMPLE, {**DENSE, "loss": "recon(nb) + kl"})
    with pytest.raises(RunError) as caught:
        train_and_evaluate(spec)
    text = caught.value.format()
    assert "loss: `recon(nb)` is a likelihood of counts" in text
    assert "standardised per fold" in text
