"""The run directory, written through an `OutputFolder` (staging folder, lock, marker).

runs/<name>/<timestamp>-<spec hash>/
  run.json             the marker, written last: the run id and every file pknet wrote
  spec.resolved.yaml   manifest.json   model.json
  network/             pruned edges, compile report, the MILP (MPS), network.sif and
                       network.graphml (node kinds, measured, importances), hierarchy.json (the
                       `hierarchy` layer's filter counts)
  folds/<m>/           model.eqx (equinox serialisation), stats.npz, history.csv; one folder
                       per model: m = s * K + k for seed s of fold k (`evaluate.seeds`)
  metrics.json         predictions.csv (a vae: embedding.h5ad)   importances.csv
  results.h5ad         an `.h5ad` input's AnnData with the results (see `results_anndata`;
                       a vae's embedding.h5ad carries its var and uns parts)
  figures/*.png        report.md
  graph_inputs.npz     a sample-graph model's inputs and training rows per fold (for predict)
  feature_graph.npz    the edges of a graph over features (for predict)

The files `predict` reads back are defined once, writer beside reader, in `run_files`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import jax
import numpy as np
import pandas as pd
from anndata import AnnData

from pknet import __version__
from pknet.compiler.dataset import Dataset
from pknet.compiler.network.network_files import write_network_files
from pknet.io.data import data_format
from pknet.io.output_folder import OutputKind
from pknet.runtime.embedding import embedding_anndata, principal_components
from pknet.runtime.figures import (
    plot_embedding,
    plot_importances,
    plot_roc,
    plot_seed_spread,
    plot_training,
)
from pknet.runtime.manifest import build_manifest
from pknet.runtime.members import member_label
from pknet.runtime.metrics import roc_curve
from pknet.runtime.node_names import base_node
from pknet.runtime.report import hierarchy_report, write_report
from pknet.runtime.results_anndata import (
    RESULTS_FILE,
    add_obs,
    add_run,
    input_anndata,
    prediction_obs,
)
from pknet.runtime.run import RunOutcome
from pknet.runtime.run_files import (
    FEATURE_GRAPH_FILE,
    GRAPH_INPUTS_FILE,
    MODEL_FILE,
    MODEL_INFO,
    SPEC_FILE,
    STATS_FILE,
    ModelInfo,
    write_checkpoint,
    write_feature_graph,
    write_graph_inputs,
    write_model_info,
    write_stats,
)

MANIFEST_FILE = "manifest.json"
RUN_OUTPUT = OutputKind(kind="run", marker="run.json")  # run.json, written last, lists the files
HIERARCHY_FILE = "hierarchy.json"
EMBEDDING_FILE = "embedding.h5ad"


def spec_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_run_dir(root: Path, name: str, digest: str) -> Path:
    """`root/<name>/<UTC timestamp>-<first 8 hex of the spec hash>`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return root / name / f"{stamp}-{digest[:8]}"


def write_run(
    outcome: RunOutcome,
    folder: Path,
    extra_manifest: dict[str, object],
    spec_text: str,
    inputs: Sequence[Path],
) -> None:
    """Write every artifact of `outcome` into `folder` (an `OutputFolder`'s staging folder):
    `spec_text` is the rendered spec, `inputs` every file it names (hashed in the manifest)."""
    digest = spec_hash(spec_text)
    (folder / SPEC_FILE).write_text(spec_text, encoding="utf-8")
    manifest = {**build_manifest(outcome.plan.seed, digest, inputs), **extra_manifest}
    manifest["timings_s"] = {k: round(v, 3) for k, v in outcome.timings.items()}
    manifest["devices_used"] = outcome.devices
    if outcome.seeds > 1:  # which seeds trained together (fewer than all: memory)
        manifest["seed_chunks"] = outcome.seed_chunks
    _json(folder / MANIFEST_FILE, manifest)
    write_model_info(folder / MODEL_INFO, model_info(outcome))
    if outcome.network is not None:
        write_network_files(outcome.network, folder / "network", outcome.importances)
        hierarchy = hierarchy_report(outcome)
        if hierarchy is not None:
            _json(folder / "network" / HIERARCHY_FILE, hierarchy.to_dict())
    _write_folds(outcome, folder / "folds")
    if outcome.graphs is not None:
        write_graph_inputs(folder / GRAPH_INPUTS_FILE, outcome.dataset.x, outcome.graphs.train_rows)
    if outcome.program.feature_graph is not None:
        write_feature_graph(folder / FEATURE_GRAPH_FILE, outcome.program.feature_graph)
    _json(folder / "metrics.json", outcome.metrics_document())
    output = outcome.plan.output
    source = Path(output.expression_file)
    h5ad = data_format(source, output.expression_format) == "h5ad"
    if outcome.embeddings is None:
        table = predictions(outcome)
        table.to_csv(folder / "predictions.csv", index=False)
        if h5ad:
            adata = input_anndata(source)
            add_obs(adata, prediction_obs(table, outcome.dataset.task, outcome.dataset.classes))
            _add_run(adata, outcome, spec_text)
            adata.write_h5ad(folder / RESULTS_FILE)
    else:
        adata = embedding_anndata(
            source,
            output.expression_format,
            outcome.dataset,
            outcome.embeddings,
            [member_label(m, outcome.seeds).replace("_", "") for m in outcome.members],
        )
        if h5ad:
            _add_run(adata, outcome, spec_text)
        adata.write_h5ad(folder / EMBEDDING_FILE)
    if len(outcome.importances):
        outcome.importances.to_csv(folder / "importances.csv", index=False)
    figures = _write_figures(outcome, folder / "figures")
    write_report(outcome, folder / "report.md", figures)


def _add_run(adata: AnnData, outcome: RunOutcome, spec_text: str) -> None:
    """The run's gene importances and node table into `adata` (see `results_anndata`)."""
    about = {"name": outcome.plan.name, "pknet_version": __version__, "spec": spec_text}
    column = outcome.plan.output.expression_var_names
    genes = list(adata.var_names if column is None else adata.var[column].astype(str))
    add_run(
        adata, outcome.top_importances, outcome.importances, feature_nodes(outcome), genes, about
    )


def feature_nodes(outcome: RunOutcome) -> dict[str, str]:
    """Each input feature's network node (the gene a `hierarchy` layer's feature node stands
    for); empty without importances."""
    if outcome.importances.empty:
        return {}
    layer = outcome.trained.model(0).layers[0]
    slots = np.asarray(layer.unit_node[: layer.n_inputs])
    nodes = [(layer.node_names[v], layer.node_kinds[v]) for v in slots]
    return {
        feature: base_node(node, kind) or node
        for feature, (node, kind) in zip(outcome.dataset.features, nodes, strict=True)
    }


def _file_stem(text: str) -> str:
    """`text` made safe as a file name (`activation_auc[CD4+/CD25 T Reg]` has a slash)."""
    return re.sub(r"[^A-Za-z0-9+._-]+", "_", text).strip("_")


def _json(path: Path, content: object) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def model_info(outcome: RunOutcome) -> ModelInfo:
    """What `predict` needs to rebuild the models: network nodes, inputs, feature names."""
    dataset, compiled = outcome.dataset, outcome.network
    network = {}
    if compiled is not None:
        nodes = compiled.network.nodes
        network = {
            "nodes": tuple(nodes),
            "inputs": tuple(nodes[i] for i in compiled.inputs),
            "outputs": tuple(nodes[i] for i in compiled.outputs),
        }
    return ModelInfo(
        task=dataset.task,
        classes=tuple(dataset.classes),
        features=tuple(dataset.features),
        n_folds=len(outcome.splits),
        seeds=outcome.seeds if outcome.seeds > 1 else None,
        targets=tuple(dataset.targets) or None,
        **network,
    )


def _write_folds(outcome: RunOutcome, folder: Path) -> None:
    """One folder per model (member m = (seed, fold)), its fold's input statistics beside it."""
    for m, (_, k) in enumerate(outcome.members):
        fold_dir = folder / str(m)
        fold_dir.mkdir(parents=True)
        write_checkpoint(fold_dir / MODEL_FILE, outcome.trained.model(m))
        write_stats(
            fold_dir / STATS_FILE, jax.tree.map(lambda a, k=k: np.asarray(a)[k], outcome.stats)
        )
        pd.DataFrame(outcome.trained.history[m]).to_csv(fold_dir / "history.csv", index=False)


def predictions(outcome: RunOutcome) -> pd.DataFrame:
    """Held-out predictions: one row per sample, from the fold that held it out; with several
    targets a `target_<task>` and a `score_<task>` column per task. With several seeds the
    scores are the mean of the fold's seeds' models, and each seed's follow, suffixed
    `_seed_<s>`. `repeated_kfold` writes one row per sample and repeat (a `repeat` column;
    `fold` numbers the splits of all repeats, as `folds/<m>`); grouped splits add each
    sample's `group`."""
    dataset = outcome.dataset
    n_folds, frames = len(outcome.splits), []
    repeats = outcome.plan.cv.repeats
    for k, split in enumerate(outcome.splits):
        frame = pd.DataFrame(
            {"sample": np.asarray(dataset.samples, dtype=object)[split.test], "fold": k}
        )
        if repeats > 1:
            frame.insert(1, "repeat", k // (n_folds // repeats))
        if dataset.groups is not None:
            frame["group"] = dataset.groups[split.test]
        truth = dataset.y[split.test]
        if not dataset.targets:
            frame["target"] = _target_names(truth, dataset.classes, dataset.task)
        parts = [frame, _score_columns(truth, outcome.fold_test_scores[k], dataset)]
        if outcome.seeds > 1:
            for s in range(outcome.seeds):
                seed = _score_columns(truth, outcome.test_scores[s * n_folds + k], dataset)
                scores = seed[[c for c in seed.columns if c.startswith("score")]]
                parts.append(scores.add_suffix(f"_seed_{s}"))
        frames.append(pd.concat(parts, axis=1))
    return pd.concat(frames, ignore_index=True)


def _score_columns(truth: np.ndarray, scores: np.ndarray, dataset: Dataset) -> pd.DataFrame:
    """`score`, or `score_<class>` per class, or (several targets) `target_<task>` and
    `score_<task>` task by task."""
    if dataset.targets:
        return _task_columns(truth, scores, dataset.targets)
    if scores.ndim == 1:
        return pd.DataFrame({"score": scores})
    return pd.DataFrame({f"score_{name}": scores[:, c] for c, name in enumerate(dataset.classes)})


def _task_columns(truth: np.ndarray, scores: np.ndarray, targets: tuple[str, ...]) -> pd.DataFrame:
    """`target_<task>` and `score_<task>` columns, task by task."""
    scores = scores.reshape(len(truth), -1)
    columns = {}
    for t, name in enumerate(targets):
        columns[f"target_{name}"] = truth[:, t]
        columns[f"score_{name}"] = scores[:, t]
    return pd.DataFrame(columns)


def _target_names(y: np.ndarray, classes: tuple[str, ...], task: str) -> np.ndarray:
    return y if task == "regression" else np.asarray(classes, dtype=object)[y]


def _write_figures(outcome: RunOutcome, folder: Path) -> list[Path]:
    folder.mkdir()
    written = []
    dataset = outcome.dataset
    if outcome.embeddings is not None:
        written.append(folder / "embedding_pca.png")
        labels = np.asarray(dataset.classes, dtype=object)[dataset.y] if dataset.classes else None
        plot_embedding(principal_components(outcome.embeddings[0]), labels, written[-1])
    elif dataset.task == "binary":
        curves = [
            roc_curve(dataset.y[s.test], outcome.fold_test_scores[k])
            for k, s in enumerate(outcome.splits)
        ]
        written.append(folder / "roc.png")
        plot_roc(curves, written[-1])
    if any(len(h["epoch"]) > 1 for h in outcome.trained.history):  # not a closed-form fit
        written.append(folder / "training.png")
        labels = [member_label(m, outcome.seeds).replace("_", " ") for m in outcome.members]
        plot_training(outcome.trained.history, labels, written[-1])
    over = "seeds x folds" if outcome.seeds > 1 else "folds"
    top = outcome.top_importances
    for method in dict.fromkeys(top["method"]):
        written.append(folder / f"importances_{_file_stem(method)}.png")
        plot_importances(top, method, over, written[-1])
    if outcome.seed_out_of_fold:
        written.append(folder / "seeds.png")
        plot_seed_spread([p.values for p in outcome.seed_out_of_fold], written[-1])
    return written
