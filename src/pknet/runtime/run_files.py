"""The files of a run directory that `predict` reads back, defined once: their names, the
`model.json` schema, the arrays of each `.npz` file, and a writer and a validating reader for
each.

`artifacts.write_run` writes them through the writers here and `predict` reads them through
`read_run` and `read_checkpoint`. A file that was edited or damaged is a `RunDirectoryError`
with the file as its location and the field as its path, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zipfile import BadZipFile

import equinox as eqx
import jax
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pknet.compiler.model.graphs import Graph
from pknet.compiler.network.network import Network
from pknet.compiler.network.network_files import EDGES_FILE
from pknet.errors import Location, Problem, RunDirectoryError, TableError
from pknet.io.tables import read_text_table
from pknet.rules import CROSS_FIELD_ERROR, check_listed_once, rule_error
from pknet.runtime.transforms import InputStats

SPEC_FILE = "spec.resolved.yaml"
MODEL_INFO = "model.json"
NETWORK_EDGES = f"network/{EDGES_FILE}"
MODEL_FILE = "model.eqx"  # in folds/<k>/
STATS_FILE = "stats.npz"  # in folds/<k>/
GRAPH_INPUTS_FILE = "graph_inputs.npz"
FEATURE_GRAPH_FILE = "feature_graph.npz"
EDGE_COLUMNS = ("from", "to", "sign", "weight")

DAMAGED_HINT = "the run directory was edited or damaged; run the spec again with `pknet run`"

# .npz contents: array name -> (dtype kinds, rank); "f" float, "iu" integer
ArraySchema = Mapping[str, tuple[str, int]]
STATS_ARRAYS: ArraySchema = {"fill": ("f", 1), "shift": ("f", 1), "scale": ("f", 1)}
FEATURE_GRAPH_ARRAYS: ArraySchema = {
    "n_nodes": ("iu", 0),
    "senders": ("iu", 1),
    "receivers": ("iu", 1),
}


def graph_inputs_arrays(n_folds: int) -> ArraySchema:
    """`x` (samples x features) and each fold's training rows."""
    return {"x": ("f", 2), **{f"train_rows_{k}": ("iu", 1) for k in range(n_folds)}}


def fold_file(k: int, name: str) -> str:
    return f"folds/{k}/{name}"


def damaged(
    path: Path, message: str, field: str = "", line: int | None = None, column: int | None = None
) -> Problem:
    """A problem in the run's file `path`: `field` of it is not what `pknet run` writes."""
    return Problem(message, Location(str(path), line, column), field, hint=DAMAGED_HINT)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_file(run_dir: Path, name: str) -> Path:
    """`run_dir/name`, which must exist."""
    path = run_dir / name
    if not path.is_file():
        raise RunDirectoryError(
            Problem(
                f"{run_dir} is not a complete pknet run directory: {name} is missing",
                Location(str(run_dir)),
                hint="pass the folder `pknet run` printed (runs/<name>/<timestamp>-<hash>)",
            )
        )
    return path


class ModelInfo(BaseModel):
    """`model.json`: what `predict` needs to rebuild the models besides the spec."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    task: Literal["binary", "multiclass", "regression"]
    classes: tuple[str, ...]
    features: tuple[str, ...] = Field(min_length=1)
    n_folds: int = Field(ge=1)
    seeds: int | None = Field(None, ge=2)  # `evaluate.seeds` when more than one
    targets: tuple[str, ...] | None = Field(None, min_length=1)
    nodes: tuple[str, ...] | None = None
    inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None

    @property
    def n_models(self) -> int:
        """The models in `folds/`: each seed's of each fold, seed-major."""
        return self.n_folds * (self.seeds or 1)

    @model_validator(mode="after")
    def check_task(self) -> ModelInfo:
        wanted = {"binary": "exactly 2", "multiclass": "at least 2", "regression": "no"}[self.task]
        count = len(self.classes)
        fits = {"binary": count == 2, "multiclass": count >= 2, "regression": count == 0}
        if not fits[self.task]:
            raise rule_error(("classes",), f"a {self.task} task has {wanted} classes, not {count}")
        check_listed_once(self.classes, "classes", "class")
        if self.targets is not None and self.task != "regression":
            raise rule_error(
                ("targets",), f"several targets come with a regression task, not {self.task}"
            )
        return self

    @model_validator(mode="after")
    def check_network(self) -> ModelInfo:
        given = {"nodes": self.nodes, "inputs": self.inputs, "outputs": self.outputs}
        if any(v is None for v in given.values()) and any(v is not None for v in given.values()):
            absent = next(k for k, v in given.items() if v is None)
            raise rule_error((absent,), "`nodes`, `inputs` and `outputs` come together")
        if self.nodes is None:
            return self
        check_listed_once(self.nodes, "nodes", "node")
        known = set(self.nodes)
        for field in ("inputs", "outputs"):
            names = given[field] or ()
            if not names:
                raise rule_error((field,), f"a network model has {field}; the list is empty")
            unknown = next((i for i, name in enumerate(names) if name not in known), None)
            if unknown is not None:
                raise rule_error(
                    (field, unknown), f"`{names[unknown]}` is not among the network's nodes"
                )
        return self


def write_model_info(path: Path, info: ModelInfo) -> None:
    text = json.dumps(info.model_dump(mode="json", exclude_none=True), indent=2)
    path.write_text(text + "\n", encoding="utf-8")


def read_model_info(path: Path) -> ModelInfo:
    """The validated `model.json`; every problem names its field."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"{path.name} of this run is not JSON: {exc.msg}"
        problem = damaged(path, message, line=exc.lineno, column=exc.colno)
        raise RunDirectoryError(problem) from None
    try:
        return ModelInfo.model_validate_json(text)
    except ValidationError as exc:
        problems = [_info_problem(path, error) for error in exc.errors(include_url=False)]
        raise RunDirectoryError(problems) from None


def _info_problem(path: Path, error: Any) -> Problem:
    loc, ctx = tuple(error["loc"]), error.get("ctx") or {}
    message = error["msg"]
    if error["type"] == CROSS_FIELD_ERROR:
        loc += tuple(ctx.get("field", ()))
    elif error["type"] == "extra_forbidden":
        message = "unknown key (not one `pknet run` writes)"
    elif error["type"] == "missing":
        message = "missing required key"
    elif not isinstance(error.get("input"), dict | list):
        message += f" (got {json.dumps(error.get('input'))})"
    if not loc:
        message = f"not the model description `pknet run` writes: {message}"
    field = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in loc).lstrip(".")
    return damaged(path, message, field)


def read_network(path: Path, info: ModelInfo) -> Network:
    """The pruned network `network/edges.pruned.tsv` holds, over the nodes `model.json` lists."""
    try:
        edges = read_text_table(path, sep="\t", blank_is_text=True)
    except TableError as exc:
        raise RunDirectoryError(damaged(path, f"cannot be read: {exc}")) from None
    missing = [column for column in EDGE_COLUMNS if column not in edges.columns]
    if missing:
        message = f"missing column; the columns are {', '.join(EDGE_COLUMNS)}"
        raise RunDirectoryError(damaged(path, message, missing[0], line=1))
    sign = pd.to_numeric(edges["sign"], errors="coerce").to_numpy()
    weight = pd.to_numeric(edges["weight"], errors="coerce").to_numpy()
    nodes = list(info.nodes or ())
    checks = {
        "from": (edges["from"].isin(nodes).to_numpy(), "is not among model.json's nodes"),
        "to": (edges["to"].isin(nodes).to_numpy(), "is not among model.json's nodes"),
        "sign": (np.isin(sign, (-1, 0, 1)), "is not -1, 0 or 1"),
        "weight": (np.isfinite(weight), "is not a finite number"),
    }
    for column, (ok, what) in checks.items():
        bad = np.flatnonzero(~ok)
        if len(bad):
            value = edges[column].iloc[bad[0]]
            problem = damaged(path, f"`{value}` {what}", column, line=int(bad[0]) + 2)
            raise RunDirectoryError(problem)
    return Network.from_edges(
        edges["from"].to_numpy(), edges["to"].to_numpy(), sign, weight, extra_nodes=info.nodes
    )


def _save_arrays(path: Path, schema: ArraySchema, arrays: Mapping[str, Any]) -> None:
    assert set(arrays) == set(schema), f"{path.name} holds {', '.join(schema)}"
    np.savez(path, **arrays)


def _load_arrays(path: Path, schema: ArraySchema) -> dict[str, np.ndarray]:
    """Every array of the `.npz` file `path`, which holds exactly the arrays of `schema`, each
    of its dtype kind and rank."""
    try:
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, BadZipFile) as exc:
        raise RunDirectoryError(damaged(path, f"cannot be read: {_first_line(exc)}")) from None
    for name, (kinds, rank) in schema.items():
        if name not in arrays:
            held = ", ".join(sorted(arrays)) or "nothing"
            raise RunDirectoryError(damaged(path, f"missing array (the file holds {held})", name))
        if arrays[name].dtype.kind not in kinds or arrays[name].ndim != rank:
            kind = "float" if kinds == "f" else "integer"
            message = f"expected a {rank}-d {kind} array, got {_describe(arrays[name])}"
            raise RunDirectoryError(damaged(path, message, name))
    unknown = sorted(set(arrays) - set(schema))
    if unknown:
        raise RunDirectoryError(damaged(path, "an array `pknet run` does not write", unknown[0]))
    return arrays


def _describe(array: Any) -> str:
    return f"{array.dtype} of shape {tuple(array.shape)}"


def _check(path: Path, ok: bool, field: str, message: str) -> None:
    if not ok:
        raise RunDirectoryError(damaged(path, message, field))


def write_stats(path: Path, stats: InputStats) -> None:
    """One fold's input statistics."""
    arrays = {name: np.asarray(getattr(stats, name)) for name in STATS_ARRAYS}
    _save_arrays(path, STATS_ARRAYS, arrays)


def read_stats(path: Path, n_features: int) -> InputStats:
    arrays = _load_arrays(path, STATS_ARRAYS)
    for name, values in arrays.items():
        count = f"{len(values)} values, but the model has {n_features} features"
        _check(path, len(values) == n_features, name, count)
        _check(path, bool(np.isfinite(values).all()), name, "a value is not finite")
    _check(path, bool((arrays["scale"] > 0).all()), "scale", "a value is not positive")
    return InputStats(**{name: arrays[name].astype(np.float32) for name in STATS_ARRAYS})


def write_feature_graph(path: Path, graph: Graph) -> None:
    """The edges of a graph over features."""
    arrays = {"n_nodes": graph.n_nodes, "senders": graph.senders, "receivers": graph.receivers}
    _save_arrays(path, FEATURE_GRAPH_ARRAYS, arrays)


def read_feature_graph(path: Path, n_features: int) -> Graph:
    """The graph `write_feature_graph` wrote (unit weights), one node per feature."""
    arrays = _load_arrays(path, FEATURE_GRAPH_ARRAYS)
    n_nodes, senders, receivers = (arrays[name] for name in FEATURE_GRAPH_ARRAYS)
    nodes = f"{int(n_nodes)} nodes, but the model has {n_features} features (one node each)"
    _check(path, int(n_nodes) == n_features, "n_nodes", nodes)
    ends = f"{len(receivers)} receivers for {len(senders)} senders"
    _check(path, senders.shape == receivers.shape, "receivers", ends)
    for name in ("senders", "receivers"):
        inside = ((arrays[name] >= 0) & (arrays[name] < n_features)).all()
        _check(path, bool(inside), name, f"a node number outside 0..{n_features - 1}")
    return Graph(n_features, senders, receivers, np.ones(len(senders)))


def write_graph_inputs(path: Path, x: np.ndarray, train_rows: Sequence[np.ndarray]) -> None:
    """What predicting new samples of a sample-graph run needs: the inputs `x` (before fold
    statistics) and each fold's training rows, which send new samples their edges."""
    rows = {f"train_rows_{k}": np.asarray(r) for k, r in enumerate(train_rows)}
    _save_arrays(path, graph_inputs_arrays(len(train_rows)), {"x": x, **rows})


def read_graph_inputs(path: Path, n_features: int, n_folds: int) -> tuple[np.ndarray, ...]:
    """Each fold's training inputs that `write_graph_inputs` stored, in graph order."""
    arrays = _load_arrays(path, graph_inputs_arrays(n_folds))
    x = arrays.pop("x")
    columns = f"{x.shape[1]} columns, but the model has {n_features} features"
    _check(path, x.shape[1] == n_features, "x", columns)
    for name, rows in arrays.items():
        inside = len(rows) and ((rows >= 0) & (rows < len(x))).all()
        _check(path, bool(inside), name, f"not row numbers of x (0..{len(x) - 1})")
    return tuple(x[arrays[f"train_rows_{k}"]] for k in range(n_folds))


def write_checkpoint(path: Path, model: eqx.Module) -> None:
    eqx.tree_serialise_leaves(path, model)


def read_checkpoint(path: Path, skeleton: eqx.Module) -> eqx.Module:
    """The trained weights in `path`, loaded into `skeleton` (the model the run's spec builds);
    weights that are unreadable or of another shape than the skeleton's are an error."""
    try:
        with path.open("rb") as file:
            model = eqx.tree_deserialise_leaves(file, skeleton, filter_spec=_read_leaf)
            left = len(file.read())
    except (RuntimeError, OSError, ValueError, EOFError) as exc:
        leaf = jax.tree_util.keystr(getattr(exc, "path", ())).lstrip(".")
        cause: BaseException = exc
        while cause.__cause__ is not None:  # equinox wraps it once per level of the model
            cause = cause.__cause__
        detail = _first_line(cause)
        raise RunDirectoryError(_checkpoint_problem(path, detail, leaf)) from None
    if left:
        detail = f"{left} bytes follow the last weight"
        raise RunDirectoryError(_checkpoint_problem(path, detail, ""))
    return model


def _read_leaf(file: Any, like: Any) -> Any:
    value = eqx.default_deserialise_filter_spec(file, like)
    if isinstance(like, jax.Array) and (value.shape, value.dtype) != (like.shape, like.dtype):
        raise ValueError(f"{_describe(value)} on disk, but the model needs {_describe(like)}")
    return value


def _checkpoint_problem(path: Path, detail: str, leaf: str) -> Problem:
    return Problem(
        f"cannot load the checkpoint {path.name} into the model this run's spec builds: {detail}",
        Location(str(path)),
        leaf,
        hint="the run directory was edited or damaged, or written by another pknet version; "
        "run the spec again with `pknet run`",
    )


@dataclass(frozen=True)
class StoredRun:
    """A run directory's validated files, all but the checkpoints (which need the model)."""

    folder: Path
    info: ModelInfo
    network: Network | None
    stats: tuple[InputStats, ...]  # per model (seed, fold)
    feature_graph: Graph | None
    graph_train_inputs: tuple[np.ndarray, ...] | None  # per fold

    def checkpoint(self, model: int) -> Path:
        return self.folder / fold_file(model, MODEL_FILE)


def read_run(run_dir: Path, *, network: bool, feature_graph: bool, sample_graph: bool) -> StoredRun:
    """Read and validate every file of `run_dir` that `predict` needs, given what the run's
    spec declares: a `network`, a graph over features, a graph over samples."""
    info_path = run_file(run_dir, MODEL_INFO)
    info = read_model_info(info_path)
    if network != (info.nodes is not None):
        message = (
            f"{SPEC_FILE} declares a network, but no network nodes are listed"
            if info.nodes is None
            else f"network nodes are listed, but {SPEC_FILE} declares no network"
        )
        raise RunDirectoryError(damaged(info_path, message, "nodes"))
    n_features, n_folds = len(info.features), info.n_folds
    for m in range(info.n_models):
        run_file(run_dir, fold_file(m, MODEL_FILE))
    stats = tuple(
        read_stats(run_file(run_dir, fold_file(m, STATS_FILE)), n_features)
        for m in range(info.n_models)
    )
    stored_network = read_network(run_file(run_dir, NETWORK_EDGES), info) if network else None
    graph = (
        read_feature_graph(run_file(run_dir, FEATURE_GRAPH_FILE), n_features)
        if feature_graph
        else None
    )
    graph_inputs = (
        read_graph_inputs(run_file(run_dir, GRAPH_INPUTS_FILE), n_features, n_folds)
        if sample_graph
        else None
    )
    return StoredRun(run_dir, info, stored_network, stats, graph, graph_inputs)
