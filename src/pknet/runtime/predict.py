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
from pknet.runtime.members import member_label, members_of
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
    """Scores of every stored model (each seed's of each fold) on the inputs `x` of `samples`,
    and their mean (one row per sample); for a model that embeds, the latent embedding by fold
    0's model. `program` is the run's, rebuilt over its stored network and features; `graph`:
    its graph over samples."""
    skeleton = program.init_model(jax.random.key(0))
    info = stored.info
    members = members_of(range(info.seeds or 1), info.n_folds)
    if program.model_kind.embeds:
        members = members[:1]
    models = [read_checkpoint(stored.checkpoint(m), skeleton) for m in range(len(members))]
    if program.model_kind.trainer == "full_graph":
        assert graph is not None and stored.graph_train_inputs is not None
        train_inputs = stored.graph_train_inputs
        scores = [
            predict_new_samples(graph, model, program.loss, train_inputs[k], x, stored.stats[m], k)
            for m, (model, (_, k)) in enumerate(zip(models, members, strict=True))
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
    """Mean scores over every model (and per model for one score: `score_fold_<k>`, or
    `score_seed_<s>_fold_<k>` with several seeds); several targets give `score_<task>`."""
    table = pd.DataFrame({"sample": samples})
    mean = scores.mean(axis=0)
    if info.targets is not None:
        tasks = mean.reshape(len(samples), -1).T
        columns = {f"score_{name}": tasks[t] for t, name in enumerate(info.targets)}
        return pd.concat([table, pd.DataFrame(columns)], axis=1)
    if mean.ndim == 1:
        table["score"] = mean
        members = members_of(range(info.seeds or 1), info.n_folds)
        for member, fold in zip(members, scores, strict=True):
            table[f"score_{member_label(member, info.seeds or 1)}"] = fold
        if info.task == "binary":
            table["prediction"] = np.asarray(info.classes, dtype=object)[(mean >= 0.5).astype(int)]
    else:
        for c, name in enumerate(info.classes):
            table[f"score_{name}"] = mean[:, c]
        table["prediction"] = np.asarray(info.classes, dtype=object)[mean.argmax(axis=1)]
    return table
