"""`predict`: reload the fold models of a run directory and score new data."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from pknet.compiler.dataset import prepare_inputs, read_inputs
from pknet.compiler.model.base import AbstractModel
from pknet.compiler.model.losses import CompiledLoss, compile_loss
from pknet.compiler.model.model import build_model
from pknet.errors import CompileError, Location, Problem, RunDirectoryError
from pknet.files import file_problem
from pknet.io.data import read_feature_names
from pknet.runtime.run_files import (
    MODEL_INFO,
    SPEC_FILE,
    ModelInfo,
    StoredRun,
    damaged,
    read_checkpoint,
    read_run,
)
from pknet.runtime.train_graph import predict_new_samples
from pknet.runtime.transforms import apply_input_stats
from pknet.specs import Spec


def _columns(data: Path, spec: Spec, wanted: tuple[str, ...]) -> np.ndarray:
    expression = spec.data.expression
    available = read_feature_names(data, "auto", expression.layer, expression.orientation)
    position = {name: i for i, name in enumerate(available)}
    missing = [name for name in wanted if name not in position]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise CompileError(
            Problem(
                f"{len(missing)} of the model's {len(wanted)} input features are not in "
                f"{data.name}: {shown}",
                Location(str(data)),
                hint="predict needs the same features (columns) the model was trained on",
            )
        )
    return np.array([position[name] for name in wanted], dtype=np.int64)


def predict_run(run_dir: Path, data: Path) -> pd.DataFrame:
    """Scores of every fold's model on `data`, and their mean (one row per sample); for a `vae`
    run, the latent embedding by fold 0's model."""
    run = read_run(Path(run_dir))
    spec, info = run.spec, run.info
    reason = file_problem(Path(data))
    if reason is not None:
        raise CompileError(Problem(f"data file {data} {reason}", Location(str(data))))
    columns = _columns(Path(data), spec, info.features)
    matrix = read_inputs(spec, Path(data), columns)
    if not matrix.samples:
        raise CompileError(
            Problem(f"{Path(data).name} holds no samples to predict", Location(str(data)))
        )
    x, _, _ = prepare_inputs(spec, matrix, np.arange(len(matrix.samples)), columns, Path(data))
    skeleton, loss = _skeleton(run)

    def fold(k: int) -> tuple[eqx.Module, jax.Array]:
        """Fold `k`'s model and its inputs (after that fold's statistics)."""
        model = read_checkpoint(run.checkpoint(k), skeleton)
        return model, apply_input_stats(jnp.asarray(x), run.stats[k])

    if skeleton.trainer == "full_graph":
        return _table(matrix.samples, _graph_scores(run, skeleton, loss, x), info)
    if skeleton.embeds:
        model, inputs_0 = fold(0)
        return _embedding_table(matrix.samples, jax.vmap(lambda xi: model.encode(xi)[0])(inputs_0))
    fold_scores = []
    for k in range(info.n_folds):
        model, inputs_k = fold(k)
        fold_scores.append(np.asarray(loss.predict(jax.vmap(lambda xi, m=model: m(xi))(inputs_k))))
    scores = np.stack(fold_scores)
    return _table(matrix.samples, scores, info)


def _skeleton(run: StoredRun) -> tuple[AbstractModel, CompiledLoss]:
    """The untrained model and the loss the run's spec builds over its stored network and
    features; files that each validate but no longer fit together are a located error."""
    info, network = run.info, run.network
    n_features, n_targets = len(info.features), len(info.targets or ()) or 1
    try:
        skeleton = build_model(
            run.spec.model,
            network,
            network.index_of(info.inputs) if network and info.inputs else None,
            network.index_of(info.outputs) if network and info.outputs else None,
            n_features,
            key=jax.random.key(0),
            n_tasks=n_targets,
            feature_graph=run.feature_graph,
        )
        width = skeleton.output_width(n_features)
        loss = compile_loss(run.spec, info.task, width, len(info.classes), n_targets)
    except ValueError as exc:
        message = f"the model {SPEC_FILE} declares does not fit this description: {exc}"
        raise RunDirectoryError(damaged(run.folder / MODEL_INFO, message)) from None
    return skeleton, loss


def _graph_scores(
    run: StoredRun, skeleton: AbstractModel, loss: CompiledLoss, x: np.ndarray
) -> np.ndarray:
    """(folds, samples, ...) scores of a sample-graph run: in each fold's graph, every new
    sample receives edges from that fold's stored training samples only, as a test sample did."""
    assert run.graph_train_inputs is not None  # read_run reads them for a sample-graph spec
    scores = []
    for k, train_x in enumerate(run.graph_train_inputs):
        model = read_checkpoint(run.checkpoint(k), skeleton)
        scores.append(predict_new_samples(run.spec, model, loss, train_x, x, run.stats[k], k))
    return np.stack(scores)


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
