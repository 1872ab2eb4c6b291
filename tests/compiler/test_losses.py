"""The loss DSL compiled to JAX: values against NumPy, checks against the task, penalties."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import pknet
from pknet.compiler.model.losses import CompiledLoss, compile_loss
from pknet.errors import CompileError

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
    value = _data_loss(CompiledLoss("bce", 1.0, ()), logits, y, w)
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_ce_and_mse_match_numpy() -> None:
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    w = np.ones(6, np.float32)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ce = _data_loss(CompiledLoss("ce", 1.0, ()), logits, y, w)
    np.testing.assert_allclose(ce, -log_p[np.arange(6), y].mean(), rtol=1e-5)
    target = rng.normal(size=6).astype(np.float32)
    mse = _data_loss(CompiledLoss("mse", 1.0, ()), logits[:, :1], target, w)
    np.testing.assert_allclose(mse, ((logits[:, 0] - target) ** 2).mean(), rtol=1e-5)


def test_penalties_follow_keras_regularisers() -> None:
    loss = compile_loss(spec_with("bce + 0.5 * l1(bias) + 0.25 * l2(weights)"), "binary", 1, 2)
    arrays = {"bias": [jnp.array([1.0, -2.0])], "weights": [jnp.array([3.0]), jnp.array([-1.0])]}
    penalty = loss.penalty(None, lambda _, group: arrays[group])
    np.testing.assert_allclose(penalty, 0.5 * 3.0 + 0.25 * (9.0 + 1.0))


def test_coefficients_distribute_over_the_expression() -> None:
    loss = compile_loss(spec_with("2 * (bce + 0.1 * l1(bias))"), "binary", 1, 2)
    assert loss.data_coefficient == 2.0
    assert loss.penalties == ((pytest.approx(0.2), "l1", "bias"),)


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
