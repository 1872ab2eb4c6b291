"""A stack whose head is a `ridge` layer: fixed (or per-fold fitted) layers, then a linear head
solved in closed form on each training fold (`pknet.runtime.ridge`), never by gradient steps."""

from __future__ import annotations

from typing import ClassVar, final

import equinox as eqx
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.model.base import (
    AbstractLayerStack,
    Trainer,
    check_unique_names,
    example_width,
)
from pknet.compiler.model.layers.chain import apply_chain


@final
class RidgeModel(AbstractLayerStack):
    """Layers applied in order to one example; the last one is the solved `ridge` head."""

    trainer: ClassVar[Trainer] = "closed_form"
    embeds: ClassVar[bool] = False

    layers: tuple[eqx.Module, ...]

    def __check_init__(self) -> None:
        check_unique_names(self.layers)

    def __call__(
        self, x: Float[Array, " n_features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " n_out"]:
        """`key` is passed on like other models' (these layers have no dropout)."""
        return apply_chain(self.layers, x, key)

    def output_width(self, n_features: int) -> int:
        """The head's width."""
        return example_width(self, n_features)
