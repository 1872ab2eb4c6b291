"""What every model kind is: an equinox module under `AbstractModel`, with its parameter groups.

Groups: `weights` (every layer's `weight`), `bias` (every layer's bias) and each layer's `name`
(all trainable arrays of that layer); a kind may add its own (auxiliary heads, named groups of
layers). `group_arrays` works unchanged on models whose arrays carry a leading fold axis (the
runtime vmaps over stacked models).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

Trainer = Literal["minibatch", "full_graph", "closed_form"]
WEIGHTS = "weights"
BIAS = "bias"


class AbstractModel(eqx.Module):
    """A model kind. `trainer` says how the runtime fits it: `minibatch` (gradient steps on one
    example at a time, vmapped), `full_graph` (gradient steps on all samples at once, over a
    sample graph) or `closed_form` (solved per fold, no gradient). `embeds`: it gives a latent
    embedding (`encode`) and is scored on reconstructing its inputs, not on a target."""

    trainer: eqx.AbstractClassVar[Trainer]
    embeds: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def __call__(self, *args: Any, key: jax.Array | None = None) -> Any:
        """One example's outputs (a sample-graph model: all samples'); dropout on with `key`."""

    def batched(self, x: Array, *, keys: Array | None = None) -> Any:
        """The outputs of a minibatch `x` (examples on the leading axis); dropout on with `keys`
        (one per example). The same as `vmap` over `__call__`, which it is unless a kind has a
        faster batched path (up to float summation order)."""
        if keys is None:
            return jax.vmap(lambda xi: self(xi))(x)
        return jax.vmap(lambda xi, ki: self(xi, key=ki))(x, keys)

    @abc.abstractmethod
    def param_groups(self) -> Mapping[str, list[Array]]:
        """Every parameter group the loss may name -> its trainable arrays."""

    @property
    @abc.abstractmethod
    def n_parameters(self) -> int:
        """Trainable (or fitted) scalars of one model (a leading fold axis is not counted)."""

    @abc.abstractmethod
    def output_width(self, n_features: int) -> int:
        """How many values the model gives per example for `n_features` inputs (the width the
        loss reads: logits, or a VAE's reconstruction)."""

    def graph_node_limit(self) -> tuple[int, str] | None:
        """The most samples a graph over the samples may have for this model, and the field
        path of the layer that sets it; None without a limit."""
        return None


class AbstractLayerStack(AbstractModel):
    """A model kind whose parameters are those of its `layers`: its groups are `weights`,
    `bias` and each layer's name."""

    layers: eqx.AbstractVar[tuple[eqx.Module, ...]]

    def param_groups(self) -> Mapping[str, list[Array]]:
        return layer_groups(self.layers)

    @property
    def n_parameters(self) -> int:
        return sum(layer.n_parameters for layer in self.layers)


def trainable(module: eqx.Module) -> list[Array]:
    """The trainable arrays of `module`, in leaf order."""
    return jax.tree.leaves(eqx.filter(module, eqx.is_inexact_array))


def layer_groups(
    layers: Sequence[eqx.Module], heads: Sequence[eqx.Module] = ()
) -> dict[str, list[Array]]:
    """`weights` and `bias` over `layers` and `heads`, then each layer's name -> its arrays."""
    parts = (*layers, *heads)
    return {
        WEIGHTS: [part.weight for part in parts if part.weight is not None],
        BIAS: [part.bias for part in parts if part.bias is not None],
        **{layer.name: trainable(layer) for layer in layers},
    }


def check_unique_names(layers: Sequence[eqx.Module]) -> None:
    """Layer names are parameter groups: each once."""
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        raise ValueError(f"layer names must be unique, got {names}")


def example_width(model: Callable[..., Array], n_features: int) -> int:
    """The last axis of what `model` gives for one example of `n_features` inputs."""
    # a lambda: JAX names a non-function callable by str(), which pretty-prints the whole model
    out = jax.eval_shape(lambda x: model(x), jnp.zeros(n_features, jnp.float32))
    return int(out.shape[-1])


def group_names(model: AbstractModel) -> tuple[str, ...]:
    """Every name `group_arrays` accepts."""
    return tuple(model.param_groups())


def group_arrays(model: AbstractModel, name: str) -> list[Array]:
    """The trainable arrays of parameter group `name` (see the module docstring)."""
    groups = model.param_groups()
    if name not in groups:
        raise ValueError(f"no parameter group `{name}`; the model has {list(groups)}")
    return groups[name]


def count_parameters(model: AbstractModel) -> int:
    """Trainable scalars of one model (a leading fold axis is not counted)."""
    return model.n_parameters
