"""Benchmark: a GO-BP-sized `hierarchy` model against a logistic regression on the same genes.

    python benchmarks/hierarchy_scale.py            # 16,000 genes, 271 cells, 30 epochs
    python benchmarks/hierarchy_scale.py --quick    # a small hierarchy, 3 epochs (the test)

`go_like.py` generates the hierarchy (GO-BP's shape and size after `min_genes: 10,
max_genes: 500`), the annotations and the expression, seeded. Two specs read the same files and
share data, target, transform, folds, optimiser, epochs and batch size: the hierarchy model
(genes -> terms level by level, copy nodes padding every connection to one level, then one
logit) and a `dense` model with one linear unit on every gene. Each runs in a fresh interpreter
(`pknet.run`, imports reported apart), one after the other.

Timings (wall clock):
- to epoch 1: from the spec path to the end of the first epoch (read, compile network and
  program, draw the fold models, jit and run the epoch);
- compile: to epoch 1 minus the median later epoch, i.e. spec -> jitted model;
- epoch: the median epoch after the first (all folds, vmapped);
- wall: `pknet.run` from the spec path to the written run directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import go_like
from compile_log import logged_compiles

QUICK = go_like.GoLikeConfig(n_genes=600, n_terms=500, depth=6, n_cells=60)
HIERARCHY_LAYER = (
    "{kind: hierarchy, activation: tanh, units_per_term: 1, min_genes: 10, max_genes: 500, "
    "padding: copy}"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 epochs")
    parser.add_argument("--genes", type=int, default=None)
    parser.add_argument("--cells", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu", "tpu", "auto"),
        default="cpu",
        help="where pknet trains (`pknet run --device`)",
    )
    parser.add_argument("--work", type=Path, default=None, help="keep files here (default: tmp)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def config_of(args: argparse.Namespace) -> go_like.GoLikeConfig:
    """The generator settings: quick or full sizes, with the sizes given on the command line."""
    base = QUICK if args.quick else go_like.GoLikeConfig()
    changes = {"n_genes": args.genes, "n_cells": args.cells, "seed": args.seed}
    return dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})


def write_specs(paths: dict[str, Path], work: Path, epochs: int, batch_size: int) -> list[Path]:
    """The hierarchy spec and the logistic-regression spec that extends it."""
    hierarchy = work / "hierarchy.yaml"
    hierarchy.write_text(
        f"""\
version: 1
name: hierarchy-scale
seed: 0
data:
  expression: {{file: {paths["expression"]}}}
  target: {{obs: label}}
  transform: [standardize]
network:
  edges:
    - {{kind: annotation_table, file: {paths["annotations"]}, member: gene, term: term}}
    - {{kind: hierarchy, file: {paths["hierarchy"]}, parent: parent, child: child}}
  inputs: leaves & measured
  outputs: roots
model:
  layers:
    - {HIERARCHY_LAYER}
    - {{kind: dense, units: 1}}
loss: bce
train:
  optimizer: {{name: adam, lr: 1.0e-3}}
  epochs: {epochs}
  batch_size: {batch_size}
evaluate:
  cv: {{kind: stratified_kfold, folds: 5}}
  metrics: [roc_auc]
explain: []
"""
    )
    dense = work / "dense.yaml"
    dense.write_text(
        """\
extends: hierarchy.yaml
name: hierarchy-scale-dense
network: null
model:
  layers:
    - {kind: dense, units: 1, activation: linear}
"""
    )
    return [hierarchy, dense]


def worker(config_path: Path) -> None:
    """Run one spec with `pknet.run` and write its timings to the JSON file the config names."""
    config = json.loads(config_path.read_text())
    start = perf_counter()
    import jax  # noqa: F401  (timed with the imports, not inside pknet.run)

    import pknet

    import_s = perf_counter() - start
    stamps: list[float] = []
    with logged_compiles() as log:
        t0 = perf_counter()
        result = pknet.run(
            config["spec"],
            out=config["out"],
            device=config["device"],
            on_epoch=lambda *_: stamps.append(perf_counter()),
        )
        wall = perf_counter() - t0
    durations = np.diff([t0, *stamps])
    epoch = float(np.median(durations[1:])) if len(durations) > 1 else float("nan")
    outcome = result.outcome
    document = {
        "import_s": import_s,
        "wall_s": wall,
        "to_epoch1_s": float(durations[0]),
        "epoch_s": epoch,
        "compile_s": float(durations[0]) - epoch,
        "epoch_xla_s": log.xla_seconds().get("fold_epoch", 0.0),
        "all_xla_s": sum(log.xla_seconds().values()),
        "timings": outcome.timings,
        "n_parameters": outcome.program.n_parameters,
        "n_features": outcome.program.n_features,
        "roc_auc": result.metrics["summary"]["roc_auc"],
        "report": hierarchy_report(outcome),
    }
    Path(config["result"]).write_text(json.dumps(document, indent=1))


def hierarchy_report(outcome: Any) -> dict[str, int] | None:
    """The hierarchy layer's filter report (None without a hierarchy layer)."""
    from pknet.runtime.report import hierarchy_report as layer_report

    report = layer_report(outcome)
    return None if report is None else report.to_dict()


def run_worker(spec: Path, work: Path, device: str = "cpu") -> dict[str, Any]:
    """Run `worker` on `spec` in a fresh interpreter; return its document."""
    config = work / f"{spec.stem}.worker.json"
    result = work / f"{spec.stem}.result.json"
    out = work / f"{spec.stem}_run"
    config.write_text(
        json.dumps({"spec": str(spec), "out": str(out), "result": str(result), "device": device})
    )
    subprocess.run([sys.executable, __file__, "--worker", str(config)], check=True)
    return json.loads(result.read_text())


def describe(name: str, doc: dict[str, Any]) -> str:
    auc = doc["roc_auc"]
    return (
        f"{name:<10} {doc['n_features']:>6} inputs {doc['n_parameters']:>8} parameters | "
        f"to epoch 1 {doc['to_epoch1_s']:6.2f} s  compile {doc['compile_s']:6.2f} s "
        f"(epoch XLA {doc['epoch_xla_s']:.2f} s)  epoch {doc['epoch_s']:.3f} s  "
        f"wall {doc['wall_s']:6.2f} s  (import {doc['import_s']:.1f} s)  "
        f"ROC-AUC {auc['mean']:.3f} ± {auc['sd']:.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker is not None:
        worker(args.worker)
        return
    config = config_of(args)
    epochs = args.epochs or (3 if args.quick else 30)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        start = perf_counter()
        data = go_like.generate(config)
        paths = go_like.write(data, work)
        print(
            f"generated {config.n_cells} cells x {config.n_genes} genes, "
            f"{len(data.hierarchy)} term edges, {len(data.annotations)} annotations "
            f"in {perf_counter() - start:.1f} s"
        )
        docs = {
            spec.stem: run_worker(spec, work, args.device)
            for spec in write_specs(paths, work, epochs, args.batch_size)
        }
    h, d = docs["hierarchy"], docs["dense"]
    print(f"{epochs} epochs, 5 folds vmapped, batch {args.batch_size}")
    print(describe("hierarchy", h))
    print(describe("dense", d))
    ratios = {k: h[k] / d[k] for k in ("to_epoch1_s", "compile_s", "epoch_s", "wall_s")}
    print(
        "hierarchy / dense: "
        + ", ".join(f"{k.removesuffix('_s')} {v:.2f}x" for k, v in ratios.items())
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"hierarchy": h, "dense": d, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()
