"""`run_folds`: a Program, a RunPlan and a Dataset -> cross-validated training -> metrics and
importances. The runtime never reads the spec: problems it raises name their field path only,
and the API locates them in the spec's source.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from pknet.compiler.dataset import Dataset
from pknet.compiler.model.base import group_arrays
from pknet.compiler.model.losses import CompiledLoss
from pknet.compiler.model.program import Program
from pknet.compiler.model.run_plan import CLASSIFICATION_METRICS, REGRESSION_METRICS, RunPlan
from pknet.compiler.network.compile_network import CompiledNetwork
from pknet.errors import Problem, RunError
from pknet.runtime.activation_importance import activation_auc_per_class
from pknet.runtime.devices import MemberShards, resolve_devices
from pknet.runtime.embedding import latent_means, reconstruction_metrics
from pknet.runtime.explain import explain_fold, explain_in_blocks, importance_table
from pknet.runtime.members import (
    member_label,
    member_rows,
    member_splits,
    member_stats,
    members_of,
    seed_means,
)
from pknet.runtime.memory import seeds_per_chunk
from pknet.runtime.metrics import (
    METRICS,
    MetricFn,
    Scores,
    TaskValues,
    across_tasks,
    per_class,
    score,
    summarize,
    summarize_tasks,
)
from pknet.runtime.node_names import folded_importances, with_names
from pknet.runtime.progress import EpochCallback, StageCallback, no_stages
from pknet.runtime.ridge import fit_ridge_folds
from pknet.runtime.sample_graph import FoldGraphs, sample_graphs
from pknet.runtime.splits import Split, dataset_splits, validation_split
from pknet.runtime.streamed_train import predict_streamed, train_folds_streamed
from pknet.runtime.train import (
    PURPOSE_CONTROL,
    FoldRows,
    Member,
    MonitorUndefined,
    StoppingRule,
    TrainedFolds,
    TrainingDiverged,
    concatenate_folds,
    stream_key,
    train_folds,
)
from pknet.runtime.train_graph import predict_graph_folds, train_graph_folds
from pknet.runtime.transforms import InputStats, apply_input_stats, fit_input_stats, stack_stats

LOWER_IS_BETTER = {"loss", "mse", "mae"}

__all__ = ["RunError", "RunOutcome", "run_folds"]


@dataclass(frozen=True)
class RunOutcome:
    """Everything a run computed, before it is written to disk."""

    plan: RunPlan
    network: CompiledNetwork | None
    program: Program
    dataset: Dataset
    splits: list[Split]  # per fold
    trained: TrainedFolds  # per member (seed, fold), seed-major: `members`
    stats: InputStats  # per fold
    # per member, its model's predictions on its fold's test rows (in `splits[k].test` order);
    # None for a vae
    test_scores: list[np.ndarray] | None
    fold_metrics: list[dict[str, float]]  # per member
    importances: pd.DataFrame
    embeddings: np.ndarray | None = None  # a vae's (members, samples, latent) posterior means
    timings: dict[str, float] = field(default_factory=dict)
    graphs: FoldGraphs | None = None  # each fold's sample graph (`model.graph`)
    task_metrics: list[TaskValues] = field(default_factory=list)  # several targets: per member
    # metrics of the pooled held-out predictions (with several seeds: of their mean over seeds)
    out_of_fold: Scores | None = None
    seeds: int = 1  # `evaluate.seeds`
    seed_out_of_fold: list[Scores] = field(default_factory=list)  # several seeds: per seed
    seed_chunks: list[list[int]] = field(default_factory=list)  # seeds trained together
    # `repeated_kfold`: per repeat, the metrics of its pooled held-out predictions
    repeat_out_of_fold: list[Scores] = field(default_factory=list)
    # multiclass: per class, precision/recall/F1/support/ROC-AUC of the pooled predictions
    per_class: dict[str, dict[str, float]] | None = None
    devices: list[str] = field(default_factory=list)  # the devices training used (`train.devices`)

    @property
    def members(self) -> list[Member]:
        """(seed, fold) of each trained model, in `trained` order."""
        return members_of(range(self.seeds), len(self.splits))

    @functools.cached_property
    def top_importances(self) -> pd.DataFrame:
        """The importances with copy and feature nodes folded into their term or gene (see
        `node_names`): what top lists, figures and the AnnData results show (computed once)."""
        labels = [member_label(m, self.seeds) for m in self.members]
        return folded_importances(self.importances, labels)

    @property
    def fold_test_scores(self) -> list[np.ndarray] | None:
        """Per fold, the predictions on its test rows: the mean of its seeds' models."""
        return None if self.test_scores is None else seed_means(self.test_scores, self.seeds)

    def metrics_document(self) -> dict[str, object]:
        """The content of metrics.json: per-fold metrics and mean ± sd (no timings); with
        several targets also per task; and the metrics of the pooled held-out predictions. With
        several seeds: per seed and fold, mean ± sd over all of them, the pooled metrics of the
        mean over seeds, and per seed its folds' summary and pooled metrics."""
        folds = []
        for m, (s, k) in enumerate(self.members):
            split = self.splits[k]
            fold = {
                "fold": k,
                "n_train": len(split.train),
                "n_test": len(split.test),
                "best_epoch": int(self.trained.best_epoch[m]),
                "epochs_run": int(self.trained.epochs_run[m]),
                "metrics": self.fold_metrics[m],
            }
            if self.plan.cv.repeats > 1:
                fold = {"repeat": k // (len(self.splits) // self.plan.cv.repeats), **fold}
            if self.seeds > 1:
                fold = {"seed": s, **fold}
            if self.task_metrics:
                fold["per_task"] = self.task_metrics[m]
            folds.append(fold)
        document = {
            "name": self.plan.name,
            "task": self.dataset.task,
            "classes": list(self.dataset.classes),
            "n_samples": len(self.dataset.samples),
            "samples": self.dataset.join.counts(),
            "n_features": self.program.n_features,
            "n_parameters": self.program.n_parameters,
            "seed": self.plan.seed,
            **({"seeds": self.seeds} if self.seeds > 1 else {}),
            "folds": folds,
            "summary": summarize(self.fold_metrics),
        }
        if self.dataset.targets:
            document["targets"] = list(self.dataset.targets)
            document["per_task_summary"] = summarize_tasks(self.task_metrics)
        repeats = self.plan.cv.repeats
        if self.out_of_fold is not None:
            document["out_of_fold"] = out_of_fold_document(self.out_of_fold, self.splits, repeats)
            means = [*(["seeds"] if self.seeds > 1 else []), *(["repeats"] if repeats > 1 else [])]
            if means:
                document["out_of_fold"]["predictions"] = f"mean over {' and '.join(means)}"
            if self.per_class is not None:
                document["out_of_fold"]["per_class"] = self.per_class
        if self.repeat_out_of_fold:
            per_repeat = len(self.splits) // repeats
            document["per_repeat"] = [
                {
                    "repeat": r,
                    "out_of_fold": out_of_fold_document(
                        pooled, self.splits[r * per_repeat : (r + 1) * per_repeat]
                    ),
                }
                for r, pooled in enumerate(self.repeat_out_of_fold)
            ]
            document["repeat_summary"] = summarize([p.values for p in self.repeat_out_of_fold])
        if self.seed_out_of_fold:
            document["per_seed"] = self._per_seed()
            document["seed_summary"] = summarize([p.values for p in self.seed_out_of_fold])
        return document

    def _per_seed(self) -> list[dict[str, object]]:
        """Per seed: its folds' summary and the metrics of its pooled held-out predictions."""
        n_folds = len(self.splits)
        return [
            {
                "seed": s,
                "summary": summarize(self.fold_metrics[s * n_folds : (s + 1) * n_folds]),
                "out_of_fold": out_of_fold_document(pooled, self.splits, self.plan.cv.repeats),
            }
            for s, pooled in enumerate(self.seed_out_of_fold)
        ]


def out_of_fold_document(
    scores: Scores, splits: list[Split], repeats: int = 1
) -> dict[str, object]:
    """metrics.json's `out_of_fold`: the metrics of every held-out prediction pooled (`n`
    samples: with repeats, each counted once)."""
    document: dict[str, object] = {
        "n": int(sum(len(s.test) for s in splits)) // repeats,
        "metrics": scores.values,
    }
    if scores.per_task:
        document["per_task"] = scores.per_task
        document["across_tasks"] = across_tasks(scores.per_task)
    return document


def resolve_metrics(plan: RunPlan) -> dict[str, MetricFn]:
    """Every metric of the plan by name, in spec order: built-ins from the registry."""
    return {m.name: m.function or METRICS[m.name] for m in plan.metrics}


def check_task(plan: RunPlan, task: str, *, embeds: bool) -> None:
    """Before training: the built-in metrics and explain methods measure what the target is (a
    multiclass score matrix has no r2; a regression has no ROC curve). A VAE's metrics score its
    reconstruction (`embeds`), whatever the labels are."""
    unfit = {"regression": CLASSIFICATION_METRICS, "multiclass": REGRESSION_METRICS}.get(task, ())
    if embeds:
        unfit = ()
    fit = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    for i, metric in enumerate(plan.metrics):
        if metric.function is None and metric.name in unfit:
            raise RunError(
                Problem(
                    f"`{metric.name}` does not score a {task} target",
                    path=f"evaluate.metrics[{i}]",
                    hint=f"use metrics from {', '.join(f'`{m}`' for m in fit)}",
                )
            )
    if "activation_auc" in plan.explain_methods and task == "regression":
        raise RunError(
            Problem(
                "`activation_auc` scores nodes against class labels, not a regression target",
                path="explain",
                hint="use a class target (`positive: [...]` makes one class against the rest)",
            )
        )


def check_count_likelihood(plan: RunPlan, loss: CompiledLoss, x: np.ndarray) -> None:
    """`recon(poisson|nb)` reconstructs counts: its targets must not be centred or negative."""
    if loss.likelihood not in ("poisson", "nb"):
        return
    centred = plan.input_stats.standardize
    if centred or (x.size and np.nanmin(x) < 0):
        why = "standardised per fold" if centred else f"negative (down to {np.nanmin(x):.3g})"
        raise RunError(
            Problem(
                f"`recon({loss.likelihood})` is a likelihood of counts, but the inputs it "
                f"reconstructs are {why}",
                path="loss",
                hint="use `recon(mse)`, or reconstruct non-negative values (counts, or `log1p` "
                "without `standardize` or `input_batchnorm`)",
            )
        )


def stopping_rule(
    plan: RunPlan,
    task: str,
    metrics: Mapping[str, MetricFn] | None = None,
    targets: Sequence[str] = (),
) -> StoppingRule | None:
    """Resolve `train.early_stopping` into a concrete rule (`metrics`: the plan's, resolved)."""
    early = plan.early_stopping
    if early is None:
        return None
    quantity = early.monitor.partition("_")[2]
    lower = early.mode == "min" or (early.mode == "auto" and quantity in LOWER_IS_BETTER)
    metric = None
    if quantity != "loss":
        fn = {quantity: (metrics or resolve_metrics(plan))[quantity]}

        def metric(y: np.ndarray, scores: np.ndarray) -> float:
            return score(fn, y, scores, task, targets).values[quantity]

    return StoppingRule(
        early.monitor, lower, early.patience, early.min_delta, early.restore_best, metric
    )


def fold_rows(plan: RunPlan, splits: list[Split], y: np.ndarray, stopping: StoppingRule | None):
    """Training rows per fold, with a validation part held out when early stopping needs one."""
    needs_val = stopping is not None and stopping.monitor.startswith("val_")
    fit, val = [], []
    for k, split in enumerate(splits):
        if needs_val:
            f, v = validation_split(split.train, y, plan.validation_fraction, plan.seed, k)
        else:
            f, v = split.train, np.zeros(0, dtype=np.int64)
        fit.append(f)
        val.append(v)
    return FoldRows(fit, val)


def fold_stats(plan: RunPlan, x: np.ndarray, rows: FoldRows) -> InputStats:
    """Per-fold input statistics, fitted on each fold's training rows only."""
    how = plan.input_stats
    return stack_stats(
        [
            fit_input_stats(
                x,
                fit,
                standardize=how.standardize,
                with_mean=how.with_mean,
                with_std=how.with_std,
                impute_mean=how.impute_mean,
            )
            for fit in rows.fit
        ]
    )


def predict_all(
    trained: TrainedFolds, program: Program, x: np.ndarray, stats: InputStats, splits: list[Split]
) -> list[np.ndarray]:
    """Each fold's predictions on its own test rows, in `splits[k].test` order.

    One jitted call over all folds: test rows are padded to the longest fold's.
    """
    width = max(len(s.test) for s in splits)
    rows = np.zeros((len(splits), width), dtype=np.int32)
    for k, split in enumerate(splits):
        rows[k, : len(split.test)] = split.test

    def fold_scores(
        model: eqx.Module, fold_stats: InputStats, fold_rows: jax.Array, x_all: jax.Array
    ) -> jax.Array:
        inputs = apply_input_stats(x_all[fold_rows], fold_stats)
        return program.loss.predict(jax.vmap(lambda xi: model(xi))(inputs))

    padded = np.asarray(trained.apply(fold_scores, stats, rows, shared=(jnp.asarray(x),)))
    return [padded[k, : len(split.test)] for k, split in enumerate(splits)]


def run_folds(
    program: Program,
    plan: RunPlan,
    dataset: Dataset,
    *,
    on_epoch: EpochCallback | None = None,
    on_stage: StageCallback | None = None,
    log: Callable[[str], None] | None = None,
    compile_s: float = 0.0,
) -> RunOutcome:
    """Train every fold of `program` on `dataset` as `plan` says, evaluate and explain; nothing
    is written (`compile_s`: the seconds the compiler took, reported with the setup's)."""
    say, on_stage = log or (lambda _: None), on_stage or no_stages
    timings: dict[str, float] = {}
    start = perf_counter()
    metrics = resolve_metrics(plan)
    network = program.network
    check_task(plan, dataset.task, embeds=program.model_kind.embeds)
    check_seeds(plan, program)
    if plan.sample_graph is not None:
        check_graph_size(program, len(dataset.samples))
    streamed = not isinstance(dataset.x, np.ndarray)
    if streamed:
        check_streamable(plan, program)
    else:
        check_count_likelihood(plan, program.loss, dataset.x)
    splits = dataset_splits(plan, dataset)
    stopping = stopping_rule(plan, dataset.task, metrics, dataset.targets)
    rows = fold_rows(plan, splits, dataset.y, stopping)
    stats = fold_stats(plan, dataset.x, rows)
    graphs = sample_graphs(plan.sample_graph, dataset.x, rows.fit, stats)
    chunk = _check_memory(plan, program, dataset, splits, rows, stopping, graphs)
    chunks = [
        list(range(first, min(first + chunk, plan.seeds))) for first in range(0, plan.seeds, chunk)
    ]
    together = chunk * len(splits) if plan.vmap_folds else 1
    devices = resolve_devices(plan.devices, together)
    if streamed and len(devices) > 1:
        raise RunError(
            Problem(
                f"backed data are streamed to one device; this run would use {len(devices)}",
                path="train.devices",
                hint="set `train.devices: 1`, or remove `data.expression.backed`",
            )
        )
    timings["compile_s"] = compile_s + perf_counter() - start
    say("samples: " + ", ".join(f"{n} {what}" for what, n in dataset.join.counts().items()))
    models = f", {plan.seeds} seeds each" if plan.seeds > 1 else ""
    say(
        f"compiled: {len(dataset.samples)} samples x {program.n_features} inputs, "
        f"{program.n_parameters} parameters, {len(splits)} folds{models}"
    )
    if len(chunks) > 1:
        say(
            f"memory: {plan.seeds} seeds x {len(splits)} folds do not fit the device together; "
            f"training them in {len(chunks)} chunks of up to {chunk} seeds"
        )
    if len(devices) > 1:
        say(f"devices: the models trained together are spread over {len(devices)} devices")

    on_stage("training", 0, plan.epochs)
    with _training_errors():
        trained = _train(
            plan, program, dataset, rows, stats, stopping, on_epoch, graphs, chunks, devices
        )
    timings["train_s"] = trained.seconds

    start = perf_counter()
    on_stage("scoring the held-out samples", 0, None)
    members = members_of(range(plan.seeds), len(splits))
    each_split, each_stats = member_splits(splits, members), member_stats(stats, members)
    embeddings, out_of_fold, task_metrics, per_seed, per_repeat = None, None, [], [], []
    classes = None
    if program.model_kind.embeds:
        scores = None
        fold_metrics = reconstruction_metrics(
            metrics, trained, program.loss, dataset.x, each_split, each_stats
        )
        embeddings = latent_means(trained, dataset.x, each_stats)
    else:
        scores = (
            predict_streamed(
                trained, program.loss.predict, dataset.x, each_stats, [s.test for s in each_split]
            )
            if streamed
            else predict_all(trained, program, dataset.x, each_stats, each_split)
            if graphs is None
            else predict_graph_folds(
                trained,
                program.loss,
                dataset.x,
                each_stats,
                graphs.take([k for _, k in members]),
                each_split,
            )
        )
        per_fold = [fold_scores(metrics, dataset, s, scores[m]) for m, s in enumerate(each_split)]
        fold_metrics = [f.values for f in per_fold]
        task_metrics = [f.per_task for f in per_fold] if dataset.targets else []
        repeats, n_folds = plan.cv.repeats, len(splits)
        means = seed_means(scores, plan.seeds)
        out_of_fold = pooled_scores(metrics, dataset, splits, means, repeats)
        if plan.seeds > 1:
            per_seed = [
                pooled_scores(
                    metrics, dataset, splits, scores[s * n_folds : (s + 1) * n_folds], repeats
                )
                for s in range(plan.seeds)
            ]
        if dataset.task == "multiclass":
            held, pooled = pooled_predictions(splits, means, repeats)
            classes = per_class(dataset.y[held], pooled, dataset.classes)
        if repeats > 1:
            size = n_folds // repeats
            per_repeat = [
                pooled_scores(
                    metrics,
                    dataset,
                    splits[r * size : (r + 1) * size],
                    means[r * size : (r + 1) * size],
                )
                for r in range(repeats)
            ]
    importances = _explain(
        plan,
        program,
        trained,
        dataset,
        splits,
        rows,
        stats,
        stopping,
        timings,
        chunks,
        devices,
        on_epoch,
        on_stage,
    )
    timings["evaluate_s"] = perf_counter() - start
    if streamed:  # the outputs are written from what was read: one version of the file
        dataset.x.check_unchanged()
    return RunOutcome(
        plan,
        network,
        program,
        dataset,
        splits,
        trained,
        stats,
        scores,
        fold_metrics,
        importances,
        embeddings,
        timings,
        graphs,
        task_metrics=task_metrics,
        out_of_fold=out_of_fold,
        seeds=plan.seeds,
        seed_out_of_fold=per_seed,
        seed_chunks=chunks,
        repeat_out_of_fold=per_repeat,
        per_class=classes,
        devices=[str(d) for d in devices],
    )


def check_streamable(plan: RunPlan, program: Program) -> None:
    """Backed data stream minibatches of rows; what needs every sample at once is refused."""
    refused = [
        (program.model_kind.embeds, "model", "an embedding model reads every sample at once"),
        (plan.sample_graph is not None, "model.graph", "a graph over the samples holds them all"),
        (program.model_kind.trainer == "closed_form", "model", "a closed-form fit reads all rows"),
        (
            plan.explain_control == "shuffled",
            "explain.control",
            "the shuffled-prior control permutes the columns of the whole matrix",
        ),
        (
            "activation_auc" in plan.explain_methods,
            "explain",
            "`activation_auc` fits each node on the activations of every training row",
        ),
    ]
    for refuse, path, why in refused:
        if refuse:
            raise RunError(
                Problem(
                    f"`data.expression.backed: true` streams rows from disk, but {why}",
                    path=path,
                    hint="remove `backed` (read the data into memory)",
                )
            )


def check_seeds(plan: RunPlan, program: Program) -> None:
    """Several seeds need a model drawn at random: a closed-form fit is the same every time."""
    if plan.seeds > 1 and program.model_kind.trainer == "closed_form":
        raise RunError(
            Problem(
                f"{plan.seeds} seeds of a closed-form model would be {plan.seeds} copies of one "
                "fit: it draws nothing at random",
                path="evaluate.seeds",
                hint="remove `evaluate.seeds` (or set it to 1) for a `ridge` head",
            )
        )


def check_graph_size(program: Program, n_samples: int) -> None:
    """A graph over more samples than the model can number is refused before training."""
    limit = None if program.shapes is None else program.shapes.graph_node_limit()
    if limit is not None and n_samples > limit[0]:
        raise RunError(
            Problem(
                f"the graph over the samples has {n_samples:,} nodes; this layer takes at most "
                f"{limit[0]:,}",
                path=limit[1],
                hint="use a graph layer (`gcn`, `gat`) instead, or fewer samples",
            )
        )


def _check_memory(
    plan: RunPlan,
    program: Program,
    dataset: Dataset,
    splits: list[Split],
    rows: FoldRows,
    stopping: StoppingRule | None,
    graphs: FoldGraphs | None,
) -> int:
    """How many seeds' models to train together (`plan.seeds` unless they do not fit the
    device's memory); a located error, before allocating the models, when one seed's do not."""
    tests = [len(s.test) for s in splits]
    if not isinstance(dataset.x, np.ndarray):  # predictions go a block of rows at a time
        tests = [min(n, dataset.x.chunk_rows) for n in tests]
    held_out = max([len(r) for r in rows.val] + tests)
    batch = min(plan.batch_size, max(len(r) for r in rows.fit))
    if graphs is not None:  # a full batch of every sample
        batch = held_out = len(dataset.samples)
    return seeds_per_chunk(
        program,
        seeds=plan.seeds,
        folds=len(splits),
        batch=batch,
        held_out=held_out,
        data_bytes=dataset.x.nbytes + dataset.y.nbytes,
        keeps_best=stopping is not None,
        graph_edges=0 if graphs is None else graphs.senders.shape[-1],
    )


def fold_scores(
    metrics: Mapping[str, MetricFn], dataset: Dataset, split: Split, test_scores: np.ndarray
) -> Scores:
    """The metrics of one fold's held-out predictions; none for a single held-out sample
    (leave-one-out), where only the pooled predictions (`pooled_scores`) are scored."""
    if len(split.test) < 2:
        return Scores({}, {})
    return score(metrics, dataset.y[split.test], test_scores, dataset.task, dataset.targets)


def pooled_scores(
    metrics: Mapping[str, MetricFn],
    dataset: Dataset,
    splits: list[Split],
    test_scores: list[np.ndarray],
    repeats: int = 1,
) -> Scores:
    """The metrics of all held-out predictions together, each sample scored by the fold that
    held it out (with `repeats`: by the mean of its repeats' folds)."""
    rows, pooled = pooled_predictions(splits, test_scores, repeats)
    return score(metrics, dataset.y[rows], pooled, dataset.task, dataset.targets)


def pooled_predictions(
    splits: list[Split], test_scores: list[np.ndarray], repeats: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The held-out rows and their predictions, fold after fold. With `repeats` rounds of
    folds (each holding every sample out once) each sample once, sorted, with the mean of its
    `repeats` predictions."""
    rows = np.concatenate([s.test for s in splits])
    pooled = np.concatenate([np.asarray(t) for t in test_scores])
    if repeats == 1:
        return rows, pooled
    order = np.argsort(rows, kind="stable")
    means = pooled[order].reshape(len(rows) // repeats, repeats, *pooled.shape[1:]).mean(axis=1)
    return rows[order][::repeats], means


@contextlib.contextmanager
def _training_errors(whose: str = "") -> Iterator[None]:
    """Training failures as `RunError`s (`whose`: which training, e.g. the control's)."""
    try:
        yield
    except MonitorUndefined as exc:
        raise RunError(
            Problem(
                f"{whose}{exc}, so early stopping had no best epoch to keep (e.g. a ROC-AUC "
                "on validation rows of one class)",
                path="train.early_stopping.monitor",
                hint="monitor `val_loss`, or hold out more rows with `train.validation_fraction`",
            )
        ) from None
    except TrainingDiverged as exc:
        raise RunError(
            Problem(
                f"{whose}{exc}: the loss became NaN or infinite",
                path="train.optimizer.lr",
                hint="lower the learning rate, set `train.optimizer.clip_norm`, or check the data "
                "for extreme values",
            )
        ) from None


def _train(
    plan: RunPlan,
    program: Program,
    dataset: Dataset,
    rows: FoldRows,
    stats: InputStats,
    stopping: StoppingRule | None,
    on_epoch: EpochCallback | None,
    graphs: FoldGraphs | None = None,
    chunks: list[list[int]] | None = None,
    devices: list[jax.Device] | None = None,
) -> TrainedFolds:
    """The models of every seed (s, in `chunks` trained together; default all at once) and fold
    (k), in one vmapped step per chunk, or (`train.vmap_folds: false`) one model at a time;
    seed-major.

    With sample `graphs`, every step is one full batch over the fold's graph. A `ridge` head
    is solved in closed form instead (all folds at once; one seed). The models trained together
    are spread over `devices` (default: the current one).
    """
    devices = devices or []
    if program.model_kind.trainer == "closed_form":
        shards = MemberShards.over(devices, len(rows.fit))
        return fit_ridge_folds(plan, program.init_model, dataset.x, dataset.y, rows, stats, shards)
    longest = max(len(r) for r in rows.fit)
    batch = min(plan.batch_size, longest)
    steps = 1 if graphs is not None else -(-longest // batch)  # full batch over a graph
    optimizer = program.optimizer(steps_per_epoch=steps)

    def train(members: list[Member]) -> TrainedFolds:
        data = (dataset.x, dataset.y, member_rows(rows, members), member_stats(stats, members))
        shared = (program.init_model, program.loss, group_arrays, optimizer, *data)
        options = {
            "epochs": plan.epochs,
            "seed": plan.seed,
            "stopping": stopping,
            "on_epoch": on_epoch,
            "members": members,
            "shards": MemberShards.over(devices, len(members)),
        }
        if graphs is not None:
            return train_graph_folds(*shared, graphs.take([k for _, k in members]), **options)
        if not isinstance(dataset.x, np.ndarray):
            del options["shards"]  # one device (`run_folds` checked)
            return train_folds_streamed(*shared, batch_size=batch, **options)
        return train_folds(*shared, batch_size=batch, **options)

    n_folds = len(rows.fit)
    if plan.vmap_folds:
        groups = [members_of(chunk, n_folds) for chunk in chunks or [list(range(plan.seeds))]]
    else:
        groups = [[member] for member in members_of(range(plan.seeds), n_folds)]
    parts = [train(group) for group in groups]
    return parts[0] if len(parts) == 1 else concatenate_folds(parts)


def _fold_importances(
    plan: RunPlan,
    program: Program,
    trained: TrainedFolds,
    dataset: Dataset,
    x: np.ndarray,
    splits: list[Split],
    stats: InputStats,
    stage: str,
    on_stage: StageCallback,
) -> list[dict[str, np.ndarray]]:
    """Per member (seed, fold), each method's importance per node, reported as `stage` model by
    model. With a multiclass target, `activation_auc` is computed per class (one against the
    rest) as `activation_auc[<class>]`."""
    methods = list(plan.explain_methods)
    per_class = dataset.task == "multiclass" and "activation_auc" in methods
    if per_class:
        methods.remove("activation_auc")
    per_fold = []
    members = members_of(range(plan.seeds), len(splits))
    on_stage(stage, 0, len(members))
    for m, (_, k) in enumerate(members):
        split = splits[k]
        fold_stats_k = jax.tree.map(lambda a, k=k: np.asarray(a)[k], stats)

        def part(rows: np.ndarray, stats_k: InputStats = fold_stats_k):
            return apply_input_stats(x[rows], stats_k), dataset.y[rows]

        model = trained.model(m)
        if isinstance(x, np.ndarray):
            train, test = part(split.train), part(split.test)
            values = explain_fold(model, program.loss.predict, methods, train, test)
        else:  # streamed from disk (no `activation_auc`): the test rows block by block
            values = explain_in_blocks(
                model, program.loss.predict, methods, split.test, part, x.chunk_rows
            )
        if per_class:
            aucs = activation_auc_per_class(
                model.layers[0], train[0], train[1], test[0], test[1], len(dataset.classes)
            )
            values.update(
                {
                    f"activation_auc[{name}]": auc
                    for name, auc in zip(dataset.classes, aucs, strict=True)
                }
            )
        per_fold.append(values)
        on_stage(stage, m + 1, len(members))
    return per_fold


def _explain(
    plan: RunPlan,
    program: Program,
    trained: TrainedFolds,
    dataset: Dataset,
    splits: list[Split],
    rows: FoldRows,
    stats: InputStats,
    stopping: StoppingRule | None,
    timings: dict[str, float],
    chunks: list[list[int]],
    devices: list[jax.Device],
    on_epoch: EpochCallback | None,
    on_stage: StageCallback,
) -> pd.DataFrame:
    """Importances per node, mean and sd over every seed and fold; with `control: shuffled` also
    those of shuffled-prior models trained from the same seeds' streams (one permutation of the
    columns, the spec seed's, for all of them)."""
    network = program.network
    if not plan.explain_methods or network is None:
        return pd.DataFrame()
    importances = _fold_importances(
        plan, program, trained, dataset, dataset.x, splits, stats, "explaining", on_stage
    )
    control = None
    if plan.explain_control == "shuffled":
        # the same network and term sizes, each input node reading another gene's column
        start = perf_counter()
        key = stream_key(plan.seed, PURPOSE_CONTROL)
        x = dataset.x[:, np.asarray(jax.random.permutation(key, dataset.x.shape[1]))]
        shuffled = dataclasses.replace(dataset, x=x)
        control_stats = fold_stats(plan, x, rows)
        on_stage("training the shuffled-prior control", 0, plan.epochs)
        with _training_errors("the shuffled-prior control's "):
            control_trained = _train(
                plan,
                program,
                shuffled,
                rows,
                control_stats,
                stopping,
                on_epoch,
                None,
                chunks,
                devices,
            )
        control = _fold_importances(
            plan,
            program,
            control_trained,
            dataset,
            x,
            splits,
            control_stats,
            "explaining the control",
            on_stage,
        )
        timings["control_s"] = perf_counter() - start
    layer = trained.model(0).layers[0]
    kinds = np.asarray(layer.node_kinds, dtype=object)
    columns = [member_label(m, plan.seeds) for m in members_of(range(plan.seeds), len(splits))]
    table = importance_table(
        importances, layer.node_names, kinds, control, layer.node_fan_in, columns
    )
    return with_names(table, network.names)
