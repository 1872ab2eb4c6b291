"""Activation functions by the names the spec uses (`activation` of the layer specs)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import jax
from jaxtyping import Array, Float


def _linear(x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    return x


ACTIVATIONS: MappingProxyType[str, Callable[[Array], Array]] = MappingProxyType(
    {
        "sigmoid": jax.nn.sigmoid,
        "tanh": jax.numpy.tanh,
        "relu": jax.nn.relu,
        "gelu": jax.nn.gelu,  # tanh approximation (JAX's default)
        "softplus": jax.nn.softplus,
        "linear": _linear,
    }
)
"""Spec activation name -> elementwise function."""


def check_activation_and_dropout(activation: str, dropout: float) -> None:
    """The invariants every layer shares: a known activation and a dropout rate in [0, 1)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation `{activation}`; use one of {list(ACTIVATIONS)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
