"""`predict`: the fold models of a run directory, reloaded, score new data."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from pknet.compiler.model.program import Program
from pknet.compiler.model.run_plan import SampleGraphPlan
from pknet.runtime.embedding import latent_means
from pknet.runtime.run_files import ModelInfo, StoredRun, read_checkpoint
from pknet.runtime.train import FoldModels
from pknet.runtime.train_graph import predict_new_samples
from pknet.runtime.transforms import InputStats, apply_input_stats


def predict_table(
    program: Program,
    stored: StoredRun,
    graph: SampleGraphPlan | None,
    samples: tuple[str, ...],
    x: np.ndarray,
) -> pd.DataFrame:
    """Scores of every stored fold model on the inputs `x` of `samples`, and their mean (one row
    per sample); for a model that embeds, the latent embedding by fold 0's model. `program` is
    the run's, rebuilt over its stored network and features; `graph`: its graph over samples."""
    skeleton = program.init_model(jax.random.key(0))
    info = stored.info
    folds = range(1 if program.model_kind.embeds else info.n_folds)
    models = [read_checkpoint(stored.checkpoint(k), skeleton) for k in folds]
    if program.model_kind.trainer == "full_graph":
        assert graph is not None and stored.graph_train_inputs is not None
        train_inputs = stored.graph_train_inputs
        scores = [
            predict_new_samples(graph, model, program.loss, train_x, x, stored.stats[k], k)
            for k, (model, train_x) in enumerate(zip(models, train_inputs, strict=True))
        ]
        return _table(samples, np.stack(scores), info)
    stacked, stats = FoldModels.stack(models), _stacked(stored.stats[: len(models)])
    if program.model_kind.embeds:
        return _embedding_table(samples, latent_means(stacked, x, stats)[0])

    def fold_scores(model: eqx.Module, fold_stats: InputStats, data: jax.Array) -> jax.Array:
        inputs = apply_input_stats(data, fold_stats)
        return program.loss.predict(jax.vmap(lambda xi: model(xi))(inputs))

    scores = stacked.apply(fold_scores, stats, shared=(jnp.asarray(x),))
    return _table(samples, np.asarray(scores), info)


def _stacked(stats: tuple[InputStats, ...]) -> InputStats:
    """Per-fold statistics on a leading fold axis."""
    return jax.tree.map(lambda *a: np.stack(a), *stats)


def _embedding_table(samples: tuple[str, ...], means: jax.Array) -> pd.DataFrame:
    """A VAE run's embedding of new samples by fold 0's model (as `X_pknet` in the run)."""
    table = pd.DataFrame({"sample": samples})
    for i, column in enumerate(np.asarray(means).T):
        table[f"latent_{i}"] = column
    return table


def _table(samples: tuple[str, ...], scores: np.ndarray, info: ModelInfo) -> pd.DataFrame:
    """Mean scores (and per fold for one target); several targets give `score_<task>`."""
    table = pd.DataFrame({"sample": samples})
    mean = scores.mean(axis=0)
    if info.targets is not None:
        tasks = mean.reshape(len(samples), -1).T
        columns = {f"score_{name}": tasks[t] for t, name in enumerate(info.targets)}
        return pd.concat([table, pd.DataFrame(columns)], axis=1)
    if mean.ndim == 1:
        table["score"] = mean
        for k, fold in enumerate(scores):
            table[f"score_fold_{k}"] = fold
        if info.task == "binary":
            table["predicted"] = np.asarray(info.classes, dtype=object)[(mean >= 0.5).astype(int)]
    else:
        for c, name in enumerate(info.classes):
            table[f"score_{name}"] = mean[:, c]
        table["predicted"] = np.asarray(info.classes, dtype=object)[mean.argmax(axis=1)]
    return table
