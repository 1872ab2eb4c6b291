"""Train and predict over inputs that stay on disk (`data.expression.backed: true`).

The data are cut into blocks of consecutive rows (`inputs.chunk_rows`); each epoch visits the
blocks in an order drawn from the spec seed, and every member (seed, fold) takes its training
rows block by block, shuffled within a block by the same per-row noise as the in-memory epoch
(`train.train_folds`). A block is read once per epoch for all members and dropped when no member
needs it any more, so memory holds a few blocks, not the data. With one block (data that fit
`CHUNK_BYTES`) the minibatches, dropout streams and padding are exactly the in-memory epoch's,
so the metrics are identical; with several blocks only the order of the rows differs.

Each optimiser step is one jitted call vmapped over the members; validation rows (early
stopping) are read once and kept, as the in-memory run keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Protocol

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from pknet.compiler.model.losses import CompiledLoss, GroupArrays
from pknet.runtime.train import (
    PURPOSE_CHUNKS,
    EpochCallback,
    FoldModels,
    FoldRows,
    Member,
    StoppingRule,
    TrainedFolds,
    default_members,
    fit_epochs,
    init_folds,
    masked_step,
    pad_rows,
    stream_key,
)
from pknet.runtime.transforms import InputStats, apply_input_stats


class RowSource(Protocol):
    """Samples x inputs read on demand (`pknet.compiler.streamed.StreamedInputs`)."""

    shape: tuple[int, int]
    chunk_rows: int

    def __getitem__(self, rows: np.ndarray) -> np.ndarray: ...
    def block(self, start: int, stop: int) -> np.ndarray: ...
    def check_unchanged(self) -> None: ...


def chunk_order(seed: int, epoch: int, n_chunks: int) -> np.ndarray:
    """The order the blocks of rows are read in `epoch` (the same for every member)."""
    if n_chunks == 1:
        return np.zeros(1, dtype=np.int64)
    key = stream_key(seed, PURPOSE_CHUNKS, epoch)
    return np.asarray(jax.random.permutation(key, n_chunks))


def member_order(
    fit: np.ndarray, noise: np.ndarray, chunk_rows: int, order: np.ndarray
) -> np.ndarray:
    """A member's training rows in epoch order: block by block in `order`, by `noise` within a
    block (ties keep the order of `fit`, as the in-memory stable sort does)."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return fit[np.lexsort((noise[fit], rank[fit // chunk_rows]))]


class _Blocks:
    """The blocks of rows one epoch reads, each read at first use and dropped after its last."""

    def __init__(self, x: RowSource, batches: np.ndarray, real: np.ndarray):
        self.x = x
        chunk = batches // x.chunk_rows
        steps = np.broadcast_to(np.arange(batches.shape[1])[None, :, None], batches.shape)
        self.last = np.full(math.ceil(x.shape[0] / x.chunk_rows), -1)
        np.maximum.at(self.last, chunk[real], steps[real])
        self.held: dict[int, np.ndarray] = {}
        self.pad = x.block(0, 1)[0]  # padding positions hold row 0, as in memory

    def gather(self, step: int, rows: np.ndarray, real: np.ndarray) -> np.ndarray:
        """Inputs of the (members x batch) `rows` of `step`; padding gets row 0."""
        size = self.x.chunk_rows
        out = np.broadcast_to(self.pad, (*rows.shape, self.x.shape[1])).copy()
        chunk = rows // size
        for c in np.unique(chunk[real]).tolist():
            if c not in self.held:
                self.held[c] = self.x.block(c * size, min((c + 1) * size, self.x.shape[0]))
            mask = real & (chunk == c)
            out[mask] = self.held[c][rows[mask] - c * size]
            if self.last[c] == step:
                del self.held[c]
        return out


def train_folds_streamed(
    factory: Callable[[jax.Array], eqx.Module],
    loss: CompiledLoss,
    group_arrays: GroupArrays,
    optimizer: optax.GradientTransformation,
    x: RowSource,
    y: np.ndarray,
    rows: FoldRows,
    stats: InputStats,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    stopping: StoppingRule | None,
    on_epoch: EpochCallback | None = None,
    members: Sequence[Member] | None = None,
) -> TrainedFolds:
    """`train.train_folds` over rows read from disk block by block (see the module doc)."""
    start = perf_counter()
    members = members or default_members(len(rows.fit))
    folds = init_folds(factory, optimizer, seed, members)
    static = folds[1]
    n_rows, n_chunks = x.shape[0], math.ceil(x.shape[0] / x.chunk_rows)
    fit_index, _ = pad_rows(rows.fit, batch_size)
    steps = fit_index.shape[1] // batch_size
    val_index, val_weight = pad_rows(rows.val)
    has_val = any(len(r) for r in rows.val)
    xv = jnp.asarray(x[np.asarray(val_index)]) if has_val else None
    y_all = jnp.asarray(y)

    def forward(p: eqx.Module, xb: jax.Array, keys: jax.Array | None) -> jax.Array:
        return eqx.combine(p, static).batched(xb, keys=keys)

    def batch_loss(p, xb, yb, wb, keys, epoch):
        outputs = forward(p, xb, keys)
        return loss.total(eqx.combine(p, static), outputs, xb, yb, wb, group_arrays, epoch)

    def member_step(p, state, total, count, active, xb, rows_b, w_b, fold_stats, key, i, epoch):
        xb = apply_input_stats(xb, fold_stats)
        keys = jax.random.split(jax.random.fold_in(key, i), batch_size)
        value, grads = jax.value_and_grad(batch_loss)(
            p, xb, y_all[rows_b], w_b, keys, epoch.astype(jnp.float32)
        )
        p, state = masked_step(active & (w_b.sum() > 0), optimizer, grads, p, state)
        return p, state, total + value * w_b.sum(), count + w_b.sum()

    def member_val(p, xv, val_idx, val_w, fold_stats):
        xv = apply_input_stats(xv, fold_stats)
        outputs = forward(p, xv, None)
        value = loss.total(eqx.combine(p, static), outputs, xv, y_all[val_idx], val_w, group_arrays)
        return value, loss.predict(outputs)

    step_fn = jax.jit(jax.vmap(member_step, in_axes=(0,) * 10 + (None, None)))
    val_fn = jax.jit(jax.vmap(member_val))

    @jax.jit
    def epoch_streams(streams: jax.Array, epoch: jax.Array) -> tuple[jax.Array, jax.Array]:
        def one(stream: jax.Array) -> tuple[jax.Array, jax.Array]:
            shuffle_key, dropout_key = jax.random.split(jax.random.fold_in(stream, epoch))
            return jax.random.uniform(shuffle_key, (n_rows,)), dropout_key

        return jax.vmap(one)(streams)

    def run_epoch(params, opt_state, active, streams, epoch):
        noise, dropout = epoch_streams(streams, epoch)
        noise = np.asarray(noise)
        order = chunk_order(seed, int(epoch), n_chunks)
        batches = np.zeros((len(rows.fit), steps * batch_size), dtype=np.int64)
        real = np.zeros(batches.shape, dtype=bool)
        for m, fit in enumerate(rows.fit):
            batches[m, : len(fit)] = member_order(np.asarray(fit), noise[m], x.chunk_rows, order)
            real[m, : len(fit)] = True
        batches = batches.reshape(len(rows.fit), steps, batch_size)
        real = real.reshape(batches.shape)
        blocks = _Blocks(x, batches, real)
        total = count = jnp.zeros(len(rows.fit))
        for i in range(steps):
            xb = blocks.gather(i, batches[:, i], real[:, i])
            params, opt_state, total, count = step_fn(
                params,
                opt_state,
                total,
                count,
                active,
                xb,
                batches[:, i].astype(np.int32),
                real[:, i].astype(np.float32),
                stats,
                dropout,
                jnp.asarray(i, jnp.int32),
                epoch,
            )
        x.check_unchanged()
        train_loss = total / jnp.maximum(count, 1.0)
        if xv is None:
            return params, opt_state, train_loss, jnp.full(len(rows.fit), jnp.nan), jnp.zeros(0)
        val_loss, val_scores = val_fn(params, xv, val_index, val_weight, stats)
        return params, opt_state, train_loss, val_loss, val_scores

    params, static, opt_state, shuffle_keys = folds
    return fit_epochs(
        run_epoch,
        params,
        opt_state,
        static,
        y,
        rows,
        epochs=epochs,
        shuffle_keys=shuffle_keys,
        stopping=stopping,
        on_epoch=on_epoch,
        start=start,
        members=members,
    )


def predict_streamed(
    models: FoldModels,
    predict: Callable[[jax.Array], jax.Array],
    x: RowSource,
    stats: InputStats,
    tests: Sequence[np.ndarray],
) -> list[np.ndarray]:
    """Each member's predictions on its `tests` rows: the file read once, block by block, each
    block scored for every member's test rows in it (one jitted call per block, all padded to
    the most test rows a member has in one block; with one block it is the in-memory call)."""
    size, n_rows = x.chunk_rows, x.shape[0]
    tests = [np.asarray(t) for t in tests]
    starts = range(0, n_rows, size)
    # per block, the positions in each member's test rows that fall in it
    found_in = [[np.flatnonzero((t >= b) & (t < b + size)) for t in tests] for b in starts]
    width = max(len(found) for where in found_in for found in where)

    def scores(model: eqx.Module, fold_stats: InputStats, xb: jax.Array) -> jax.Array:
        inputs = apply_input_stats(xb, fold_stats)
        return predict(jax.vmap(lambda xi: model(xi))(inputs))  # a Module's repr is slow

    pad = x.block(0, 1)[0]  # padding positions hold row 0, as in memory
    out: list[np.ndarray] = [np.empty(0)] * len(tests)
    for start, where in zip(starts, found_in, strict=True):
        if not any(len(found) for found in where):
            continue
        block = x.block(start, min(start + size, n_rows))
        xb = np.broadcast_to(pad, (len(tests), width, x.shape[1])).copy()
        for m, found in enumerate(where):
            xb[m, : len(found)] = block[tests[m][found] - start]
        scored = np.asarray(models.apply(scores, stats, jnp.asarray(xb)))
        for m, found in enumerate(where):
            if len(out[m]) != len(tests[m]):
                out[m] = np.empty((len(tests[m]), *scored.shape[2:]), scored.dtype)
            out[m][found] = scored[m, : len(found)]
    x.check_unchanged()
    return out
