"""The `vae` model kind: an encoder stack, a Gaussian latent and a dense decoder (NetworkVI).

`Vae(x, key=...)` returns a `VaeOutput`: the reconstruction (the mean for `recon(mse)`, the
log-rate for `recon(poisson)`, the log-mean for `recon(nb)`), the latent posterior's mean and
log-variance, and the per-feature log inverse-dispersion (used by `recon(nb)` only). With a key
the latent is sampled (reparameterisation) and dropout is on; without one the latent is its mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NamedTuple, final

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.model.base import AbstractModel, Trainer, check_unique_names, layer_groups
from pknet.compiler.model.layers import DenseLayer
from pknet.compiler.model.layers.chain import apply_chain
from pknet.compiler.model.stack import build_stack
from pknet.specs.schema.model import LATENT_LAYER, RECONSTRUCTION_LAYER, VaeModelSpec


class VaeOutput(NamedTuple):
    """What a VAE gives for one example (a batch when vmapped)."""

    reconstruction: Float[Array, " n_features"]
    mean: Float[Array, " latent"]
    logvar: Float[Array, " latent"]
    log_dispersion: Float[Array, " n_features"]


@final
class Vae(AbstractModel):
    """Encoder layers -> `latent` (mean, log-variance) -> decoder layers -> `reconstruction`."""

    trainer: ClassVar[Trainer] = "minibatch"
    embeds: ClassVar[bool] = True

    encoder: tuple[eqx.Module, ...]
    latent: DenseLayer
    decoder: tuple[DenseLayer, ...]
    log_dispersion: Float[Array, " n_features"]

    def __init__(
        self, encoder: tuple[eqx.Module, ...], latent: DenseLayer, decoder: tuple[DenseLayer, ...]
    ):
        """`latent` gives the mean and log-variance (twice the latent size); the last decoder
        layer gives the reconstruction (one value per input feature)."""
        self.encoder = encoder
        self.latent = latent
        self.decoder = decoder
        self.log_dispersion = jnp.zeros(decoder[-1].units, latent.weight.dtype)

    def __check_init__(self) -> None:
        check_unique_names(self.layers)

    @property
    def layers(self) -> tuple[eqx.Module, ...]:
        """Every layer in order: encoder, latent, decoder, reconstruction."""
        return (*self.encoder, self.latent, *self.decoder)

    @property
    def latent_size(self) -> int:
        return self.latent.units // 2

    @property
    def n_parameters(self) -> int:
        """Trainable scalars of the layers plus one log inverse-dispersion per feature."""
        return sum(layer.n_parameters for layer in self.layers) + self.log_dispersion.shape[-1]

    def param_groups(self) -> Mapping[str, list[Array]]:
        """`weights`, `bias` and each layer (encoder, `latent`, decoder, `reconstruction`)."""
        return layer_groups(self.layers)

    def output_width(self, n_features: int) -> int:
        """The reconstruction's width: one value per input feature."""
        return self.decoder[-1].units

    def encode(
        self, x: Float[Array, " n_features"], *, key: PRNGKeyArray | None = None
    ) -> tuple[Float[Array, " latent"], Float[Array, " latent"]]:
        """The posterior's mean and log-variance."""
        stats = self.latent(apply_chain(self.encoder, x, key))
        return stats[: self.latent_size], stats[self.latent_size :]

    def __call__(
        self, x: Float[Array, " n_features"], *, key: PRNGKeyArray | None = None
    ) -> VaeOutput:
        encode_key = sample_key = decode_key = None
        if key is not None:
            encode_key, sample_key, decode_key = jax.random.split(key, 3)
        mean, logvar = self.encode(x, key=encode_key)
        z = mean
        if sample_key is not None:
            z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(sample_key, mean.shape, mean.dtype)
        reconstruction = apply_chain(self.decoder, z, decode_key)
        return VaeOutput(reconstruction, mean, logvar, self.log_dispersion)


def build_vae(
    spec: VaeModelSpec,
    encoder: tuple[eqx.Module, ...],
    encoder_width: int,
    n_features: int,
    *,
    key: PRNGKeyArray,
) -> Vae:
    """The VAE of `spec` on the built `encoder` (`encoder_width` outputs): the linear `latent`
    layer, the decoder's dense layers and the linear `reconstruction` of `n_features` values."""
    keys = jax.random.split(key, len(spec.decoder) + 2)
    latent = DenseLayer(
        encoder_width, 2 * spec.latent, activation="linear", name=LATENT_LAYER, key=keys[0]
    )
    hidden, width = build_stack(spec.decoder, spec.latent, keys[1:-1], gives_outputs=False)
    reconstruction = DenseLayer(
        width, n_features, activation="linear", name=RECONSTRUCTION_LAYER, key=keys[-1]
    )
    return Vae(encoder, latent, (*hidden, reconstruction))


def kl_divergence(mean: Array, logvar: Array) -> Array:
    """KL(N(mean, exp(logvar)) || N(0, I)), summed over the last axis."""
    return 0.5 * jnp.sum(jnp.exp(logvar) + mean**2 - 1.0 - logvar, axis=-1)


def reconstruction_nll(likelihood: str, x: Array, output: VaeOutput) -> Array:
    """Negative log-likelihood of `x` per example, summed over features.

    `mse`: the sum of squared errors (a unit-variance Gaussian up to a constant and a factor 2);
    `poisson`: rate `exp(reconstruction)`; `nb`: negative binomial with mean
    `exp(reconstruction)` and inverse dispersion `exp(log_dispersion)` (scVI's parametrisation).
    """
    r = output.reconstruction
    if likelihood == "mse":
        return jnp.sum((x - r) ** 2, axis=-1)
    if likelihood == "poisson":
        return jnp.sum(jnp.exp(r) - x * r + jax.scipy.special.gammaln(x + 1.0), axis=-1)
    theta = jnp.exp(output.log_dispersion)
    log_theta_mu = jnp.logaddexp(output.log_dispersion, r)  # log(theta + mu)
    log_likelihood = (
        jax.scipy.special.gammaln(x + theta)
        - jax.scipy.special.gammaln(theta)
        - jax.scipy.special.gammaln(x + 1.0)
        + theta * (output.log_dispersion - log_theta_mu)
        + x * (r - log_theta_mu)
    )
    return -jnp.sum(log_likelihood, axis=-1)


def reconstruction_mean(likelihood: str, output: VaeOutput) -> Array:
    """The expected value of the reconstruction."""
    return output.reconstruction if likelihood == "mse" else jnp.exp(output.reconstruction)
