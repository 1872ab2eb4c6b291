"""Layers applied one after another, each with its own dropout key."""

from __future__ import annotations

from collections.abc import Sequence

import jax
from jaxtyping import Array, PRNGKeyArray


def layer_keys(key: PRNGKeyArray | None, n: int) -> list[PRNGKeyArray | None]:
    """One subkey per layer, or None for each when `key` is None (dropout off)."""
    return [None] * n if key is None else list(jax.random.split(key, n))


def apply_chain(layers: Sequence, x: Array, key: PRNGKeyArray | None) -> Array:
    """`x` through `layers` in order; dropout is on when `key` is given."""
    for layer, layer_key in zip(layers, layer_keys(key, len(layers)), strict=True):
        x = layer(x, key=layer_key)
    return x
