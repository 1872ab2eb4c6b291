"""The `ridge` layer: a linear head whose weights are solved exactly, not trained by gradient.

`solve_ridge` is scikit-learn's `Ridge` objective with (0/1 or general) sample weights:
minimise `sum_i w_i (y_i - x_i W - b)^2 + alpha * sum(W^2)`, the intercept `b` unpenalised. With
an intercept both sides are centred on their weighted means first. It solves the `p x p` normal
equations when there are at least as many rows as features, else the `n x n` dual system
(`W = Xᵀ (X Xᵀ + alpha I)^-1 Y`), so the cost follows the smaller side.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from pknet.compiler.model.layers.registry import Wiring, builds
from pknet.specs.schema.model import RidgeLayerSpec


class RidgeLayer(eqx.Module):
    """`x @ weight + bias`; the weights start at zero and are set by `solve_ridge` per fold."""

    weight: Float[Array, "in_features units"]
    bias: Float[Array, " units"] | None
    name: str = eqx.field(static=True)
    alpha: float = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        units: int,
        *,
        alpha: float = 1.0,
        use_bias: bool = True,
        name: str = "ridge",
    ):
        dtype = jax.dtypes.canonicalize_dtype(np.float64)  # float32 unless x64 is enabled
        self.weight = jnp.zeros((in_features, units), dtype)
        self.bias = jnp.zeros(units, dtype) if use_bias else None
        self.name = name
        self.alpha = alpha

    @property
    def n_parameters(self) -> int:
        """Solved scalars: `in_features * units` weights plus `units` biases."""
        return self.weight.size + (0 if self.bias is None else self.bias.size)

    def __call__(
        self, x: Float[Array, " in_features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " units"]:
        """`key` is accepted like other layers' and unused (no dropout)."""
        z = jnp.asarray(x, self.weight.dtype) @ self.weight
        return z if self.bias is None else z + self.bias


def solve_ridge(
    x: Float[Array, "n p"],
    y: Float[Array, "n t"],
    weight: Float[Array, " n"],
    alpha: float,
    *,
    fit_intercept: bool,
) -> tuple[Float[Array, "p t"], Float[Array, " t"]]:
    """Ridge coefficients and intercepts (zeros without `fit_intercept`); jit- and vmap-safe."""
    w = jnp.asarray(weight, x.dtype)
    if fit_intercept:
        total = jnp.maximum(w.sum(), jnp.finfo(x.dtype).tiny)
        x_mean, y_mean = w @ x / total, w @ y / total
    else:
        x_mean, y_mean = jnp.zeros(x.shape[1], x.dtype), jnp.zeros(y.shape[1], x.dtype)
    root = jnp.sqrt(w)[:, None]
    xc, yc = (x - x_mean) * root, (y - y_mean) * root
    n, p = x.shape
    if p <= n:
        coef = jnp.linalg.solve(xc.T @ xc + alpha * jnp.eye(p, dtype=x.dtype), xc.T @ yc)
    else:
        coef = xc.T @ jnp.linalg.solve(xc @ xc.T + alpha * jnp.eye(n, dtype=x.dtype), yc)
    return coef, y_mean - x_mean @ coef


@builds(RidgeLayerSpec)
def build_ridge(
    spec: RidgeLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[RidgeLayer, int]:
    layer = RidgeLayer(width, spec.units, alpha=spec.alpha, use_bias=spec.bias, name=spec.name)
    return layer, spec.units
