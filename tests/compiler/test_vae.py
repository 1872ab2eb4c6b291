"""The `vae` model kind: its KL and reconstruction terms, sampling, gradients, loss checks."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy import stats

import pknet
from pknet.compiler.model.base import group_arrays
from pknet.compiler.model.losses import CompiledLoss, WeightedTerm, compile_loss
from pknet.compiler.model.model import build_model
from pknet.compiler.model.vae import Vae, VaeOutput, kl_divergence, reconstruction_nll
from pknet.specs.schema import VaeModelSpec

EXAMPLE = Path(__file__).parents[2] / "examples" / "go_vae" / "spec.yaml"
rng = np.random.default_rng(0)


def _vae_spec(**fields) -> VaeModelSpec:
    return VaeModelSpec.model_validate(
        {
            "kind": "vae",
            "latent": 3,
            "layers": [{"kind": "dense", "units": 6, "activation": "tanh"}],
            "decoder": [{"kind": "dense", "units": 5, "activation": "tanh"}],
            **fields,
        }
    )


def _output(n: int, d: int, reconstruction: np.ndarray, log_dispersion: np.ndarray) -> VaeOutput:
    zeros = jnp.zeros((n, 2))
    return VaeOutput(jnp.asarray(reconstruction), zeros, zeros, jnp.asarray(log_dispersion))


def test_kl_matches_the_closed_form_and_a_monte_carlo_estimate() -> None:
    mean = rng.normal(size=(4, 3))
    logvar = rng.normal(scale=0.5, size=(4, 3))
    sd = np.exp(0.5 * logvar)
    # KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2) / 2 - 1/2, summed over dimensions
    closed = np.sum(-np.log(sd) + (sd**2 + mean**2) / 2 - 0.5, axis=1)
    np.testing.assert_allclose(kl_divergence(jnp.asarray(mean), jnp.asarray(logvar)), closed, 1e-5)
    z = mean[0] + sd[0] * rng.normal(size=(200_000, 3))
    log_q = stats.norm.logpdf(z, mean[0], sd[0]).sum(axis=1)
    log_p = stats.norm.logpdf(z).sum(axis=1)
    assert abs(np.mean(log_q - log_p) - closed[0]) < 0.02
    assert float(kl_divergence(jnp.zeros(3), jnp.zeros(3))) == 0.0


def test_reconstruction_likelihoods_match_scipy() -> None:
    counts = rng.poisson(3.0, size=(5, 4)).astype(np.float32)
    log_mu = rng.normal(size=(5, 4)).astype(np.float32)
    log_theta = rng.normal(size=(5, 4)).astype(np.float32)
    out = _output(5, 4, log_mu, log_theta)
    mu, theta = np.exp(log_mu), np.exp(log_theta)
    expected = {
        "mse": ((counts - log_mu) ** 2).sum(axis=1),
        "poisson": -stats.poisson.logpmf(counts, mu).sum(axis=1),
        "nb": -stats.nbinom.logpmf(counts, theta, theta / (theta + mu)).sum(axis=1),
    }
    for likelihood, value in expected.items():
        got = reconstruction_nll(likelihood, jnp.asarray(counts), out)
        np.testing.assert_allclose(got, value, rtol=1e-4, err_msg=likelihood)


def test_kl_warmup_rises_linearly_to_the_coefficient() -> None:
    kl = WeightedTerm(0.5, "kl", warmup_epochs=4)
    assert [float(kl.weight(e)) for e in range(6)] == [0.0, 0.125, 0.25, 0.375, 0.5, 0.5]
    assert kl.weight(None) == 0.5
    assert WeightedTerm(0.5, "kl").weight(0) == 0.5


@pytest.mark.slow
def test_vae_samples_with_a_key_and_uses_the_mean_without() -> None:
    model = build_model(_vae_spec(), None, None, None, 4, key=jax.random.key(0))
    assert isinstance(model, Vae)
    x = jnp.asarray(rng.normal(size=4), jnp.float32)
    out = model(x)
    assert out.reconstruction.shape == (4,) and out.mean.shape == (3,)
    mean, _ = model.encode(x)
    np.testing.assert_array_equal(out.mean, mean)
    np.testing.assert_array_equal(model(x).reconstruction, out.reconstruction)
    sampled = [model(x, key=jax.random.key(i)).reconstruction for i in range(2)]
    assert not np.allclose(sampled[0], sampled[1])
    # 4*6+6 encoder, 6*6+6 latent (mean and log-variance), 3*5+5 and 5*4+4 decoder, 4 dispersions
    assert model.n_parameters == 30 + 42 + 20 + 24 + 4
    names = [layer.name for layer in model.layers]
    assert names == ["dense_1", "latent", "decoder_1", "reconstruction"]
    assert len(group_arrays(model, "reconstruction")) == 2


@pytest.mark.slow
def test_vae_loss_gradient_matches_finite_differences() -> None:
    with jax.enable_x64(True):
        model = build_model(_vae_spec(), None, None, None, 4, key=jax.random.key(1))
        params, static = eqx.partition(model, eqx.is_inexact_array)
        flat, unravel = ravel_pytree(params)
        assert flat.dtype == jnp.float64
        x = jnp.asarray(rng.poisson(2.0, size=(3, 4)), jnp.float64)
        loss = CompiledLoss(
            (
                WeightedTerm(1.0, "recon", options=(("likelihood", "nb"),)),
                WeightedTerm(0.7, "kl"),
                WeightedTerm(1e-2, "l2", ("weights",)),
            )
        )
        weight = jnp.ones(3)

        def objective(theta):
            m = eqx.combine(unravel(theta), static)
            out = jax.vmap(lambda xi: m(xi))(x)
            return loss.total(m, out, x, None, weight, group_arrays)

        eps = 1e-6
        steps = eps * jnp.eye(len(flat))
        fd = jax.vmap(lambda d: (objective(flat + d) - objective(flat - d)) / (2 * eps))(steps)
        np.testing.assert_allclose(jax.grad(objective)(flat), fd, rtol=1e-5, atol=1e-7)


def test_vae_loss_compiles_likelihood_kl_and_warmup() -> None:
    spec = pknet.load_spec(EXAMPLE, {"loss": "2 * recon(poisson) + 0.5 * kl + 1e-3 * l2(latent)"})
    loss = compile_loss(spec, "multiclass", 660, 10)
    assert loss.terms == (
        WeightedTerm(2.0, "recon", options=(("likelihood", "poisson"),)),
        WeightedTerm(0.5, "kl", warmup_epochs=10),
        WeightedTerm(1e-3, "l2", ("latent",)),
    )
    assert loss.likelihood == "poisson"
