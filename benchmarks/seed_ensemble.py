"""Seed ensembles (`evaluate.seeds`): what 10 seeds cost against 1, and what they tell.

Two measurements, each pknet run in a fresh subprocess (its own JAX start-up and compiles, the
persistent compilation cache off):

- `wall`: `examples/kpnn_tcr` at a fixed number of epochs (no early stopping) with `seeds: 1` and
  `seeds: 10`; the wall of `pknet.run` (spec -> run directory) and its compile/train/evaluate
  parts. The 10 x K models train as one vmapped program, sharing the compile and the passes
  over the data.
- `planted`: the semi-synthetic TCR data (`synthetic_tcr.py`, a pathway planted under one node,
  PPARD by default) on the pruned TCR network, `gradient_x_input` importances and the
  shuffled-prior control, with 1 and 10 seeds: the planted node's rank among the hidden nodes
  by mean importance (and by excess over the control), its mean ± sd, and with 10 seeds the
  spread of its rank over the seeds (each seed's rank by its own folds' mean).

Run from the repository root:

    .venv/bin/python benchmarks/seed_ensemble.py                 # both parts
    .venv/bin/python benchmarks/seed_ensemble.py --part wall --epochs 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "kpnn_tcr" / "spec.yaml"
sys.path.insert(0, str(HERE))

import synthetic_tcr  # noqa: E402  (the generator sits next to this script)

WORKER = """
import json, sys
from time import perf_counter
start = perf_counter()
import pknet
config = json.loads(sys.argv[1])
result = pknet.run(config["spec"], config["overrides"], out=config["out"])
print(json.dumps({"wall_s": perf_counter() - start, "timings": result.outcome.timings,
                  "summary": result.metrics["summary"], "pooled": result.metrics["out_of_fold"],
                  "seed_summary": result.metrics.get("seed_summary")}))
"""


def run_pknet(spec: Path, overrides: dict[str, Any], out: Path) -> dict[str, Any]:
    """`pknet.run(spec, overrides)` in a fresh interpreter; its wall (import included) and
    what the run reported."""
    config = json.dumps({"spec": str(spec), "overrides": overrides, "out": str(out)})
    env = {**os.environ, "PKNET_JAX_CACHE": "0", "PYTHONPATH": str(ROOT / "src")}
    start = perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WORKER, config], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    reported = json.loads(done.stdout.strip().splitlines()[-1])
    reported["process_s"] = perf_counter() - start
    return reported


def wall(args: argparse.Namespace, work: Path) -> dict[int, dict[str, Any]]:
    """The example at `args.epochs` epochs with 1 and `args.seeds` seeds."""
    results = {}
    for seeds in (1, args.seeds):
        overrides = {
            "train.epochs": args.epochs,
            "train.early_stopping": None,
            "evaluate.seeds": seeds,
        }
        results[seeds] = run_pknet(EXAMPLE, overrides, work / f"wall_{seeds}")
        print(f"wall, {seeds} seeds: {results[seeds]['process_s']:.1f} s", flush=True)
    return results


def planted_spec(data: Path, work: Path, args: argparse.Namespace) -> Path:
    spec = work / "planted.yaml"
    spec.write_text(
        f"""\
version: 1
name: seeds-planted
seed: 0
data:
  expression: {{file: {data / "expression.h5ad"}}}
  target: {{file: {data / "labels.csv"}, index: barcode, column: TCR}}
  transform: [standardize]
network:
  edges: {{file: {synthetic_tcr.TCR_EDGES}, from: child, to: parent}}
  features: {{strip_suffix: _gene}}
  inputs: leaves & measured
  outputs: name(TCR)
prune:
  objective: min_edges
  solver: {{name: highs, time_limit_s: 120, mip_rel_gap: 0}}
model:
  layers:
    - {{kind: kpnn, activation: sigmoid, units_per_node: 1, dropout: 0.0,
       input_batchnorm: false, bias: true}}
loss: bce
train:
  optimizer: {{name: adam, lr: 0.01}}
  epochs: {args.planted_epochs}
  batch_size: 64
evaluate:
  cv: {{kind: stratified_kfold, folds: 5}}
  metrics: [roc_auc, accuracy]
explain: {{methods: [gradient_x_input], control: shuffled}}
"""
    )
    return spec


def node_ranks(table: pd.DataFrame, node: str, columns: list[str]) -> dict[str, Any]:
    """The planted node among the hidden nodes: its rank by mean over `columns` and by excess
    over the control, and its mean and sd."""
    hidden = table[table["kind"] == "hidden"]
    mean = hidden[columns].mean(axis=1)
    order = hidden["node"].to_numpy()[np.argsort(-mean.to_numpy(), kind="stable")].tolist()
    excess = (hidden["mean"] - hidden["control_mean"]).to_numpy()
    above = hidden["node"].to_numpy()[np.argsort(-excess, kind="stable")].tolist()
    row = hidden[hidden["node"] == node].iloc[0]
    return {
        "n_hidden": len(hidden),
        "rank": order.index(node) + 1,
        "rank_above_control": above.index(node) + 1,
        "mean": float(row["mean"]),
        "sd": float(row["sd"]),
        "control_mean": float(row["control_mean"]),
        "control_sd": float(row["control_sd"]),
        "above_control": bool(row["above_control"]),
    }


def planted(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = work / "data"
    config = synthetic_tcr.SyntheticConfig(node=args.node)
    synthetic_tcr.write(synthetic_tcr.generate(config), data)
    spec = planted_spec(data, work, args)
    found: dict[str, Any] = {}
    for seeds in (1, args.seeds):
        out = work / f"planted_{seeds}"
        found[seeds] = run_pknet(spec, {"evaluate.seeds": seeds}, out)
        table = pd.read_csv(out / "importances.csv")
        table = table[table["method"] == "gradient_x_input"]
        members = [c for c in table.columns if c.startswith(("fold_", "seed_"))]
        found[seeds]["node"] = node_ranks(table, args.node, members)
        if seeds > 1:
            per_seed = [
                node_ranks(table, args.node, [c for c in members if c.startswith(f"seed_{s}_")])
                for s in range(seeds)
            ]
            found[seeds]["seed_ranks"] = [r["rank"] for r in per_seed]
        print(f"planted, {seeds} seeds: {found[seeds]['process_s']:.1f} s", flush=True)
    return found


def report_wall(results: dict[int, dict[str, Any]], args: argparse.Namespace) -> None:
    one, many = results[1], results[args.seeds]
    print(f"examples/kpnn_tcr, {args.epochs} epochs, 5 folds, no early stopping:")
    for seeds, r in results.items():
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["timings"].items())
        auc = r["summary"]["roc_auc"]
        print(
            f"  seeds {seeds:>2}: process {r['process_s']:6.1f} s, pknet.run {r['wall_s']:6.1f} s "
            f"({parts}); ROC-AUC {auc['mean']:.4f} ± {auc['sd']:.4f} over {auc['n']} models, "
            f"pooled {r['pooled']['metrics']['roc_auc']:.4f}"
        )
    ratio = many["process_s"] / one["process_s"]
    train = many["timings"]["train_s"] / one["timings"]["train_s"]
    print(f"  {args.seeds} seeds / 1 seed: wall {ratio:.2f}x, training {train:.2f}x")


def report_planted(found: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"planted {args.node}, gradient_x_input, {args.planted_epochs} epochs, 5 folds:")
    for seeds, r in found.items():
        n = r["node"]
        auc = r["pooled"]["metrics"]["roc_auc"]
        print(
            f"  seeds {seeds:>2}: rank {n['rank']} of {n['n_hidden']} (above control: "
            f"{n['rank_above_control']}), importance {n['mean']:.4g} ± {n['sd']:.2g} "
            f"(control {n['control_mean']:.4g} ± {n['control_sd']:.2g}, above: "
            f"{n['above_control']}); pooled ROC-AUC {auc:.4f}; {r['process_s']:.1f} s"
        )
        if "seed_ranks" in r:
            ranks = np.asarray(r["seed_ranks"])
            print(
                f"    rank per seed: {ranks.tolist()} (median {np.median(ranks):g}, "
                f"sd {ranks.std(ddof=1):.1f})"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["wall", "planted", "both"], default="both")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the wall part")
    parser.add_argument("--planted-epochs", type=int, default=20)
    parser.add_argument("--node", default=synthetic_tcr.SyntheticConfig.node)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = wall(args, work) if args.part in ("wall", "both") else None
        found = planted(args, work) if args.part in ("planted", "both") else None
    print("=" * 78)
    if results is not None:
        report_wall(results, args)
    if found is not None:
        report_planted(found, args)


if __name__ == "__main__":
    main()
