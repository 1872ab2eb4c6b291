"""The base of layers whose arrays are not trained by gradient steps (diffusion, pca, node2vec)."""

from __future__ import annotations

import equinox as eqx


class FixedLayer(eqx.Module):
    """A layer the `weights` and `bias` loss groups skip: it has no trained weight or bias."""

    @property
    def weight(self) -> None:
        """No trained weight (the `weights` loss group skips this layer)."""
        return None

    @property
    def bias(self) -> None:
        """No bias."""
        return None
