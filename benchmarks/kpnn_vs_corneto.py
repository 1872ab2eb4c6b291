"""Benchmark: a KPNN trained by pknet against the same KPNN built by CORNETO and trained by Keras.

Not run by CI. Needs the `bench` extra (`pip install corneto==1.0.0rc8 keras`; Keras 3 runs on
its JAX backend, set here before Keras is imported). Run from the repository root:

    python benchmarks/kpnn_vs_corneto.py                     # ~9 min on 2 cores
    python benchmarks/kpnn_vs_corneto.py --skip-corneto      # pknet only, ~3 min
    python benchmarks/kpnn_vs_corneto.py --network full      # unpruned network, ~17 min

What is compared, on one generated data set (`benchmarks/synthetic_tcr.py`: 1,735 cells x the
13,121 leaf genes of the real KPNN TCR network, a known sub-pathway planted in the positives):

- the same network: the TCR network with every leaf gene an input and `TCR` the output, pruned
  once by pknet's MILP (`--network pruned`, the default, as in KPNN and CORNETO's tutorial) or as
  is (`--network full`, 27,579 edges); its edges are written to one file that both sides read,
  so the MILP is outside every timing;
- the same model: one sigmoid neuron with a bias per non-input node, a weight per edge, no
  dropout, no batch norm; weights start from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and biases from
  0 on both sides (CORNETO's Dense layers are re-initialised to pknet's rule); inputs are the
  log1p values as stored (`--inputs standardize`: scaled with each training fold's mean and sd
  on both sides);
- the same training: BCE (plus, with `--l1`/`--l2`, Keras-style penalties on weights and
  biases), Adam (same lr, eps 1e-8), the same fixed number of epochs (no early stopping), the
  same batch size, reshuffled every epoch;
- the same stratified folds (pknet's; CORNETO's side reuses them by sample id).

CORNETO: `corneto.ml.build_dagnn(G, inputs, ["TCR"], batch_norm_input=False, dropout=0,
force_sign=False)` then `model.fit`, one fold after another, as its KPNN tutorial does. pknet:
`pknet.run` on a spec written to a temporary folder (all folds vmapped in one jitted epoch). pknet
runs FIRST, in a subprocess, so that its peak RSS is its own.

Timings (wall clock, `time.perf_counter`, after the imports, which are reported apart):
- pknet wall: `pknet.run(spec)` from the spec path to the written run directory: load the spec,
  read the data, compile the network and the program, initialise, jit and train all folds,
  predict, compute metrics and `gradient_x_input` importances, write the run directory.
- CORNETO wall: read the same files, then for each fold: build the Keras model, compile, fit,
  predict, ROC-AUC (no importances).
- pknet compile (the `<= 3 s` target, MILP excluded because the network is pre-pruned): the time
  from the spec path to the end of the first epoch minus the median duration of later epochs,
  i.e. spec -> data -> network -> program -> initialised fold models -> XLA-compiled epoch. Its
  parts are printed: pknet's own steps, timed by wrapping them, and JAX's logged trace /
  lowering / XLA compile times of the epoch function.

After the timed run (untimed): `node_weights` importances with a smaller knock-out batch than
pknet's default, and a rerun with pknet's shuffled-prior control to rank nodes by importance
above that control.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import synthetic_tcr  # noqa: E402  (the generator sits next to this script)
from compile_log import logged_compiles  # noqa: E402

OUTPUT = "TCR"
HIDDEN_TOP = (10, 20)


# --- shared setup ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (both sides)")
    parser.add_argument(
        "--l1", type=float, default=0.0, help="L1 penalty on weights and biases (both sides)"
    )
    parser.add_argument(
        "--l2", type=float, default=0.0, help="L2 penalty on weights and biases (both sides)"
    )
    parser.add_argument(
        "--inputs",
        choices=("standardize", "log1p"),
        default="log1p",
        help="standardise inputs with training-fold statistics, or feed log1p values as they are",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu", "tpu", "auto"),
        default="cpu",
        help="where pknet trains (`pknet run --device`)",
    )
    parser.add_argument("--samples", type=int, default=synthetic_tcr.KPNN_SAMPLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--node", default=synthetic_tcr.SyntheticConfig.node)
    parser.add_argument("--network", choices=("full", "pruned"), default="pruned")
    parser.add_argument(
        "--explain",
        default="gradient_x_input",
        help="pknet importance methods in the timed spec, comma-separated, or `none`",
    )
    parser.add_argument(
        "--skip-node-weights",
        action="store_true",
        help="do not compute node_weights after the timed run",
    )
    parser.add_argument(
        "--control",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the timed run, rerun pknet with `explain: {control: shuffled}` (a model on "
        "permuted gene columns) and rank nodes by their importance above that control",
    )
    parser.add_argument(
        "--jax-cache",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="let pknet use its persistent compilation cache (off by default: pknet compiles "
        "cold, as on a first run)",
    )
    parser.add_argument(
        "--bandwidth-mb",
        type=int,
        default=512,
        help="size of the array whose read measures the memory bandwidth of the machine bound",
    )
    parser.add_argument("--skip-corneto", action="store_true")
    parser.add_argument("--data", type=Path, help="reuse a folder written by synthetic_tcr.py")
    parser.add_argument("--workdir", type=Path, help="keep spec, edges and run here")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare_data(args: argparse.Namespace, work: Path) -> tuple[Path, dict[str, Any]]:
    """The data folder: `--data` as given, or a freshly generated one."""
    if args.data is not None:
        folder = args.data
    else:
        folder = work / "data"
        start = perf_counter()
        config = synthetic_tcr.SyntheticConfig(
            n_samples=args.samples, node=args.node, seed=args.seed
        )
        synthetic_tcr.write(synthetic_tcr.generate(config), folder)
        print(f"generated data in {perf_counter() - start:.1f} s -> {folder}")
    truth = json.loads((folder / "truth.json").read_text())
    return folder, truth


def network_spec(edges: Path, data: Path, transform: str = "standardize") -> str:
    transforms = "[standardize]" if transform == "standardize" else "[]"
    return f"""\
network:
  edges: {{file: {edges}, from: child, to: parent}}
  features: {{strip_suffix: _gene}}
  inputs: leaves & measured
  outputs: name({OUTPUT})
data:
  expression: {{file: {data / "expression.h5ad"}}}
  target: {{file: {data / "labels.csv"}, index: barcode, column: TCR}}
  transform: {transforms}
"""


def prepare_network(args: argparse.Namespace, data: Path, work: Path) -> tuple[Path, dict]:
    """Write the network both sides use (`child,parent`) after pknet's hygiene (and MILP)."""
    import pknet

    prune = (
        "prune:\n  objective: min_edges\n"
        "  solver: {name: highs, time_limit_s: 120, mip_rel_gap: 0}\n"
        if args.network == "pruned"
        else ""
    )
    spec_path = work / "network.yaml"
    spec_path.write_text(
        "version: 1\nname: network\n"
        + network_spec(synthetic_tcr.TCR_EDGES, data)
        + prune
        + "model:\n  layers: [{kind: kpnn}]\nloss: bce\n"
    )
    compiled = pknet.compile_spec(spec_path)
    net = compiled.network
    names = np.asarray(net.nodes, dtype=object)
    edges = work / f"edges.{args.network}.csv"
    pd.DataFrame({"child": names[net.src], "parent": names[net.dst]}).to_csv(edges, index=False)
    info = {
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "inputs": len(compiled.inputs),
        "milp_s": compiled.pruning.report.seconds if compiled.pruning else None,
        "milp_status": compiled.pruning.report.status if compiled.pruning else None,
    }
    return edges, info


def loss_expression(args: argparse.Namespace) -> str:
    """BCE plus Keras-style `c * sum|w|` / `c * sum w^2` penalties on weights and biases."""
    terms = ["bce"]
    for kind, coefficient in (("l1", args.l1), ("l2", args.l2)):
        if coefficient > 0:
            terms += [f"{coefficient:g} * {kind}(weights)", f"{coefficient:g} * {kind}(bias)"]
    return " + ".join(terms)


def write_run_spec(args: argparse.Namespace, data: Path, edges: Path, work: Path) -> Path:
    """The pknet spec of the benchmark (no prune section: `edges` is already the network)."""
    explain = [] if args.explain == "none" else args.explain.split(",")
    spec = work / "spec.yaml"
    spec.write_text(
        f"""\
version: 1
name: kpnn-vs-corneto
seed: {args.seed}
{network_spec(edges, data, args.inputs)}\
model:
  layers:
    - {{kind: kpnn, activation: sigmoid, units_per_node: 1, dropout: 0.0,
       input_batchnorm: false, bias: true}}
loss: {loss_expression(args)}
train:
  optimizer: {{name: adam, lr: {args.lr}}}
  epochs: {args.epochs}
  batch_size: {args.batch_size}
evaluate:
  cv: {{kind: stratified_kfold, folds: {args.folds}}}
  metrics: [roc_auc, accuracy]
explain: {json.dumps(explain)}
"""
    )
    return spec


# --- pknet (runs in a subprocess) --------------------------------------------------------------


@contextlib.contextmanager
def timed_calls(module: Any, name: str, sink: dict[str, float]) -> Iterator[None]:
    """Wrap `module.name` so that its total wall time accumulates in `sink[name]`."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            sink[name] = sink.get(name, 0.0) + perf_counter() - start
            sink[f"rss_after_{name}_mb"] = peak_rss_mb()

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def importance_ranks(importances: pd.DataFrame, truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Where the planted node (and its genes) rank, per importance method."""
    node = truth["node"]
    planted = {f"{g}{synthetic_tcr.GENE_SUFFIX}" for g in truth["genes"]}
    path = set(truth["downstream_nodes"])
    ranks: dict[str, dict[str, Any]] = {}
    for method, table in importances.groupby("method", sort=False):
        hidden = table[table["kind"] == "hidden"].sort_values("mean", ascending=False)
        order = hidden["node"].tolist()
        entry: dict[str, Any] = {
            "n_hidden": len(order),
            "node_rank": order.index(node) + 1 if node in order else None,
            "top": [
                (n, "planted" if n == node else "path" if n in path else "") for n in order[:10]
            ],
        }
        if "control_mean" in hidden:
            excess = (hidden["mean"] - hidden["control_mean"]).to_numpy()
            above = hidden["node"].to_numpy()[np.argsort(-excess, kind="stable")].tolist()
            entry["node_rank_above_control"] = above.index(node) + 1 if node in above else None
            entry["top_above_control"] = [
                (n, "planted" if n == node else "path" if n in path else "") for n in above[:10]
            ]
            entry["n_above_control"] = int(hidden["above_control"].sum())
            entry["node_above_control"] = bool(
                hidden.loc[hidden["node"] == node, "above_control"].any()
            )
        inputs = table[table["kind"] == "input"].sort_values("mean", ascending=False)
        if len(inputs):
            k = len(planted)
            entry["genes_in_top_k"] = int(inputs["node"].head(k).isin(planted).sum())
            entry["k"] = k
            entry["n_inputs"] = len(inputs)
        ranks[str(method)] = entry
    return ranks


def node_weights_after(outcome: Any) -> pd.DataFrame:
    """pknet's `node_weights` importances of the trained folds, computed after the timed run.

    The same computation as `explain: [node_weights]` in the spec (pknet's `explain_fold` on
    each fold's held-out samples; knock-outs are batched within pknet's memory budget).
    """
    import jax

    from pknet.runtime import explain
    from pknet.runtime.transforms import apply_input_stats

    per_fold = []
    x, y = outcome.dataset.x, outcome.dataset.y
    for k, split in enumerate(outcome.splits):
        stats = jax.tree.map(lambda a, k=k: np.asarray(a)[k], outcome.stats)
        train = (apply_input_stats(x[split.train], stats), y[split.train])
        test = (apply_input_stats(x[split.test], stats), y[split.test])
        model = outcome.trained.model(k)
        per_fold.append(
            explain.explain_fold(model, outcome.program.loss.predict, ["node_weights"], train, test)
        )
    net = outcome.network
    kind = np.full(net.network.n_nodes, "hidden", dtype=object)
    kind[net.inputs] = "input"
    kind[net.outputs] = "output"
    return explain.importance_table(per_fold, net.network.nodes, kind)


def pknet_worker(config_path: Path) -> None:
    """Run pknet on the benchmark spec and write what the parent prints to a JSON file."""
    config = json.loads(config_path.read_text())
    start = perf_counter()
    import jax

    import pknet
    import pknet.api
    import pknet.compiler.dataset
    import pknet.compiler.model.program
    import pknet.runtime.run
    import pknet.runtime.train

    import_s = perf_counter() - start

    epochs: list[float] = []
    parts: dict[str, float] = {}

    def on_epoch(report: pknet.runtime.progress.EpochReport) -> None:
        epochs.append(perf_counter())
        if report.epoch == 1:
            parts["rss_after_epoch1_mb"] = peak_rss_mb()

    with contextlib.ExitStack() as stack:
        log = stack.enter_context(logged_compiles())
        for module, name in (
            (pknet.compiler.dataset, "read_inputs"),
            (pknet.api, "compile_network"),
            (pknet.compiler.dataset, "load_dataset"),
            (pknet.compiler.model.program, "build_program"),
            (pknet.runtime.run, "fold_stats"),
            (pknet.runtime.run, "train_folds"),
            (pknet.runtime.run, "predict_all"),
            (pknet.runtime.run, "_explain"),
            (pknet.runtime.train, "init_folds"),
        ):
            stack.enter_context(timed_calls(module, name, parts))
        t0 = perf_counter()
        result = pknet.run(
            config["spec"],
            out=config["out"],
            overwrite=True,
            device=config["device"],
            on_epoch=on_epoch,
        )
        wall = perf_counter() - t0
    timed_jit = list(log.records)  # compilations of the timed run only

    outcome = result.outcome
    peak = peak_rss_mb()
    durations = np.diff([t0, *epochs])
    epoch_s = float(np.median(durations[1:])) if len(durations) > 1 else float("nan")
    xla = [r for r in timed_jit if r[1] == "fold_epoch"]
    samples = outcome.dataset.samples
    importances = outcome.importances
    extra: dict[str, float] = {}
    methods = outcome.plan.explain_methods
    if config["node_weights"] and "node_weights" not in set(methods):
        start = perf_counter()
        extra_table = node_weights_after(outcome)
        extra = {"node_weights_s": perf_counter() - start, "peak_rss_mb": peak_rss_mb()}
        importances = pd.concat([importances, extra_table], ignore_index=True)
    controlled: dict[str, Any] = {}
    if config["control"]:
        start = perf_counter()
        rerun = pknet.run(
            config["spec"],
            {"explain": {"methods": ["gradient_x_input"], "control": "shuffled"}},
            out=config["out"] + "_control",
            overwrite=True,
        )
        controlled = {
            "seconds": perf_counter() - start,
            "ranks": importance_ranks(rerun.outcome.importances, config["truth"]),
        }
    document = {
        "bound": epoch_bound(outcome, config["bandwidth_mb"], config["device"]),
        "import_s": import_s,
        "wall_s": wall,
        "timings": outcome.timings,
        "parts": parts,
        "to_first_epoch_s": float(epochs[0] - t0),
        "epoch_s": epoch_s,
        "epoch_jit": {
            stage: sum(s for st, _, s in xla if st == stage) for stage in ("trace", "lower", "xla")
        },
        "all_jit_s": sum(s for _, _, s in timed_jit),
        "peak_rss_mb": peak,
        "node_weights_after": extra,
        "control": controlled,
        "n_parameters": outcome.program.n_parameters,
        "metrics": result.metrics,
        "test_ids": [[samples[i] for i in split.test] for split in outcome.splits],
        "ranks": importance_ranks(importances, config["truth"]) if len(importances) else {},
        "device": str(jax.devices()[0]),
    }
    Path(config["result"]).write_text(json.dumps(document, indent=1))


def epoch_bound(outcome: Any, bandwidth_mb: int, device: str) -> dict[str, Any]:
    """The machine bound of one epoch of all folds (see `machine_bound.py`), measured after the
    run in the same process: the training rows of every fold through every weight, and the
    inputs of those rows read once (dense as pknet holds them, or as CSR)."""
    from machine_bound import matrix_bytes, measure_machine, network_epoch_work

    x = np.asarray(outcome.dataset.x)
    used = np.unique(np.concatenate([split.train for split in outcome.splits]))
    sizes = matrix_bytes(len(used), x.shape[1], int(np.count_nonzero(x[used])))
    rows = sum(len(split.train) for split in outcome.splits)
    weights = outcome.network.network.n_edges
    machine = measure_machine(read_mb=bandwidth_mb, platform=device)
    bound = {}
    for layout, x_bytes in sizes.items():
        work = network_epoch_work(weights, rows, x_bytes)
        bound[layout] = {"seconds": work.bound_s(machine), "work": work.describe(machine)}
    return {"machine": machine.describe(), "weights": weights, "training_rows": rows, **bound}


def run_pknet(
    spec: Path,
    work: Path,
    truth: dict[str, Any],
    node_weights: bool,
    control: bool,
    jax_cache: bool = False,
    bandwidth_mb: int = 512,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run `pknet_worker` in a fresh interpreter; return its document."""
    config = work / "worker.json"
    result = work / "pknet_result.json"
    config.write_text(
        json.dumps(
            {
                "spec": str(spec),
                "out": str(work / "pknet_run"),
                "result": str(result),
                "truth": truth,
                "node_weights": node_weights,
                "control": control,
                "bandwidth_mb": bandwidth_mb,
                "device": device,
            }
        )
    )
    start = perf_counter()
    env = os.environ if jax_cache else {**os.environ, "PKNET_JAX_CACHE": "off"}
    subprocess.run([sys.executable, __file__, "--worker", str(config)], check=True, env=env)
    document = json.loads(result.read_text())
    document["process_s"] = perf_counter() - start
    return document


# --- CORNETO + Keras (runs in this process, after pknet) ---------------------------------------


@dataclass
class CornetoResult:
    import_s: float
    read_s: float
    wall_s: float
    graph_s: float
    build_s: list[float]
    first_epoch_s: list[float]
    epoch_s: list[float]
    fit_s: list[float]
    auc: list[float]
    n_parameters: int
    peak_rss_mb: float


def standardize(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pknet's `standardize`: training mean and population sd, zero sd replaced by 1."""
    mean = train.mean(axis=0, dtype=np.float64)
    sd = train.std(axis=0, dtype=np.float64)
    sd = np.where(sd > 0, sd, 1.0)
    scale = lambda a: ((a - mean) / sd).astype(np.float32)  # noqa: E731
    return scale(train), scale(other)


def pknet_init(model: Any, rng: np.random.Generator) -> None:
    """Re-initialise every one-unit Dense layer: weights U(-1/sqrt(fan_in), ..), biases 0."""
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) == 2 and weights[0].ndim == 2:
            fan_in = weights[0].shape[0]
            limit = 1.0 / np.sqrt(fan_in)
            kernel = rng.uniform(-limit, limit, weights[0].shape).astype(np.float32)
            layer.set_weights([kernel, np.zeros_like(weights[1])])


def stamp(stamps: list[float], *_: Any) -> None:
    """Keras epoch callback: note the time."""
    stamps.append(perf_counter())


def run_corneto(
    args: argparse.Namespace, data: Path, edges: Path, test_ids: list[list[str]]
) -> CornetoResult:
    """Build the KPNN with CORNETO and train it with Keras, one fold after another."""
    start = perf_counter()
    import anndata
    import keras
    from corneto import Graph
    from corneto.ml import build_dagnn

    from pknet.runtime.metrics import METRICS

    import_s = perf_counter() - start
    t0 = perf_counter()
    table = pd.read_csv(edges)
    inputs = sorted(set(table["child"]) - set(table["parent"]))
    adata = anndata.read_h5ad(data / "expression.h5ad")
    genes = [n.removesuffix(synthetic_tcr.GENE_SUFFIX) for n in inputs]
    x = np.asarray(adata[:, genes].X.toarray(), dtype=np.float32)
    labels = pd.read_csv(data / "labels.csv", index_col="barcode")["TCR"]
    y = labels.loc[adata.obs_names].to_numpy().astype(np.float32)
    row = {name: i for i, name in enumerate(adata.obs_names)}
    read_s = perf_counter() - t0

    graph_start = perf_counter()
    graph = Graph()
    graph.add_edges(list(zip(table["child"], table["parent"], strict=True)))
    graph_s = perf_counter() - graph_start

    result = CornetoResult(import_s, read_s, 0.0, graph_s, [], [], [], [], [], 0, 0.0)
    for k, ids in enumerate(test_ids):
        test = np.array([row[i] for i in ids])
        train = np.setdiff1d(np.arange(len(y)), test)
        x_train, x_test = x[train], x[test]
        if args.inputs == "standardize":
            x_train, x_test = standardize(x_train, x_test)
        keras.utils.set_random_seed(args.seed + k)
        t = perf_counter()
        # build_dagnn gives kernels the bias_reg_* settings and biases the kernel_reg_* ones;
        # equal values make that harmless
        model = build_dagnn(
            graph,
            inputs,
            [OUTPUT],
            bias_reg_l1=args.l1,
            bias_reg_l2=args.l2,
            kernel_reg_l1=args.l1,
            kernel_reg_l2=args.l2,
            batch_norm_input=False,
            dropout=0.0,
            force_sign=False,
        )
        pknet_init(model, np.random.default_rng([args.seed, k]))
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=args.lr, epsilon=1e-8),
            loss="binary_crossentropy",
        )
        result.build_s.append(perf_counter() - t)
        result.n_parameters = model.count_params()
        stamps: list[float] = []
        timer = keras.callbacks.LambdaCallback(on_epoch_end=partial(stamp, stamps))
        t = perf_counter()
        model.fit(
            x_train,
            y[train],
            batch_size=args.batch_size,
            epochs=args.epochs,
            shuffle=True,
            verbose=0,
            callbacks=[timer],
        )
        durations = np.diff([t, *stamps])
        result.fit_s.append(perf_counter() - t)
        result.first_epoch_s.append(float(durations[0]))
        result.epoch_s.append(float(np.median(durations[1:])) if len(durations) > 1 else np.nan)
        scores = model.predict(x_test, batch_size=512, verbose=0).reshape(-1)
        result.auc.append(float(METRICS["roc_auc"](y[test].astype(np.int64), scores, "binary")))
        print(
            f"  corneto fold {k}: build {result.build_s[-1]:.1f} s, fit {result.fit_s[-1]:.1f} s "
            f"(first epoch {durations[0]:.1f} s), ROC-AUC {result.auc[-1]:.4f}",
            flush=True,
        )
        keras.backend.clear_session()
    result.wall_s = perf_counter() - t0
    result.peak_rss_mb = peak_rss_mb()
    return result


# --- report ------------------------------------------------------------------------------------


def mean_sd(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    sd = a.std(ddof=1) if len(a) > 1 else 0.0
    return f"{a.mean():.4f} ± {sd:.4f}"


def report(
    args: argparse.Namespace,
    truth: dict[str, Any],
    net: dict[str, Any],
    pk: dict[str, Any],
    cn: CornetoResult | None,
    say: Callable[[str], None] = print,
) -> None:
    """Print the comparison."""
    fold_auc = [f["metrics"]["roc_auc"] for f in pk["metrics"]["folds"]]
    timings, parts, jit = pk["timings"], pk["parts"], pk["epoch_jit"]
    part = lambda name: parts.get(name, 0.0)  # noqa: E731
    gb = lambda name: parts.get(f"rss_after_{name}_mb", 0.0) / 1024  # noqa: E731
    compile_total = pk["to_first_epoch_s"] - pk["epoch_s"]
    milp = ""
    if net["milp_s"] is not None:
        milp = f", MILP {net['milp_s']:.2f} s ({net['milp_status']}, not timed below)"
    say("")
    say("=" * 78)
    say(
        f"data: {truth['n_samples']} cells ({truth['n_positive']} positive) x {net['inputs']} "
        f"genes, {truth['zero_fraction']:.1%} zeros; planted {truth['node']} "
        f"({truth['n_genes']} genes)"
    )
    say(
        f"network ({args.network}): {net['nodes']} nodes, {net['edges']} edges, "
        f"{net['inputs']} inputs -> {OUTPUT}{milp}"
    )
    say(
        f"training: {args.folds}-fold stratified CV, {args.epochs} epochs, batch "
        f"{args.batch_size}, Adam lr {args.lr}, loss {loss_expression(args)}, inputs "
        f"{args.inputs}, no dropout or batch norm; {pk['device']}"
    )
    say("-" * 78)
    say(f"pknet ({pk['n_parameters']} parameters per fold; folds vmapped)")
    say(
        f"  wall, pknet.run spec -> run dir   {pk['wall_s']:7.1f} s  "
        f"(import {pk['import_s']:.1f} s)"
    )
    say(
        f"    compile_s {timings['compile_s']:.2f}, train_s {timings['train_s']:.2f}, "
        f"evaluate_s {timings['evaluate_s']:.2f} (predict {part('predict_all'):.2f}, "
        f"explain {part('_explain'):.2f}), write {pk['wall_s'] - sum(timings.values()):.2f}"
    )
    say(
        f"  compile, spec -> jitted model     {compile_total:7.2f} s  (end of epoch 1 at "
        f"{pk['to_first_epoch_s']:.2f} s - median epoch {pk['epoch_s']:.2f} s)"
    )
    say(
        f"    network {part('compile_network'):.2f}, data {part('load_dataset'):.2f} (file read "
        f"{part('read_inputs'):.2f}), program {part('build_program'):.2f}, fold input stats "
        f"{part('fold_stats'):.2f}, fold models {part('init_folds'):.2f}"
    )
    say(
        f"    jit of the epoch: trace {jit['trace']:.2f} + lower {jit['lower']:.2f} + XLA "
        f"{jit['xla']:.2f} s; all jit in the run {pk['all_jit_s']:.2f} s"
    )
    say(
        f"  peak RSS (subprocess, pknet only) {pk['peak_rss_mb'] / 1024:7.2f} GB  (after network "
        f"{gb('compile_network'):.2f}, data {gb('load_dataset'):.2f}, epoch 1 {gb('epoch1'):.2f}, "
        f"training {gb('train_folds'):.2f}, predict {gb('predict_all'):.2f})"
    )
    say(f"  ROC-AUC                           {mean_sd(fold_auc)}")
    bound = pk["bound"]
    say(
        f"  machine bound of one epoch ({bound['weights']} weights x {bound['training_rows']} "
        f"training rows of all folds; {bound['machine']}):"
    )
    for layout in ("dense", "sparse"):
        entry = bound[layout]
        say(
            f"    inputs read {layout:6s} {entry['seconds']:.4f} s = {entry['work']}; "
            f"measured epoch / bound {pk['epoch_s'] / entry['seconds']:.1f}x"
        )
    if cn is not None:
        say("-" * 78)
        say(f"CORNETO build_dagnn + Keras ({cn.n_parameters} parameters; folds one after another)")
        say(f"  wall, read + folds                {cn.wall_s:7.1f} s  (import {cn.import_s:.1f} s)")
        say(
            f"    read {cn.read_s:.1f}, graph {cn.graph_s:.1f}, "
            f"build+compile {sum(cn.build_s):.1f}, "
            f"fit {sum(cn.fit_s):.1f} (first epochs {sum(cn.first_epoch_s):.1f}, median epoch "
            f"{np.median(cn.epoch_s):.2f} s)"
        )
        say(f"  peak RSS (main process)           {cn.peak_rss_mb / 1024:7.2f} GB")
        say(f"  ROC-AUC                           {mean_sd(cn.auc)}")
        say("-" * 78)
        build_train = (sum(cn.fit_s) + sum(cn.build_s)) / timings["train_s"]
        per_epoch = np.median(cn.epoch_s) * args.folds / pk["epoch_s"]
        say(
            f"corneto / pknet: wall {cn.wall_s / pk['wall_s']:.1f}x; model build + training "
            f"{build_train:.1f}x; one fold-epoch after jit {np.median(cn.epoch_s):.3f} s vs "
            f"{pk['epoch_s'] / args.folds:.3f} s ({per_epoch:.1f}x)"
        )
        say(f"ROC-AUC pknet - corneto: {np.mean(fold_auc) - np.mean(cn.auc):+.4f}")
    say("-" * 78)
    if not pk["ranks"]:
        say("pknet importances: none requested")
    for method, entry in pk["ranks"].items():
        rank = entry["node_rank"]
        tops = [t for t in HIDDEN_TOP if rank is not None and rank <= t]
        where = f"top {tops[0]}" if tops else f"not in the top {HIDDEN_TOP[-1]}"
        genes = ""
        if "k" in entry:
            genes = (
                f"; {entry['genes_in_top_k']} of the top {entry['k']} of {entry['n_inputs']} "
                "input genes are planted"
            )
        say(
            f"importance {method}: {truth['node']} ranks {rank} of {entry['n_hidden']} hidden "
            f"nodes ({where}){genes}"
        )
        marks = {"planted": "*", "path": "+", "": ""}
        say("  top 10: " + ", ".join(f"{n}{marks[m]}" for n, m in entry["top"]))
    if pk["ranks"]:
        say("  (* the planted node, + a node its signal flows through to TCR)")
    control = pk.get("control") or {}
    for method, entry in control.get("ranks", {}).items():
        say(
            f"{method} above a shuffled-prior control (importance - control importance; "
            f"rerun {control['seconds']:.0f} s, untimed): {truth['node']} ranks "
            f"{entry['node_rank_above_control']} of {entry['n_hidden']}; "
            f"{'above' if entry['node_above_control'] else 'not above'} control (mean > control "
            f"mean + 2 sd; {entry['n_above_control']} hidden nodes are)"
        )
        marks = {"planted": "*", "path": "+", "": ""}
        say("  top 10: " + ", ".join(f"{n}{marks[m]}" for n, m in entry["top_above_control"]))
    after = pk["node_weights_after"]
    if after:
        say(
            f"  node_weights computed after the timed run: {after['node_weights_s']:.1f} s, "
            "peak RSS then "
            f"{after['peak_rss_mb'] / 1024:.2f} GB"
        )
    say("=" * 78)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker is not None:
        pknet_worker(args.worker)
        return
    os.environ["KERAS_BACKEND"] = "jax"  # before anything imports keras
    with contextlib.ExitStack() as stack:
        if args.workdir is not None:
            work = args.workdir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kpnn_bench_")))
        data, truth = prepare_data(args, work)
        edges, net = prepare_network(args, data, work)
        spec = write_run_spec(args, data, edges, work)
        print(f"pknet: {spec}", flush=True)
        pk = run_pknet(
            spec,
            work,
            truth,
            not args.skip_node_weights,
            args.control,
            args.jax_cache,
            args.bandwidth_mb,
            args.device,
        )
        print(f"  pknet done in {pk['wall_s']:.1f} s", flush=True)
        cn = None
        if not args.skip_corneto:
            print("corneto + keras:", flush=True)
            cn = run_corneto(args, data, edges, pk["test_ids"])
        report(args, truth, net, pk, cn)


if __name__ == "__main__":
    main()
