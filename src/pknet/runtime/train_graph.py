"""Train the K folds of a sample-graph model together (transductive, full batch).

A `SampleGraphModel` reads every sample at once: each training step runs the model on all rows
over the fold's graph, and the loss is the weighted mean over the fold's fit rows only
(validation and test rows are graph nodes that receive messages from training rows, but never
enter the loss). One step per epoch; the folds' parameters, graphs, row masks and input
statistics are stacked and the step is `vmap`ped over them. Early stopping, histories and random
streams are `train_folds`' (`fit_epochs`), so the same seed gives the same numbers. First layers
that do not train (`node2vec`) are computed once per fold before the first epoch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from time import perf_counter

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from pknet.compiler.model.graph_model import SampleGraphModel
from pknet.compiler.model.losses import CompiledLoss, GroupArrays
from pknet.compiler.model.run_plan import SampleGraphPlan
from pknet.runtime.devices import MemberShards
from pknet.runtime.progress import EpochCallback
from pknet.runtime.sample_graph import FoldGraphs, fold_graph
from pknet.runtime.splits import Split
from pknet.runtime.train import (
    FoldRows,
    Member,
    StoppingRule,
    TrainedFolds,
    default_members,
    fit_vmapped,
    init_folds,
    masked_step,
    pad_rows,
)
from pknet.runtime.transforms import InputStats, apply_input_stats


def _row_masks(rows: list[np.ndarray], n_rows: int) -> jax.Array:
    """(K, n_rows) float32: 1 on each fold's `rows`, else 0."""
    mask = np.zeros((len(rows), n_rows), np.float32)
    for k, r in enumerate(rows):
        mask[k, r] = 1.0
    return jnp.asarray(mask)


def train_graph_folds(
    factory: Callable[[jax.Array], eqx.Module],
    loss: CompiledLoss,
    group_arrays: GroupArrays,
    optimizer: optax.GradientTransformation,
    x: np.ndarray,
    y: np.ndarray,
    rows: FoldRows,
    stats: InputStats,
    graphs: FoldGraphs,
    *,
    epochs: int,
    seed: int,
    stopping: StoppingRule | None,
    on_epoch: EpochCallback | None = None,
    members: Sequence[Member] | None = None,
    shards: MemberShards | None = None,
) -> TrainedFolds:
    """Train one sample-graph model per fold over its graph, all folds in one vmapped, jitted
    step per epoch. Arguments as `train_folds`, plus `graphs` (leading fold axis)."""
    start = perf_counter()
    members = members or default_members(len(rows.fit))
    folds = init_folds(factory, optimizer, seed, members)
    static = folds[1]
    fit_mask, val_mask = _row_masks(rows.fit, len(x)), _row_masks(rows.val, len(x))
    val_index, _ = pad_rows(rows.val)
    edges = graphs.edge_arrays()
    ready = prepare_folds(folds[0], static, x, stats, edges) if static.n_prepared else None

    def fold_epoch(
        p, state, active, fit_w, val_w, val_idx, fold_stats, edges, h, stream, epoch, x_all, y_all
    ):
        xs = apply_input_stats(x_all, fold_stats)
        if h is None:
            h = xs
        prepared = ready is not None
        key = jax.random.fold_in(stream, epoch)

        def fit_loss(p: eqx.Module) -> jax.Array:
            model = eqx.combine(p, static)
            outputs = model(h, *edges, key=key, prepared=prepared)
            return loss.total(
                model, outputs, xs, y_all, fit_w, group_arrays, epoch.astype(jnp.float32)
            )

        value, grads = jax.value_and_grad(fit_loss)(p)
        p, state = masked_step(active, optimizer, grads, p, state)
        model = eqx.combine(p, static)
        outputs = model(h, *edges, prepared=prepared)
        val_loss = loss.total(model, outputs, xs, y_all, val_w, group_arrays)
        return p, state, value, val_loss, loss.predict(outputs)[val_idx]

    per_fold = (fit_mask, val_mask, val_index, stats, edges, ready)
    trained = fit_vmapped(
        fold_epoch,
        per_fold,
        (jnp.asarray(x), jnp.asarray(y)),
        folds,
        y,
        rows,
        epochs=epochs,
        stopping=stopping,
        on_epoch=on_epoch,
        start=start,
        members=members,
        shards=shards,
    )
    return dataclasses.replace(trained, prepared=ready)


@eqx.filter_jit
def prepare_folds(
    params: eqx.Module,
    static: eqx.Module,
    x: np.ndarray,
    stats: InputStats,
    edges: tuple[np.ndarray, ...],
) -> jax.Array:
    """`SampleGraphModel.prepare` of each fold's model on its inputs and graph (leading fold
    axis), compiled with XLA's default optimisation: a `node2vec` layer's fit runs many steps."""

    def one(p: eqx.Module, fold_stats: InputStats, fold_edges: tuple) -> jax.Array:
        return eqx.combine(p, static).prepare(apply_input_stats(x, fold_stats), *fold_edges)

    return jax.vmap(one)(params, stats, edges)


def predict_graph_folds(
    trained: TrainedFolds,
    loss: CompiledLoss,
    x: np.ndarray,
    stats: InputStats,
    graphs: FoldGraphs,
    splits: list[Split],
) -> list[np.ndarray]:
    """Each fold's predictions on its own test rows (in `splits[k].test` order), from one
    forward pass of each fold's model over all samples and its graph (a `node2vec` layer's
    output is training's, `trained.prepared`)."""
    edges = graphs.edge_arrays()

    def fold_scores(model, fold_stats, fold_edges, h, x_all):
        if h is None:
            return loss.predict(model(apply_input_stats(x_all, fold_stats), *fold_edges))
        return loss.predict(model(h, *fold_edges, prepared=True))

    every_row = np.asarray(
        trained.apply(fold_scores, stats, edges, trained.prepared, shared=(jnp.asarray(x),))
    )
    return [every_row[k][split.test] for k, split in enumerate(splits)]


def predict_new_samples(
    graph_plan: SampleGraphPlan,
    model: SampleGraphModel,
    loss: CompiledLoss,
    train_x: np.ndarray,
    x: np.ndarray,
    stats: InputStats,
    fold: int,
) -> np.ndarray:
    """Scores of the rows of `x` by one fold's model: each row is a held-out node receiving
    edges from the fold's training rows `train_x` only, exactly as a test row in
    cross-validation, so the rows of `x` do not influence each other."""
    inputs = apply_input_stats(np.concatenate([train_x, x]), stats)
    graph = fold_graph(graph_plan, inputs, np.arange(len(train_x)), fold)
    edges = (
        jnp.asarray(graph.senders, jnp.int32),
        jnp.asarray(graph.receivers, jnp.int32),
        jnp.asarray(graph.weights, jnp.float32),
    )
    scores = loss.predict(model(jnp.asarray(inputs), *edges))
    return np.asarray(scores)[len(train_x) :]
