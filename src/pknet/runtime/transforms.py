"""Fold-safe input transforms: mean imputation and standardisation fitted on training rows only.

The statistics of one fold are an `InputStats`; `stack_stats` gives them a leading fold axis so
that the training step can `jax.vmap` over folds, and `apply_input_stats` runs unchanged on
NumPy arrays, JAX arrays and tracers inside `jit`/`vmap`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

FIT_CHUNK_ROWS = 256  # rows read at once while fitting statistics


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class InputStats:
    """Per-feature statistics: missing values become `fill`, then `(x - shift) / scale`.

    Each field is float32 `(p,)`, or `(folds, p)` after `stack_stats`. A JAX pytree.
    """

    fill: np.ndarray
    shift: np.ndarray
    scale: np.ndarray


def identity_stats(p: int) -> InputStats:
    """Statistics that leave `p` features unchanged (fill 0, shift 0, scale 1)."""
    return InputStats(
        np.zeros(p, dtype=np.float32), np.zeros(p, dtype=np.float32), np.ones(p, dtype=np.float32)
    )


def fit_input_stats(
    x: np.ndarray,
    train_idx: np.ndarray,
    *,
    standardize: bool,
    with_mean: bool = True,
    with_std: bool = True,
    impute_mean: bool = False,
) -> InputStats:
    """Fit imputation and standardisation on the rows `train_idx` of `x` (samples x features).

    Imputation uses the NaN-ignoring training mean (0 for a feature missing in every training
    row). Standardisation is computed on the imputed training rows, as an imputer followed by a
    scaler would: population standard deviation, with zero deviations replaced by 1. Rows are
    read in chunks and summed in float64, so no copy of the training rows is made.
    """
    stats = identity_stats(x.shape[1])
    rows = np.asarray(train_idx)
    if not (standardize or impute_mean) or len(rows) == 0:
        return stats
    fill = stats.fill
    if impute_mean:
        total = _column_sums(x, rows, lambda chunk: np.where(np.isnan(chunk), 0.0, chunk))
        count = _column_sums(x, rows, lambda chunk: ~np.isnan(chunk))
        fill = np.divide(total, count, out=np.zeros_like(total), where=count > 0)

    def imputed(chunk: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(chunk), fill, chunk) if impute_mean else chunk

    shift, scale = stats.shift, stats.scale
    if standardize:
        mean = _column_sums(x, rows, imputed) / len(rows)
        shift = mean if with_mean else shift
        if with_std:
            squares = _column_sums(x, rows, lambda chunk: np.square(imputed(chunk) - mean))
            std = np.sqrt(squares / len(rows))
            scale = np.where(std > 0, std, 1.0)
    return InputStats(*(np.asarray(a, dtype=np.float32) for a in (fill, shift, scale)))


def _column_sums(
    x: np.ndarray, rows: np.ndarray, value: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Per-column float64 sum of `value(x[chunk])` over `rows`, `FIT_CHUNK_ROWS` rows at a time."""
    total = np.zeros(x.shape[1])
    for start in range(0, len(rows), FIT_CHUNK_ROWS):
        total += value(x[rows[start : start + FIT_CHUNK_ROWS]]).sum(axis=0, dtype=np.float64)
    return total


def apply_input_stats(x: np.ndarray | jax.Array, stats: InputStats) -> np.ndarray | jax.Array:
    """`(where(isnan(x), fill, x) - shift) / scale`, in NumPy or JAX (whichever `x` or `stats`
    is), broadcasting over leading axes."""
    arrays = (x, stats.fill, stats.shift, stats.scale)
    xp = jnp if any(isinstance(a, jax.Array) for a in arrays) else np
    return (xp.where(xp.isnan(x), stats.fill, x) - stats.shift) / stats.scale


def stack_stats(stats: Sequence[InputStats]) -> InputStats:
    """One `InputStats` whose fields have a leading fold axis, in the order given."""
    return InputStats(
        *(np.stack([getattr(s, f.name) for s in stats]) for f in dataclasses.fields(InputStats))
    )
