"""The `dense` layer: a fully connected layer, `act(x @ weight + bias)`."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.model.layers.activations import ACTIVATIONS, check_activation_and_dropout
from pknet.specs.schema.model import DenseLayerSpec


class DenseLayer(eqx.Module):
    """`act(dropout(x) @ weight + bias)`; the last layer skips `act` and returns logits.

    Dropout (inverted) applies to the layer's inputs, and only when a `key` is given.
    Init: `weight ~ U(-1/sqrt(in), 1/sqrt(in))`, bias 0.
    """

    weight: Float[Array, "in_features units"]
    bias: Float[Array, " units"] | None
    name: str = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    dropout: float = eqx.field(static=True)
    last: bool = eqx.field(static=True)

    def __init__(self, in_features: int, spec: DenseLayerSpec, *, last: bool, key: PRNGKeyArray):
        limit = 1.0 / max(in_features, 1) ** 0.5
        self.weight = jax.random.uniform(
            key, (in_features, spec.units), minval=-limit, maxval=limit
        )
        self.bias = jnp.zeros(spec.units, self.weight.dtype) if spec.bias else None
        self.name = spec.name
        self.activation = spec.activation
        self.dropout = spec.dropout
        self.last = last

    def __check_init__(self) -> None:
        check_activation_and_dropout(self.activation, self.dropout)
        if self.bias is not None and self.bias.shape[-1] != self.weight.shape[-1]:
            raise ValueError(
                f"bias has {self.bias.shape[-1]} entries for {self.weight.shape[-1]} units"
            )

    @property
    def in_features(self) -> int:
        return self.weight.shape[-2]

    @property
    def units(self) -> int:
        return self.weight.shape[-1]

    @property
    def n_parameters(self) -> int:
        """Trainable scalars: `in_features * units` weights plus `units` biases."""
        return self.in_features * self.units + (0 if self.bias is None else self.units)

    def __call__(
        self, x: Float[Array, " in_features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " units"]:
        x = jnp.asarray(x, self.weight.dtype)
        if key is not None and self.dropout > 0:
            keep = jax.random.bernoulli(key, 1.0 - self.dropout, x.shape)
            x = jnp.where(keep, x / (1.0 - self.dropout), 0.0)
        z = x @ self.weight
        if self.bias is not None:
            z = z + self.bias
        return z if self.last else ACTIVATIONS[self.activation](z)
