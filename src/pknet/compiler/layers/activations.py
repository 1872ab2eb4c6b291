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
