"""The `pca` layer: principal components of its input, fitted in closed form on a training fold.

`fit_pca` is scikit-learn's `PCA(n_components, whiten)` with 0/1 (or general) sample weights:
the features are centred on their weighted mean and projected on the first right singular
vectors of the centred, row-weighted matrix. Each component's sign makes its largest-magnitude
loading positive (scikit-learn's `svd_flip(..., u_based_decision=False)`), so a fit is unique.
With `whiten`, the projections are divided by the components' standard deviations (variance
with `n - 1` in the denominator, as scikit-learn computes it).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.model.layers.fixed import FixedLayer
from pknet.compiler.model.layers.registry import Wiring, builds
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import PcaLayerSpec


class PcaLayer(FixedLayer):
    """`((x - mean) @ components.T) * scale`; `fitted` sets the arrays from a fold's rows."""

    mean: Float[Array, " in_features"]
    components: Float[Array, "units in_features"]
    scale: Float[Array, " units"]
    name: str = eqx.field(static=True)
    whiten: bool = eqx.field(static=True)

    def __init__(
        self, in_features: int, components: int, *, whiten: bool = False, name: str = "pca"
    ):
        dtype = jax.dtypes.canonicalize_dtype(np.float64)  # float32 unless x64 is enabled
        self.mean = jnp.zeros(in_features, dtype)
        self.components = jnp.eye(components, in_features, dtype=dtype)
        self.scale = jnp.ones(components, dtype)
        self.name = name
        self.whiten = whiten

    @property
    def n_parameters(self) -> int:
        """Fitted scalars: the mean, the component loadings and their scales."""
        return self.mean.size + self.components.size + self.scale.size

    def fitted(self, x: Float[Array, "n in_features"], weight: Float[Array, " n"]) -> PcaLayer:
        """This layer fitted on the rows of `x` with `weight` > 0 (jit- and vmap-safe)."""
        mean, components, scale = fit_pca(x, weight, self.components.shape[0], self.whiten)
        return eqx.tree_at(
            lambda layer: (layer.mean, layer.components, layer.scale),
            self,
            (mean, components, scale),
        )

    def __call__(
        self, x: Float[Array, " in_features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " units"]:
        """`key` is accepted like other layers' and unused (no dropout)."""
        x = jnp.asarray(x, self.mean.dtype)
        return (self.components @ (x - self.mean)) * self.scale


def fit_pca(
    x: Float[Array, "n p"], weight: Float[Array, " n"], components: int, whiten: bool
) -> tuple[Float[Array, " p"], Float[Array, "k p"], Float[Array, " k"]]:
    """(mean, the first `components` loadings, the projections' scale factors) of the rows of
    `x` weighted by `weight`; `components` <= min(rows with weight, p)."""
    w = jnp.asarray(weight, x.dtype)
    total = jnp.maximum(w.sum(), 1.0)
    mean = w @ x / total
    _, singular, vt = jnp.linalg.svd((x - mean) * jnp.sqrt(w)[:, None], full_matrices=False)
    loadings = vt[:components]
    largest = jnp.argmax(jnp.abs(loadings), axis=1)
    signs = jnp.sign(jnp.take_along_axis(loadings, largest[:, None], axis=1))
    loadings = loadings * jnp.where(signs == 0, 1.0, signs)
    if not whiten:
        return mean, loadings, jnp.ones(components, x.dtype)
    std = singular[:components] / jnp.sqrt(jnp.maximum(total - 1.0, 1.0))
    return mean, loadings, 1.0 / jnp.maximum(std, jnp.finfo(x.dtype).tiny)


@builds(PcaLayerSpec)
def build_pca(
    spec: PcaLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[PcaLayer, int]:
    if spec.components > width:
        raise CompileError(
            Problem(
                f"the `pca` layer keeps {spec.components} components of {width} features",
                path=".components",
                hint=f"keep at most {width} components",
            )
        )
    return PcaLayer(width, spec.components, whiten=spec.whiten, name=spec.name), spec.components
