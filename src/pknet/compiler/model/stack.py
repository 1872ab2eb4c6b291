"""The one layer-stack builder every model kind uses: layer specs -> layers, in order."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
from jaxtyping import PRNGKeyArray

from pknet.compiler.model.layers.registry import Wiring, layer_builder
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import LayerSpecBase


def build_stack(
    specs: Sequence[LayerSpecBase],
    width: int,
    keys: PRNGKeyArray,
    *,
    wiring: Wiring | None = None,
    gives_outputs: bool = True,
    first: int = 0,
) -> tuple[tuple[eqx.Module, ...], int]:
    """The layers of `specs` (one key each, `keys[i]`, stacked) on `width` inputs, and the width
    of the last one's output.

    With `gives_outputs`, the last layer returns logits (no activation); otherwise every layer
    applies its activation (e.g. a VAE's encoder). `first` is the index of `specs[0]` in
    `model.layers` (for error paths); a network-wired layer must be `model.layers[0]` and reads
    one data column per input node of `wiring`.
    """
    layers = []
    for i, (spec, key) in enumerate(zip(specs, keys, strict=True)):
        index = first + i
        if spec.network_wired:
            _check_wired(index, spec, wiring, width)
        last = gives_outputs and i == len(specs) - 1
        try:
            layer, width = layer_builder(spec)(spec, width, wiring, last=last, key=key)
        except CompileError as exc:
            raise _at_layer(index, exc) from None
        layers.append(layer)
    return tuple(layers), width


def _check_wired(index: int, spec: LayerSpecBase, wiring: Wiring | None, width: int) -> None:
    """A network-wired layer comes first and reads one data column per input node."""
    if index > 0:
        raise CompileError(
            Problem(
                f"a `{spec.kind}` layer reads the network's input nodes, so it must be the "
                "first layer",
                path=f"model.layers[{index}].kind",
                hint=f"move the {spec.kind} layer to `model.layers[0]`",
            )
        )
    if wiring is None:
        raise ValueError(f"a {spec.kind} layer needs `network`, `inputs` and `outputs`")
    if width != len(wiring.inputs):
        raise CompileError(
            Problem(
                f"the data give {width} feature columns for {len(wiring.inputs)} input nodes",
                path="network.inputs",
                hint="map exactly one data column to each input node, in `inputs` order",
            )
        )


def _at_layer(index: int, error: CompileError) -> CompileError:
    """Place a layer's problems at `model.layers[index]`: those without a path there, those
    with a path relative to the layer (`.field`) at its field."""
    where = f"model.layers[{index}]"
    problems = [
        dataclasses.replace(p, path=where + (p.path or ""))
        if not p.path or p.path.startswith(".")
        else p
        for p in error.problems
    ]
    return type(error)(problems)
