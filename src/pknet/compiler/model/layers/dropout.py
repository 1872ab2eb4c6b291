"""Inverted dropout, shared by the layers that drop their inputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray


def inverted_dropout(x: Array, rate: float, key: PRNGKeyArray | None) -> Array:
    """`x` with each entry zeroed with probability `rate` and the rest scaled by
    `1 / (1 - rate)`; the identity without a key (inference) or at rate 0."""
    if key is None or rate == 0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)
