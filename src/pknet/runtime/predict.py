"""`predict`: reload the fold models of a run directory and score new data."""

from __future__ import annotations

import json
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import yaml

from pknet.compiler.graph_model import SampleGraphModel
from pknet.compiler.losses import CompiledLoss, compile_loss
from pknet.compiler.model import build_model
from pknet.compiler.network import Network
from pknet.compiler.program import output_width
from pknet.compiler.vae import Vae
from pknet.errors import CompileError, Location, Problem
from pknet.io.data import read_feature_names
from pknet.runtime.artifacts import MODEL_FILE, MODEL_INFO, SPEC_FILE, STATS_FILE
from pknet.runtime.data import prepare_inputs, read_inputs
from pknet.runtime.feature_graph import FEATURE_GRAPH_FILE, load_feature_graph
from pknet.runtime.sample_graph import GRAPH_INPUTS_FILE, load_training_inputs
from pknet.runtime.train_graph import predict_new_samples
from pknet.runtime.transforms import InputStats, apply_input_stats
from pknet.specs import Spec


def _run_file(run_dir: Path, name: str) -> Path:
    path = run_dir / name
    if not path.is_file():
        raise CompileError(
            Problem(
                f"{run_dir} is not a complete pknet run directory: {name} is missing",
                Location(str(run_dir)),
                hint="pass the folder `pknet run` printed (runs/<name>/<timestamp>-<hash>)",
            )
        )
    return path


def _run_documents(run_dir: Path) -> tuple[Spec, dict]:
    """The run's resolved spec and model description; an edited or damaged file is an error
    naming it."""
    spec_path, info_path = _run_file(run_dir, SPEC_FILE), _run_file(run_dir, MODEL_INFO)
    try:
        spec = Spec.model_validate(yaml.safe_load(spec_path.read_text()))
    except (yaml.YAMLError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise _damaged(spec_path, exc) from None
    try:
        info = json.loads(info_path.read_text())
        if not isinstance(info, dict) or not {"features", "task", "classes", "n_folds"} <= set(
            info
        ):
            raise ValueError("not the model description `pknet run` writes")
    except ValueError as exc:  # json's JSONDecodeError is a ValueError
        raise _damaged(info_path, exc) from None
    return spec, info


def _damaged(path: Path, exc: Exception) -> CompileError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CompileError(
        Problem(
            f"{path.name} of this run cannot be read: {first}",
            Location(str(path)),
            hint="the run directory was edited or damaged; run the spec again with `pknet run`",
        )
    )


def _network(run_dir: Path, info: dict) -> Network:
    edges = pd.read_csv(
        _run_file(run_dir, "network/edges.pruned.tsv"), sep="\t", dtype={"from": str, "to": str}
    )
    return Network.from_edges(
        edges["from"].to_numpy(),
        edges["to"].to_numpy(),
        edges["sign"].to_numpy(),
        edges["weight"].to_numpy(),
        extra_nodes=tuple(info["nodes"]),
    )


def _columns(data: Path, spec: Spec, wanted: list[str]) -> np.ndarray:
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


def _load_checkpoint(path: Path, skeleton: eqx.Module) -> eqx.Module:
    try:
        return eqx.tree_deserialise_leaves(path, skeleton)
    except (RuntimeError, ValueError, OSError) as exc:
        raise CompileError(
            Problem(
                f"cannot load the checkpoint {path.name}: it does not match the model this pknet "
                f"builds from the run's spec ({type(exc).__name__})",
                Location(str(path)),
                hint="the run was probably written by another pknet version; run the spec again",
            )
        ) from None


def predict_run(run_dir: Path, data: Path) -> pd.DataFrame:
    """Scores of every fold's model on `data`, and their mean (one row per sample); for a `vae`
    run, the latent embedding by fold 0's model."""
    run_dir = Path(run_dir)
    spec, info = _run_documents(run_dir)
    if not Path(data).is_file():
        raise CompileError(Problem(f"data file not found: {data}", Location(str(data))))
    columns = _columns(Path(data), spec, info["features"])
    matrix = read_inputs(spec, Path(data), columns)
    if not matrix.samples:
        raise CompileError(
            Problem(f"{Path(data).name} holds no samples to predict", Location(str(data)))
        )
    x, _, _ = prepare_inputs(spec, matrix, np.arange(len(matrix.samples)), columns, Path(data))

    network = _network(run_dir, info) if "nodes" in info else None
    inputs = network.index_of(info["inputs"]) if network else None
    outputs = network.index_of(info["outputs"]) if network else None
    n_targets = max(len(info.get("targets", [])), 1)
    edges = (
        load_feature_graph(_run_file(run_dir, FEATURE_GRAPH_FILE))
        if spec.model.feature_graph() is not None
        else None
    )
    skeleton = build_model(
        spec.model,
        network,
        inputs,
        outputs,
        x.shape[1],
        key=jax.random.key(0),
        n_tasks=n_targets,
        feature_graph=edges,
    )
    width = output_width(skeleton, x.shape[1])
    loss = compile_loss(spec, info["task"], width, len(info["classes"]), n_targets)

    def fold(k: int) -> tuple[eqx.Module, jax.Array]:
        """Fold `k`'s model and its inputs (after that fold's statistics)."""
        model, stats = _fold_model(run_dir, k, skeleton)
        return model, apply_input_stats(jnp.asarray(x), stats)

    if isinstance(skeleton, SampleGraphModel):
        return _table(matrix.samples, _graph_scores(run_dir, spec, skeleton, loss, x, info), info)
    if isinstance(skeleton, Vae):
        model, inputs_0 = fold(0)
        return _embedding_table(matrix.samples, jax.vmap(lambda xi: model.encode(xi)[0])(inputs_0))
    fold_scores = []
    for k in range(info["n_folds"]):
        model, inputs_k = fold(k)
        fold_scores.append(np.asarray(loss.predict(jax.vmap(lambda xi, m=model: m(xi))(inputs_k))))
    scores = np.stack(fold_scores)
    return _table(matrix.samples, scores, info)


def _fold_model(run_dir: Path, k: int, skeleton: eqx.Module) -> tuple[eqx.Module, InputStats]:
    """Fold `k`'s trained model and input statistics."""
    model = _load_checkpoint(_run_file(run_dir, f"folds/{k}/{MODEL_FILE}"), skeleton)
    return model, InputStats(**dict(np.load(_run_file(run_dir, f"folds/{k}/{STATS_FILE}"))))


def _graph_scores(
    run_dir: Path,
    spec: Spec,
    skeleton: SampleGraphModel,
    loss: CompiledLoss,
    x: np.ndarray,
    info: dict,
) -> np.ndarray:
    """(folds, samples, ...) scores of a sample-graph run: in each fold's graph, every new
    sample receives edges from that fold's stored training samples only, as a test sample did."""
    stored = _run_file(run_dir, GRAPH_INPUTS_FILE)
    scores = []
    for k in range(info["n_folds"]):
        model, stats = _fold_model(run_dir, k, skeleton)
        train_x = load_training_inputs(stored, k)
        scores.append(predict_new_samples(spec, model, loss, train_x, x, stats, k))
    return np.stack(scores)


def _embedding_table(samples: tuple[str, ...], means: jax.Array) -> pd.DataFrame:
    """A VAE run's embedding of new samples by fold 0's model (as `X_pknet` in the run)."""
    table = pd.DataFrame({"sample": samples})
    for i, column in enumerate(np.asarray(means).T):
        table[f"latent_{i}"] = column
    return table


def _table(samples: tuple[str, ...], scores: np.ndarray, info: dict) -> pd.DataFrame:
    """Mean scores (and per fold for one target); several targets give `score_<task>`."""
    table = pd.DataFrame({"sample": samples})
    mean = scores.mean(axis=0)
    if "targets" in info:
        tasks = mean.reshape(len(samples), -1).T
        columns = {f"score_{name}": tasks[t] for t, name in enumerate(info["targets"])}
        return pd.concat([table, pd.DataFrame(columns)], axis=1)
    if mean.ndim == 1:
        table["score"] = mean
        for k, fold in enumerate(scores):
            table[f"score_fold_{k}"] = fold
        if info["task"] == "binary":
            table["predicted"] = np.asarray(info["classes"], dtype=object)[
                (mean >= 0.5).astype(int)
            ]
    else:
        for c, name in enumerate(info["classes"]):
            table[f"score_{name}"] = mean[:, c]
        table["predicted"] = np.asarray(info["classes"], dtype=object)[mean.argmax(axis=1)]
    return table
