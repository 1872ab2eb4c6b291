"""The layer registry: each layer spec class -> the function that builds its layer.

A builder gets the spec, the width of its input, the network wiring (network-wired kinds only),
whether it is the model's last layer (which gives logits: no activation) and a key; it calls the
layer's spec-free constructor and returns the layer with the width of its output. Each layer
module registers its builders with `@builds(SpecClass)`; every module of this package is imported
before the first lookup, so a new layer kind needs no edit here.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol, TypeVar

import equinox as eqx
import numpy as np
from jaxtyping import PRNGKeyArray

from pknet.compiler.network.network import Network
from pknet.specs.schema.model import LayerSpecBase


class Wiring(NamedTuple):
    """What a network-wired layer reads: the network, its input nodes (one data column each, in
    order) and its output nodes."""

    network: Network
    inputs: Sequence[int] | np.ndarray
    outputs: Sequence[int] | np.ndarray


class LayerBuilder(Protocol):
    def __call__(
        self,
        spec: LayerSpecBase,
        width: int,
        wiring: Wiring | None,
        *,
        last: bool,
        key: PRNGKeyArray,
    ) -> tuple[eqx.Module, int]: ...


B = TypeVar("B", bound=Callable[..., tuple[eqx.Module, int]])

LAYER_BUILDERS: dict[type[LayerSpecBase], LayerBuilder] = {}
"""Layer spec class -> builder; `@builds` and `register_layer` add a kind."""


def register_layer(spec_class: type[LayerSpecBase], builder: LayerBuilder) -> None:
    """Build layers of `spec_class` with `builder` (once per class)."""
    if spec_class in LAYER_BUILDERS:
        raise ValueError(f"{spec_class.__name__} already has a layer builder")
    LAYER_BUILDERS[spec_class] = builder


def builds(spec_class: type[LayerSpecBase]) -> Callable[[B], B]:
    """Register the decorated function as the builder of `spec_class` layers."""

    def register(builder: B) -> B:
        register_layer(spec_class, builder)
        return builder

    return register


@functools.cache
def import_layer_modules() -> None:
    """Import every module of this package, which registers their builders."""
    for module in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        importlib.import_module(f"{__package__}.{module.name}")


def layer_builder(spec: LayerSpecBase) -> LayerBuilder:
    """The builder of `spec`'s layer kind."""
    import_layer_modules()
    builder = LAYER_BUILDERS.get(type(spec))
    if builder is None:
        raise TypeError(
            f"no layer is built for specs of type {type(spec).__name__}; "
            "register one with `@builds`"
        )
    return builder


def output_activation(activation: str, last: bool) -> str:
    """A last layer gives logits: no activation."""
    return "linear" if last else activation
