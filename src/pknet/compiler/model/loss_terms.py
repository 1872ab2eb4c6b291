"""What each term of the loss DSL means: one table of pure functions keyed by the DSL's names.

The names, and whether a term takes a parameter group, are defined once in
`specs.dsl.LOSS_TERMS`. A term without a group reads the batch, `term(outputs, x, y, **options)`,
and gives one value per example (`outputs` is the vmapped model output). A term over a group reads
that group's arrays, `term(arrays, **options)`, and gives a scalar. The penalties follow Keras's
regularisers (used by CORNETO's KPNN): `l1 = Σ|w|`, `l2 = Σ w²`.

`SCORES` turns a model's outputs into what a data term predicts: P(class 1) for `bce`, class
probabilities for `ce`, values for `mse`, the expected reconstruction for `recon`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array

from pknet.compiler.model import trace_norm as trace_norms
from pknet.compiler.model.vae import (
    VaeOutput,
    kl_divergence,
    reconstruction_mean,
    reconstruction_nll,
)


def bce(outputs: Array, x: Array, y: Array) -> Array:
    """Binary cross-entropy of each example's first logit against its 0/1 target."""
    return optax.sigmoid_binary_cross_entropy(outputs[:, 0], y.astype(outputs.dtype))


def ce(outputs: Array, x: Array, y: Array) -> Array:
    """Cross-entropy of each example's logits against its class index."""
    return optax.softmax_cross_entropy_with_integer_labels(outputs, y)


def mse(outputs: Array, x: Array, y: Array) -> Array:
    """Mean squared error of each example's outputs against its target values."""
    return jnp.mean((outputs - y.reshape(len(y), -1)) ** 2, axis=-1)


def recon(outputs: VaeOutput, x: Array, y: Array, *, likelihood: str) -> Array:
    """A VAE's negative log-likelihood of each example's input under `likelihood`."""
    return reconstruction_nll(likelihood, x, outputs)


def kl(outputs: VaeOutput, x: Array, y: Array) -> Array:
    """A VAE's KL divergence of each example's latent posterior from the standard normal."""
    return kl_divergence(outputs.mean, outputs.logvar)


def l1(arrays: Sequence[Array]) -> Array:
    """Sum of absolute values over the group's arrays."""
    return sum(jnp.sum(jnp.abs(a)) for a in arrays)


def l2(arrays: Sequence[Array]) -> Array:
    """Sum of squares over the group's arrays."""
    return sum(jnp.sum(a * a) for a in arrays)


def trace_norm(arrays: Sequence[Array], *, mode: str) -> Array:
    """Sum of the nuclear norms of the group's task-stacked arrays (see `trace_norm`)."""
    return trace_norms.trace_norm(arrays, mode)


TERMS: Mapping[str, Callable[..., Array]] = MappingProxyType(
    {"bce": bce, "ce": ce, "mse": mse, "recon": recon, "kl": kl}
    | {"l1": l1, "l2": l2, "trace_norm": trace_norm}
)


def probability(outputs: Array) -> Array:
    """P(class 1) from each example's first logit."""
    return jax.nn.sigmoid(outputs[..., 0])


def probabilities(outputs: Array) -> Array:
    """Class probabilities from each example's logits."""
    return jax.nn.softmax(outputs, axis=-1)


def values(outputs: Array) -> Array:
    """The outputs themselves; one output per example as a vector."""
    return outputs[..., 0] if outputs.shape[-1] == 1 else outputs


def expected_reconstruction(outputs: VaeOutput, *, likelihood: str) -> Array:
    """The expected reconstruction under `likelihood`."""
    return reconstruction_mean(likelihood, outputs)


SCORES: Mapping[str, Callable[..., Array]] = MappingProxyType(
    {"bce": probability, "ce": probabilities, "mse": values, "recon": expected_reconstruction}
)
