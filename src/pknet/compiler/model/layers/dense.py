"""The `dense` layer: a fully connected layer, `act(x @ weight + bias)`."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.model.layers.activations import ACTIVATIONS, check_activation_and_dropout
from pknet.compiler.model.layers.dropout import inverted_dropout
from pknet.compiler.model.layers.registry import Wiring, builds, output_activation
from pknet.specs.schema.model import DenseLayerSpec


class DenseLayer(eqx.Module):
    """`act(dropout(x) @ weight + bias)`; a last layer has the `linear` activation and returns
    logits.

    Dropout (inverted) applies to the layer's inputs, and only when a `key` is given.
    Init: `weight ~ U(-1/sqrt(in), 1/sqrt(in))`, bias 0.
    """

    weight: Float[Array, "in_features units"]
    bias: Float[Array, " units"] | None
    name: str = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    dropout: float = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        units: int,
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        use_bias: bool = True,
        name: str = "dense",
        key: PRNGKeyArray,
    ):
        limit = 1.0 / max(in_features, 1) ** 0.5
        self.weight = jax.random.uniform(key, (in_features, units), minval=-limit, maxval=limit)
        self.bias = jnp.zeros(units, self.weight.dtype) if use_bias else None
        self.name = name
        self.activation = activation
        self.dropout = dropout

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
    def last(self) -> bool:
        """Whether it returns logits (no activation), as the last layer of a model does."""
        return self.activation == "linear"

    @property
    def n_parameters(self) -> int:
        """Trainable scalars: `in_features * units` weights plus `units` biases."""
        return self.in_features * self.units + (0 if self.bias is None else self.units)

    def __call__(
        self, x: Float[Array, " in_features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " units"]:
        x = inverted_dropout(jnp.asarray(x, self.weight.dtype), self.dropout, key)
        z = x @ self.weight
        if self.bias is not None:
            z = z + self.bias
        return ACTIVATIONS[self.activation](z)


@builds(DenseLayerSpec)
def build_dense(
    spec: DenseLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[DenseLayer, int]:
    layer = DenseLayer(
        width,
        spec.units,
        activation=output_activation(spec.activation, last),
        dropout=spec.dropout,
        use_bias=spec.bias,
        name=spec.name,
        key=key,
    )
    return layer, spec.units
