"""Closed-form fitting of the models whose head is a `ridge` layer.

Nothing before the head trains (the spec checks it), so the head of each fold is solved exactly
(`solve_ridge`) on the features the fixed layers give for that fold's training rows, after the
fold's input statistics; a `pca` layer on the way is fitted on the same rows first. All folds
are solved at once, vmapped, with padding rows weighted 0.
The result is a `TrainedFolds` like gradient training gives, so prediction, checkpoints and
`pknet predict` work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from pknet.compiler.model.layers.pca import PcaLayer
from pknet.compiler.model.layers.ridge import solve_ridge
from pknet.compiler.model.run_plan import RunPlan
from pknet.errors import CompileError, Problem
from pknet.runtime.devices import MemberShards
from pknet.runtime.train import PURPOSE_INIT, FoldRows, TrainedFolds, pad_rows, stream_key
from pknet.runtime.transforms import InputStats, apply_input_stats


def _fit_fold(
    params: eqx.Module,
    static: eqx.Module,
    x: jax.Array,
    y: jax.Array,
    index: jax.Array,
    weight: jax.Array,
    stats: InputStats,
) -> tuple[eqx.Module, jax.Array]:
    """One fold's parameters with the head solved (and `pca` layers fitted) on its rows, and its
    training mse."""
    model = eqx.combine(params, static)
    *fixed, head = model.layers
    h = apply_input_stats(x[index], stats)
    for j, layer in enumerate(fixed):
        if isinstance(layer, PcaLayer):
            layer = layer.fitted(h, weight)
            model = eqx.tree_at(lambda m, j=j: m.layers[j], model, layer)
        h = jax.vmap(layer)(h)
    targets = y[index].reshape(len(index), -1).astype(h.dtype)
    coef, intercept = solve_ridge(
        h, targets, weight, head.alpha, fit_intercept=head.bias is not None
    )
    solved = eqx.tree_at(lambda m: m.layers[-1].weight, model, coef.astype(head.weight.dtype))
    if head.bias is not None:
        solved = eqx.tree_at(lambda m: m.layers[-1].bias, solved, intercept.astype(head.bias.dtype))
    residual = jnp.mean((jax.vmap(solved.layers[-1])(h) - targets) ** 2, axis=-1)
    mse = jnp.sum(weight * residual) / jnp.maximum(jnp.sum(weight), 1.0)
    return eqx.filter(solved, eqx.is_inexact_array), mse


def check_components(plan: RunPlan, rows: FoldRows) -> None:
    """A `pca` layer keeps at most as many components as every fold has training samples."""
    fewest = min(len(r) for r in rows.fit)
    for i, components in plan.pca_components:
        if components > fewest:
            raise CompileError(
                Problem(
                    f"the `pca` layer keeps {components} components, but a training fold "
                    f"has only {fewest} samples to fit them on",
                    path=f"model.layers[{i}].components",
                    hint=f"keep at most {fewest} components, or give each fold more training "
                    "samples (fewer folds, or a smaller holdout `test_fraction`)",
                )
            )


def fit_ridge_folds(
    plan: RunPlan,
    factory: Callable[[jax.Array], eqx.Module],
    x: np.ndarray,
    y: np.ndarray,
    rows: FoldRows,
    stats: InputStats,
    shards: MemberShards | None = None,
) -> TrainedFolds:
    """Solve the ridge head of every fold on its `rows.fit` (one "epoch" in the history),
    the folds spread across `shards`' devices when given."""
    start = perf_counter()
    check_components(plan, rows)
    seed = plan.seed
    n_folds = len(rows.fit)
    # the fixed layers and the zero-initialised head do not depend on the key: build one model
    params, static = eqx.partition(factory(stream_key(seed, PURPOSE_INIT, 0)), eqx.is_inexact_array)
    params = jax.tree.map(lambda a: jnp.broadcast_to(a, (n_folds, *a.shape)), params)
    index, weight = pad_rows(rows.fit)
    fit = eqx.filter_jit(jax.vmap(_fit_fold, in_axes=(0, None, None, None, 0, 0, 0)))
    data = (jnp.asarray(x), jnp.asarray(y))
    per_fold = (params, index, weight, stats)
    if shards is not None:
        data, per_fold = shards.replicate(data), shards.place(per_fold)
    params, mse = fit(per_fold[0], static, *data, *per_fold[1:])
    if shards is not None:
        params, mse = shards.gather((params, mse))
    history = [
        {"epoch": [1], "train_loss": [float(m)], "val_loss": [float("nan")]}
        for m in np.asarray(mse)
    ]
    ones = np.ones(n_folds, dtype=np.int64)
    return TrainedFolds(params, static, history, ones, ones.copy(), perf_counter() - start)
