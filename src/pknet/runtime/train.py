"""Train the K folds of a cross-validation together.

The trainable arrays of K models are stacked on a leading fold axis; one jitted epoch (a
`lax.scan` over minibatches) is `vmap`ped over that axis, with per-fold row indices, sample
weights and input statistics. Folds have different numbers of training rows: the shorter ones are
padded with weight-0 rows, so every fold sees exactly its own shuffled minibatches. Early
stopping is per fold: a stopped fold's parameters freeze while the others go on.

Every random stream is `fold_in` of the spec seed by (purpose, fold, epoch, step), so the same
spec, data and seed give the same numbers on CPU, run after run. With `evaluate.seeds: N` the
stacked axis holds N x K members, seed-major: member (s, k) trains on fold k's rows from its own
streams (`member_keys`), and seed 0's members are exactly the folds of a one-seed run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from pknet import interrupts
from pknet.compiler.model.losses import CompiledLoss, GroupArrays
from pknet.runtime.devices import MemberShards
from pknet.runtime.progress import EpochCallback, EpochReport
from pknet.runtime.transforms import InputStats, apply_input_stats

PURPOSE_INIT, PURPOSE_SHUFFLE, PURPOSE_CONTROL, PURPOSE_REPLICATE = 0, 1, 2, 3
PURPOSE_CHUNKS = 4  # the order a backed file's blocks of rows are read in, per epoch
Member = tuple[int, int]
"""(seed, fold): one model of a run, trained on the fold's rows from the seed's streams."""
RUN_ONCE = {"xla_backend_optimization_level": 0}
"""XLA options for a program that runs once per run (applying the fold models): LLVM's
optimisations cost most of its compile time and save little of its run time; scores move in the
last bits only (benchmarks/README.md, "Hierarchy models: pknet vs BINN"). The epoch, which runs
many times, and the draw of the fold models (whose initial weights must not move) keep XLA's
default optimisation."""

EpochFn = Callable[[eqx.Module, optax.OptState, jax.Array, jax.Array, jax.Array], tuple]
"""`(params, opt_state, active, streams, epoch) -> (params, opt_state, train_loss, val_loss,
val_scores)` over stacked folds: fold k's shuffle stream is `streams[k]`, and its key in an epoch
`fold_in(streams[k], epoch)`; `val_scores[k, :len(rows.val[k])]` scores fold k's validation rows
in order."""


def stream_key(seed: int, purpose: int, *path: int) -> jax.Array:
    """The key of one random stream: `fold_in` of the seed by purpose, then by each index."""
    key = jax.random.fold_in(jax.random.key(seed), purpose)
    for index in path:
        key = jax.random.fold_in(key, index)
    return key


def member_keys(seed: int, purpose: int, members: Sequence[Member]) -> jax.Array:
    """The key of `purpose` for each member (s, k), stacked (meant to be called under `jit`).

    Seed 0 keeps a one-seed run's keys, `stream_key(seed, purpose, k)`; seed s >= 1 draws from
    `stream_key(seed, PURPOSE_REPLICATE, s, purpose, k)`, a subtree of its own that no other
    purpose's keys share.
    """
    replicates = sorted({s for s, _ in members})
    bases = {
        s: stream_key(seed, purpose) if s == 0 else stream_key(seed, PURPOSE_REPLICATE, s, purpose)
        for s in replicates
    }
    base = jnp.stack([bases[s] for s, _ in members])
    folds = jnp.asarray([k for _, k in members], jnp.int32)
    return jax.vmap(jax.random.fold_in)(base, folds)


def default_members(n_folds: int) -> list[Member]:
    """Seed 0 of folds 0..K-1: a one-seed run's models."""
    return [(0, k) for k in range(n_folds)]


@dataclass(frozen=True)
class FoldRows:
    """Per-fold row sets: `fit` rows give gradients, `val` rows drive early stopping."""

    fit: list[np.ndarray]
    val: list[np.ndarray]


@dataclass(frozen=True)
class StoppingRule:
    """Early stopping, resolved: which quantity, which direction, how patient."""

    monitor: str  # train_loss | val_loss | val_<metric>
    lower_is_better: bool
    patience: int
    min_delta: float
    restore_best: bool
    metric: Callable[[np.ndarray, np.ndarray], float] | None = None


@dataclass(frozen=True)
class FoldModels:
    """K models of one kind: their arrays stacked on a leading fold axis, one static part."""

    params: eqx.Module
    static: eqx.Module

    @classmethod
    def stack(cls, models: Sequence[eqx.Module]) -> FoldModels:
        """Fold `k` is `models[k]` (all of one structure)."""
        parts = [eqx.partition(m, eqx.is_array) for m in models]
        params = jax.tree.map(lambda *a: jnp.stack(a), *(p for p, _ in parts))
        return cls(params, parts[0][1])

    def model(self, fold: int) -> eqx.Module:
        """The model of one fold."""
        return eqx.combine(jax.tree.map(lambda a: a[fold], self.params), self.static)

    def apply(self, fn: Callable[..., Any], *per_fold: Any, shared: tuple = ()) -> Any:
        """`fn(model_k, *per_fold_k, *shared)` for every fold `k`, as one jitted, vmapped call.

        Each of `per_fold` carries a leading fold axis; `shared` goes to every fold as an
        argument (an array closed over would be copied into the compiled program).
        """

        def one(params: eqx.Module, folded: tuple, common: tuple) -> Any:
            return fn(eqx.combine(params, self.static), *folded, *common)

        predict = jax.jit(jax.vmap(one, in_axes=(0, 0, None)), compiler_options=RUN_ONCE)
        return predict(self.params, per_fold, shared)


@dataclass(frozen=True)
class TrainedFolds(FoldModels):
    """The trained fold models with their histories (and, for a sample-graph model with a
    `node2vec` layer, each fold's output of that layer, `prepared`, computed once)."""

    history: list[dict[str, list[float]]]
    best_epoch: np.ndarray
    epochs_run: np.ndarray
    seconds: float
    prepared: jax.Array | None = None


def pad_rows(rows: list[np.ndarray], multiple: int = 1) -> tuple[jax.Array, jax.Array]:
    """Stack ragged row lists into (K, N) indices and 0/1 weights, N a multiple of `multiple`."""
    longest = max((len(r) for r in rows), default=0)
    width = max(math.ceil(longest / multiple) * multiple, multiple)
    index = np.zeros((len(rows), width), dtype=np.int32)
    weight = np.zeros((len(rows), width), dtype=np.float32)
    for k, r in enumerate(rows):
        index[k, : len(r)] = r
        weight[k, : len(r)] = 1.0
    return jnp.asarray(index), jnp.asarray(weight)


def _where(mask: jax.Array, new: eqx.Module, old: eqx.Module) -> eqx.Module:
    """Per-fold select between two stacked pytrees (`mask` has one entry per fold)."""

    def pick(a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - mask.ndim)), a, b)

    return jax.tree.map(pick, new, old)


def init_folds(
    factory: Callable[[jax.Array], eqx.Module],
    optimizer: optax.GradientTransformation,
    seed: int,
    members: Sequence[Member],
) -> tuple[eqx.Module, eqx.Module, optax.OptState, jax.Array]:
    """One model per member (seed, fold) from its own init stream: (stacked trainable arrays,
    the shared static part, the stacked optimiser state, the members' shuffle streams for
    `fit_epochs`).

    One jitted call: the static part (index arrays, names, a `node2vec` layer's walk key) comes
    from one model, fold 0's whichever folds train, and the folds' arrays and optimiser states
    are drawn vmapped over their keys. Building each fold's model op by op, and deriving keys
    outside, compiled every small random operation on its own (about 1 s on the TCR benchmark).
    """

    @eqx.filter_jit
    def draw() -> tuple[eqx.Module, eqx.Module, optax.OptState, jax.Array]:
        keys = member_keys(seed, PURPOSE_INIT, members)
        first = stream_key(seed, PURPOSE_INIT, 0)
        static = eqx.filter(factory(first), eqx.is_inexact_array, inverse=True)
        params = jax.vmap(lambda key: eqx.filter(factory(key), eqx.is_inexact_array))(keys)
        opt_state = jax.vmap(optimizer.init)(params)
        return params, static, opt_state, member_keys(seed, PURPOSE_SHUFFLE, members)

    return draw()


def masked_step(
    keep: jax.Array,
    optimizer: optax.GradientTransformation,
    grads: eqx.Module,
    params: eqx.Module,
    state: optax.OptState,
) -> tuple[eqx.Module, optax.OptState]:
    """One optimiser step where `keep` holds; otherwise the parameters and state unchanged."""
    updates, new_state = optimizer.update(grads, state, params)
    new_params = optax.apply_updates(params, updates)
    params = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new_params, params)
    state = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new_state, state)
    return params, state


def train_folds(
    factory: Callable[[jax.Array], eqx.Module],
    loss: CompiledLoss,
    group_arrays: GroupArrays,
    optimizer: optax.GradientTransformation,
    x: np.ndarray,
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
    shards: MemberShards | None = None,
) -> TrainedFolds:
    """Train one model per fold, all folds in one vmapped, jitted epoch function.

    `stats` holds per-fold input statistics (leading fold axis), applied on the fly to rows of
    the shared `x`. `on_epoch(EpochReport)` reports progress after each epoch.
    `members` name each stacked model's random streams as (seed, fold) (default seed 0 and
    folds 0..K-1), so training a subset of them reproduces what they do trained with the others.
    `shards` spreads the stacked models across several devices (default: one).
    """
    start = perf_counter()
    members = members or default_members(len(rows.fit))
    folds = init_folds(factory, optimizer, seed, members)
    static = folds[1]
    fit_index, fit_weight = pad_rows(rows.fit, batch_size)
    val_index, val_weight = pad_rows(rows.val)
    steps = fit_index.shape[1] // batch_size
    has_val = any(len(r) for r in rows.val)
    x_all, y_all = jnp.asarray(x), jnp.asarray(y)
    n_rows = len(x)

    def forward(p: eqx.Module, xb: jax.Array, keys: jax.Array | None) -> jax.Array:
        return eqx.combine(p, static).batched(xb, keys=keys)

    def batch_loss(p, xb, yb, wb, keys, epoch):
        outputs = forward(p, xb, keys)
        return loss.total(eqx.combine(p, static), outputs, xb, yb, wb, group_arrays, epoch)

    # the data are arguments (`shared`), not closed-over constants, which XLA would compile into
    # the epoch as constants (benchmarks/README.md, "Measured choices behind the code")
    def fold_epoch(
        p, state, active, index, weight, val_idx, val_w, fold_stats, stream, epoch, x_all, y_all
    ):
        shuffle_key, dropout_key = jax.random.split(jax.random.fold_in(stream, epoch))
        # noise per data row (not per padded position), so a fold's batches do not depend on
        # how much it was padded to match the other folds
        noise = jax.random.uniform(shuffle_key, (n_rows,))[index]
        order = jnp.argsort(jnp.where(weight > 0, noise, 2.0))  # real rows first, shuffled
        batches = (index[order].reshape(steps, batch_size), weight[order].reshape(steps, -1))

        def step(carry, batch):
            p, state, total, count = carry
            (rows_b, w_b), i = batch
            xb = apply_input_stats(x_all[rows_b], fold_stats)
            keys = jax.random.split(jax.random.fold_in(dropout_key, i), batch_size)
            value, grads = jax.value_and_grad(batch_loss)(
                p, xb, y_all[rows_b], w_b, keys, epoch.astype(jnp.float32)
            )
            p, state = masked_step(active & (w_b.sum() > 0), optimizer, grads, p, state)
            return (p, state, total + value * w_b.sum(), count + w_b.sum()), None

        init = (p, state, jnp.zeros(()), jnp.zeros(()))
        (p, state, total, count), _ = jax.lax.scan(step, init, (batches, jnp.arange(steps)))
        train_loss = total / jnp.maximum(count, 1.0)
        if not has_val:  # no fold holds rows out: a forward pass over padding would be compiled
            return p, state, train_loss, jnp.full((), jnp.nan, train_loss.dtype), jnp.zeros(0)
        xv = apply_input_stats(x_all[val_idx], fold_stats)
        val_outputs = forward(p, xv, None)
        val_loss = loss.total(  # at the full KL weight: the objective early stopping watches
            eqx.combine(p, static), val_outputs, xv, y_all[val_idx], val_w, group_arrays
        )
        return p, state, train_loss, val_loss, loss.predict(val_outputs)

    per_fold = (fit_index, fit_weight, val_index, val_weight, stats)
    return fit_vmapped(
        fold_epoch,
        per_fold,
        (x_all, y_all),
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


def fit_vmapped(
    fold_epoch: Callable[..., tuple],
    per_fold: tuple,
    shared: tuple,
    folds: tuple[eqx.Module, eqx.Module, optax.OptState, jax.Array],
    y: np.ndarray,
    rows: FoldRows,
    *,
    epochs: int,
    stopping: StoppingRule | None,
    on_epoch: EpochCallback | None,
    start: float,
    members: Sequence[Member],
    shards: MemberShards | None = None,
) -> TrainedFolds:
    """Jit `fold_epoch(params, state, active, *per_fold, stream, epoch, *shared)` vmapped over
    the folds (the `per_fold` arrays have a leading fold axis; `shared` ones, e.g. the data,
    are arguments rather than constants baked into XLA) and run it with `fit_epochs`.
    `folds` is what `init_folds` returns. With `shards`, the per-fold arrays, models, states and
    keys are padded and split across its devices and `shared` is copied to each."""
    params, static, opt_state, shuffle_keys = folds
    if shards is not None:
        per_fold, params, opt_state, shuffle_keys = shards.place(
            (per_fold, params, opt_state, shuffle_keys)
        )
        shared = shards.replicate(shared)
    batched = (0, 0, 0, *[0] * len(per_fold), 0, None, *[None] * len(shared))
    epoch_fn = jax.jit(jax.vmap(fold_epoch, in_axes=batched))

    def run_epoch(params, opt_state, active, keys, epoch):
        return epoch_fn(params, opt_state, active, *per_fold, keys, epoch, *shared)

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
        shards=shards,
    )


def fit_epochs(
    epoch_fn: EpochFn,
    params: eqx.Module,
    opt_state: optax.OptState,
    static: eqx.Module,
    y: np.ndarray,
    rows: FoldRows,
    *,
    epochs: int,
    shuffle_keys: jax.Array,
    stopping: StoppingRule | None,
    on_epoch: EpochCallback | None,
    start: float,
    members: Sequence[Member],
    shards: MemberShards | None = None,
) -> TrainedFolds:
    """Run `epoch_fn` epoch after epoch with per-fold histories and early stopping (a stopped
    fold is passed `active = False` and must keep its parameters); errors name the `members`.
    With `shards`, `epoch_fn` runs over the padded member axis: the padding members are passed
    inactive throughout, and only the real members' results are read."""
    n_folds = len(rows.fit)
    padded = (lambda mask: mask) if shards is None else shards.pad_mask
    best = params
    best_value = np.full(n_folds, np.inf)
    best_epoch = np.zeros(n_folds, dtype=np.int64)
    epochs_run = np.zeros(n_folds, dtype=np.int64)
    waited = np.zeros(n_folds, dtype=np.int64)
    active = np.ones(n_folds, dtype=bool)
    history: list[dict[str, list[float]]] = [
        {"epoch": [], "train_loss": [], "val_loss": []} for _ in range(n_folds)
    ]
    val_y = [np.asarray(y)[r] for r in rows.val]
    for epoch in range(epochs):
        params, opt_state, train_loss, val_loss, val_scores = epoch_fn(
            params,
            opt_state,
            jnp.asarray(padded(active)),
            shuffle_keys,
            jnp.asarray(epoch, jnp.int32),
        )
        train_loss, val_loss = np.asarray(train_loss)[:n_folds], np.asarray(val_loss)[:n_folds]
        for k in np.flatnonzero(active):
            history[k]["epoch"].append(epoch + 1)
            history[k]["train_loss"].append(float(train_loss[k]))
            history[k]["val_loss"].append(float(val_loss[k]) if len(rows.val[k]) else math.nan)
        epochs_run[active] = epoch + 1
        interrupts.raise_if_interrupted()
        if not np.all(np.isfinite(train_loss[active])):
            diverged = np.flatnonzero(active & ~np.isfinite(train_loss))
            raise TrainingDiverged(epoch + 1, [members[m] for m in diverged])
        value = (
            None
            if stopping is None
            else _monitored(stopping, train_loss, val_loss, val_scores, val_y, rows.val)
        )
        if on_epoch is not None:
            validated = np.array([len(r) > 0 for r in rows.val])
            on_epoch(
                EpochReport(
                    epoch + 1,
                    train_loss,
                    np.where(validated, val_loss, np.nan),
                    active.copy(),
                    None if stopping is None else stopping.monitor,
                    value,
                )
            )
        if stopping is None:
            continue
        signed = value if stopping.lower_is_better else -value
        improved = active & (signed < best_value - stopping.min_delta)
        best_value = np.where(improved, signed, best_value)
        best_epoch[improved] = epoch + 1
        best = _where(jnp.asarray(padded(improved)), params, best)
        waited = np.where(improved, 0, waited + active)
        active &= waited < stopping.patience
        if not active.any():
            break
    if stopping is not None and (best_epoch == 0).any():
        undefined = np.flatnonzero(best_epoch == 0)
        raise MonitorUndefined(stopping.monitor, [members[m] for m in undefined])
    if stopping is not None and stopping.restore_best:
        params = best
    else:
        best_epoch = epochs_run.copy()
    if shards is not None:
        params = shards.gather(params)
    return TrainedFolds(params, static, history, best_epoch, epochs_run, perf_counter() - start)


def concatenate_folds(parts: list[TrainedFolds]) -> TrainedFolds:
    """Join folds trained separately (the loop fallback) into one stacked result."""
    params = jax.tree.map(lambda *a: jnp.concatenate(a), *(p.params for p in parts))
    return TrainedFolds(
        params,
        parts[0].static,
        [h for p in parts for h in p.history],
        np.concatenate([p.best_epoch for p in parts]),
        np.concatenate([p.epochs_run for p in parts]),
        sum(p.seconds for p in parts),
        None if parts[0].prepared is None else jnp.concatenate([p.prepared for p in parts]),
    )


def _monitored(
    stopping: StoppingRule,
    train_loss: np.ndarray,
    val_loss: np.ndarray,
    val_scores: jax.Array,
    val_y: list[np.ndarray],
    val_rows: list[np.ndarray],
) -> np.ndarray:
    if stopping.monitor == "train_loss":
        return train_loss
    if stopping.monitor == "val_loss":
        return val_loss
    scores = np.asarray(val_scores)
    assert stopping.metric is not None
    return np.array(
        [stopping.metric(val_y[k], scores[k, : len(val_rows[k])]) for k in range(len(val_rows))]
    )


def which_models(members: Sequence[Member]) -> str:
    """`fold(s) [0, 2]` for models of seed 0, else `model(s) seed 1 fold 0, seed 2 fold 2`."""
    if all(s == 0 for s, _ in members):
        return f"fold(s) {[k for _, k in members]}"
    return "model(s) " + ", ".join(f"seed {s} fold {k}" for s, k in members)


class MonitorUndefined(ArithmeticError):
    """The monitored quantity was NaN in every epoch of some models, so no epoch was best."""

    def __init__(self, monitor: str, members: Sequence[Member]):
        super().__init__(
            f"`{monitor}` was undefined (NaN) in every epoch of {which_models(members)}"
        )
        self.members = members


class TrainingDiverged(ArithmeticError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, members: Sequence[Member]):
        super().__init__(f"training diverged at epoch {epoch} in {which_models(members)}")
        self.epoch = epoch
        self.members = members
