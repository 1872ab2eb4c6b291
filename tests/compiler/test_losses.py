"""The loss DSL compiled to JAX: values against NumPy, checks against the task, penalties."""

from __future__ import annotations

import inspect
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import pknet
from pknet.compiler.model.loss_terms import SCORES, TERMS
from pknet.compiler.model.losses import CompiledLoss, WeightedTerm, compile_loss
from pknet.compiler.model.vae import VaeOutput
from pknet.errors import CompileError
from pknet.specs.dsl import DATA_TERMS, LOSS_TERMS, parse_loss

EXAMPLE = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "spec.yaml"
rng = np.random.default_rng(0)


def spec_with(loss: str) -> pknet.Spec:
    return pknet.load_spec(EXAMPLE, {"loss": loss})


def _data_loss(loss: CompiledLoss, outputs: np.ndarray, y: np.ndarray, w: np.ndarray):
    """The loss of a penalty-free `loss` on one batch (the model is not read)."""
    return loss.total(None, jnp.asarray(outputs), None, jnp.asarray(y), w, None)


def test_bce_matches_numpy_with_sample_weights() -> None:
    logits = rng.normal(size=(8, 1)).astype(np.float32)
    y = rng.integers(0, 2, 8)
    w = np.array([1, 1, 1, 1, 1, 0, 0, 0], np.float32)
    p = 1 / (1 + np.exp(-logits[:, 0]))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))[:5].mean()
    value = _data_loss(CompiledLoss((WeightedTerm(1.0, "bce"),)), logits, y, w)
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_ce_and_mse_match_numpy() -> None:
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    w = np.ones(6, np.float32)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ce = _data_loss(CompiledLoss((WeightedTerm(1.0, "ce"),)), logits, y, w)
    np.testing.assert_allclose(ce, -log_p[np.arange(6), y].mean(), rtol=1e-5)
    target = rng.normal(size=6).astype(np.float32)
    mse = _data_loss(CompiledLoss((WeightedTerm(1.0, "mse"),)), logits[:, :1], target, w)
    np.testing.assert_allclose(mse, ((logits[:, 0] - target) ** 2).mean(), rtol=1e-5)


def test_penalties_follow_keras_regularisers() -> None:
    loss = compile_loss(spec_with("bce + 0.5 * l1(bias) + 0.25 * l2(weights)"), "binary", 1, 2)
    arrays = {"bias": [jnp.array([1.0, -2.0])], "weights": [jnp.array([3.0]), jnp.array([-1.0])]}
    penalty = loss.penalty(None, lambda _, group: arrays[group])
    np.testing.assert_allclose(penalty, 0.5 * 3.0 + 0.25 * (9.0 + 1.0))


def test_coefficients_distribute_over_the_expression() -> None:
    loss = compile_loss(spec_with("2 * (bce + 0.1 * l1(bias))"), "binary", 1, 2)
    assert loss.terms == (
        WeightedTerm(2.0, "bce"),
        WeightedTerm(pytest.approx(0.2), "l1", ("bias",)),
    )


@pytest.mark.parametrize(
    ("loss", "task", "n_outputs", "n_classes", "message"),
    [
        ("bce", "multiclass", 1, 10, "`bce` does not fit a multiclass target"),
        ("mse", "binary", 1, 2, "`mse` does not fit a binary target"),
        ("ce", "multiclass", 1, 10, "the model gives 1 output(s) but `ce` on this target needs 10"),
    ],
)
def test_losses_that_cannot_work_are_located_errors(loss, task, n_outputs, n_classes, message):
    with pytest.raises(CompileError) as caught:
        compile_loss(spec_with(loss), task, n_outputs, n_classes)
    text = caught.value.format()
    assert message in text
    assert "--set loss=" in text or "spec.yaml" in text


def test_the_term_table_gives_every_dsl_term_its_meaning() -> None:
    assert set(TERMS) == set(LOSS_TERMS)
    assert set(SCORES) == {*DATA_TERMS, "recon"}
    for name, function in TERMS.items():
        parameters = inspect.signature(function).parameters.values()
        options = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
        assert options == list(LOSS_TERMS[name].options), name
        reads_a_group = [p.name for p in parameters][:1] == ["arrays"]
        assert reads_a_group == (LOSS_TERMS[name].groups == 1), name


def test_a_vae_loss_sums_its_weighted_terms_per_example() -> None:
    x, r = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    mean, logvar = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    outputs = VaeOutput(*(jnp.asarray(a, jnp.float32) for a in (r, mean, logvar)), jnp.zeros(3))
    loss = CompiledLoss.from_expr(parse_loss("0.5 * kl + 2 * recon(mse)"), kl_warmup_epochs=4)
    kl = 0.5 * (np.exp(logvar) + mean**2 - 1 - logvar).sum(1)
    expected = 2 * ((x - r) ** 2).sum(1) + 0.5 * 0.25 * kl
    got = loss.per_example(outputs, jnp.asarray(x, jnp.float32), None, epoch=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(loss.predict(outputs), r, rtol=1e-6)
