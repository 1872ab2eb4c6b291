"""Benchmark: a pathway-hierarchy network trained by pknet against the same network in BINN.

Not run by CI. Needs the `bench` extra's `binn` and `torch` (a separate virtual environment
keeps the CPU torch wheel away from pknet's own):

    python3.11 -m venv /work/benchvenv
    /work/benchvenv/bin/pip install -e . binn==0.1.1 torch==2.13.0+cpu

Run from the repository root:

    /work/benchvenv/bin/python benchmarks/hierarchy_vs_binn.py            # both sizes, both tools
    /work/benchvenv/bin/python benchmarks/hierarchy_vs_binn.py --size proteomics
    /work/benchvenv/bin/python benchmarks/hierarchy_vs_binn.py --quick    # smoke run, ~1 min
    python benchmarks/hierarchy_vs_binn.py --skip-binn                    # pknet only

Two sizes, one invocation:

- `proteomics`: BINN's own use case, `examples/pathway_proteomics` (554 plasma proteins x 197
  samples, Reactome as shipped by `binn`).
- `go`: a GO-size hierarchy that no file here has, generated with a fixed seed (`make_go_case`):
  10,000 genes, 7,775 terms on six levels (25 roots ... 3,000 at the bottom, GO-like widths), each
  term below the roots under one or two parents one level up, each gene annotated to
  1 + Poisson(1.5) terms (mostly the deeper ones); Gaussian expression with gene-specific means
  and sds; in the positives (half of 400 samples) the genes under one level-2 term are shifted by
  U(0.4, 0.8) sd.

What is held equal (both tools read the same files, written by this script):

- the network: the same proteins/genes (measured and annotated), the same pathway size filter
  (`--min-genes`, pknet's rule: a term is kept when at least that many measured genes reach it
  in the unfiltered hierarchy; a dropped term takes its edges with it, and a kept term left
  with no gene below it goes too), applied here once, so
  both tools get the filtered annotation and hierarchy files (pknet then runs with
  `min_genes: 1`); the same roots (terms without a kept parent);
- the data: missing values imputed with the training fold's mean, then standardised with the
  training fold's mean and sd (pknet's `missing: mean` + `standardize`, done by hand for BINN,
  whose `BINNDataLoader` would zero-fill, scale on all samples and draw its own split);
- the folds: pknet's 5 stratified folds; the BINN side reuses their test samples by id;
- the training: tanh, dropout 0.1, Adam lr 1e-2, batch 32 reshuffled every epoch, a fixed number
  of epochs (50 on the proteomics data, 20 at GO size; no early stopping), predictions of each
  fold's model on its held-out samples, ROC-AUC per fold (mean over folds).

What is not matched (the tools differ by design):

- BINN places a pathway at its shortest distance from the roots and pads shorter branches with
  copies down to `n_layers` (set here to the deepest such distance, so no kept pathway is cut
  off); pknet places a term at its longest path from the genes and pads every skipping
  connection with copies. The same pathways appear in both, on different levels, and BINN drops
  the edges its level assignment skips.
- BINN's inputs feed the bottom pathways directly; pknet adds P-NET's diagonal gene layer (one
  weight per gene). BINN has a batch norm after every masked layer; pknet has none.
- BINN keeps dense `nn.Linear` weights under a pruning mask (every entry of every level pair is
  stored, multiplied and updated by Adam); pknet stores real edges only.
- Output: BINN has two logits and cross-entropy (`BINNTrainer`); pknet one logit and BCE.
- Initialisation: each tool's own. BINN's network (its costly part) is built once, and each fold
  starts from that one initial model (its state dict restored); pknet draws each fold's model
  from its own seed.
- pknet trains all folds together (vmapped, one jitted epoch); BINN one fold after another
  (`BINNTrainer.fit`, which also prints a line per epoch and syncs the loss every step).
- pknet writes its run directory (`pknet.run`); BINN writes nothing.

What is measured, each tool in its own subprocess (pknet first; the BINN process imports no
JAX):

- wall: the child process from start to exit, as the parent sees it (interpreter start,
  imports, reading, building, training, predicting, writing); also its parts inside the
  process;
- per-epoch time: the median epoch after the first (all folds together for pknet; BINN's epoch
  times, taken from the lines `BINNTrainer.fit` prints, summed over the folds);
- peak RSS: the child's `ru_maxrss` from `os.wait4`;
- ROC-AUC: mean ± sd over the folds.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "pathway_proteomics" / "data"
SIZES = ("proteomics", "go")


@dataclass(frozen=True)
class Settings:
    """One comparison's settings, shared by both workers."""

    name: str
    epochs: int
    folds: int = 5
    batch_size: int = 32
    lr: float = 1e-2
    dropout: float = 0.1
    units_per_term: int = 1
    seed: int = 0
    device: str = "cpu"  # pknet's; BINN trains on the CPU


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=[*SIZES, "both"], default="both")
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu", "tpu", "auto"),
        default="cpu",
        help="where pknet trains (`pknet run --device`)",
    )
    parser.add_argument("--epochs", type=int, default=50, help="epochs on the proteomics data")
    parser.add_argument("--go-epochs", type=int, default=20, help="epochs at GO size")
    parser.add_argument("--go-genes", type=int, default=10_000)
    parser.add_argument("--go-samples", type=int, default=400)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--min-genes", type=int, default=3)
    parser.add_argument("--units-per-term", type=int, default=1, help="pknet units per term")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="BINN's torch threads (1: its best here)"
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--skip-binn", action="store_true")
    parser.add_argument(
        "--binn-timeout", type=float, default=0, help="stop BINN after this many seconds (0: never)"
    )
    parser.add_argument("--workdir", type=Path, help="keep the files and run directories here")
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.go_epochs = 3, 2
        args.go_genes, args.go_samples, args.folds = 400, 60, 3
    return args


# --- the cases: files both tools read ----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """The files of one comparison (all TSV/CSV, in BINN's own layout) and what they hold."""

    matrix: Path  # `Protein` column, then one column per sample
    design: Path  # sample, group
    mapping: Path  # uniprot (gene), pathway (lowest term): filtered
    hierarchy: Path  # parent, child: filtered
    n_genes: int  # measured genes annotated to a kept term
    n_terms: int  # kept terms
    n_edges: int  # gene -> term and child -> parent edges kept
    depth: int  # deepest shortest distance of a kept term from the roots (1 = root)
    note: str


def size_filter(
    measured: set[str], mapping: pd.DataFrame, hierarchy: pd.DataFrame, min_genes: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """pknet's `min_genes` rule, applied to the files: keep a term when at least `min_genes`
    measured genes reach it in the unfiltered hierarchy; drop the edges of every other term,
    then the kept terms left with no gene below them (pknet's "connection" rule)."""
    mapping = mapping[mapping["uniprot"].isin(measured)].drop_duplicates()
    parents: dict[str, list[str]] = defaultdict(list)
    for parent, child in hierarchy[["parent", "child"]].itertuples(index=False):
        parents[child].append(parent)
    genes: dict[str, set[str]] = defaultdict(set)
    for gene, term in mapping.itertuples(index=False):  # every ancestor of a gene's terms
        seen, todo = set(), deque([term])
        while todo:
            node = todo.popleft()
            if node not in seen:
                seen.add(node)
                todo.extend(parents.get(node, ()))
        for node in seen:
            genes[node].add(gene)
    kept = {t for t, g in genes.items() if len(g) >= min_genes}
    mapping = mapping[mapping["pathway"].isin(kept)]
    hierarchy = hierarchy[hierarchy["parent"].isin(kept) & hierarchy["child"].isin(kept)]
    # a kept term whose genes all came through dropped children has no gene left: drop it too
    above: dict[str, list[str]] = defaultdict(list)
    for parent, child in hierarchy[["parent", "child"]].itertuples(index=False):
        above[child].append(parent)
    connected, todo = set(), deque(set(mapping["pathway"]))
    while todo:
        node = todo.popleft()
        if node not in connected:
            connected.add(node)
            todo.extend(above.get(node, ()))
    hierarchy = hierarchy[hierarchy["child"].isin(connected)]
    return mapping.reset_index(drop=True), hierarchy.drop_duplicates().reset_index(drop=True)


def root_depth(mapping: pd.DataFrame, hierarchy: pd.DataFrame) -> int:
    """The largest shortest distance of a kept term from the roots (roots at 1)."""
    terms = set(mapping["pathway"]) | set(hierarchy["parent"]) | set(hierarchy["child"])
    children: dict[str, list[str]] = defaultdict(list)
    for parent, child in hierarchy[["parent", "child"]].itertuples(index=False):
        children[parent].append(child)
    roots = terms - set(hierarchy["child"])
    depth = dict.fromkeys(roots, 1)
    todo = deque(roots)
    while todo:
        node = todo.popleft()
        for child in children.get(node, ()):
            if child not in depth:
                depth[child] = depth[node] + 1
                todo.append(child)
    return max(depth.values())


def write_case(
    folder: Path,
    matrix: pd.DataFrame,
    design: pd.DataFrame,
    mapping: pd.DataFrame,
    hierarchy: pd.DataFrame,
    min_genes: int,
    note: str,
) -> Case:
    """Filter the hierarchy once and write the four files both tools read."""
    folder.mkdir(parents=True, exist_ok=True)
    mapping, hierarchy = size_filter(set(matrix["Protein"]), mapping, hierarchy, min_genes)
    case = Case(
        matrix=folder / "matrix.csv",
        design=folder / "design.tsv",
        mapping=folder / "mapping.tsv",
        hierarchy=folder / "hierarchy.tsv",
        n_genes=mapping["uniprot"].nunique(),
        n_terms=len(set(mapping["pathway"]) | set(hierarchy["parent"]) | set(hierarchy["child"])),
        n_edges=len(mapping) + len(hierarchy),
        depth=root_depth(mapping, hierarchy),
        note=note,
    )
    matrix.to_csv(case.matrix, index=False, float_format="%.5g")
    design.to_csv(case.design, sep="\t", index=False)
    mapping.to_csv(case.mapping, sep="\t", index=False)
    hierarchy.to_csv(case.hierarchy, sep="\t", index=False)
    return case


def proteomics_case(folder: Path, min_genes: int) -> Case:
    """`examples/pathway_proteomics` as it is."""
    matrix = pd.read_csv(EXAMPLE / "plasma_proteomics_matrix.csv")
    design = pd.read_csv(EXAMPLE / "plasma_proteomics_design.tsv", sep="\t")
    mapping = pd.read_csv(EXAMPLE / "uniprot_to_pathway.tsv", sep="\t")
    hierarchy = pd.read_csv(EXAMPLE / "pathway_hierarchy.tsv", sep="\t")
    note = (
        f"examples/pathway_proteomics: {matrix.shape[0]} proteins x {matrix.shape[1] - 1} "
        f"samples, {int(matrix.iloc[:, 1:].isna().to_numpy().mean() * 100)}% missing"
    )
    return write_case(folder, matrix, design, mapping, hierarchy, min_genes, note)


GO_LEVELS = (25, 150, 600, 1500, 2500, 3000)  # terms per level, roots first


def make_go_case(
    folder: Path, *, genes: int, samples: int, seed: int, min_genes: int, scale: float = 1.0
) -> Case:
    """A GO-size hierarchy with a planted signal (see the module docstring); `scale` shrinks
    the level widths (the quick run)."""
    rng = np.random.default_rng(seed)
    levels = [max(2, round(n * scale)) for n in GO_LEVELS]
    names = [[f"T{lv}_{i:04d}" for i in range(n)] for lv, n in enumerate(levels)]
    edges = []
    for lv in range(1, len(levels)):
        above = names[lv - 1]
        for term in names[lv]:
            n_parents = 1 + int(rng.random() < 0.3)
            for parent in rng.choice(len(above), size=n_parents, replace=False):
                edges.append((above[parent], term))
    hierarchy = pd.DataFrame(edges, columns=["parent", "child"])
    # genes annotate mostly the deeper terms (GO annotations are to specific terms)
    all_terms = np.concatenate([np.asarray(n) for n in names])
    level_of = np.concatenate([np.full(len(n), lv) for lv, n in enumerate(names)])
    weight = (level_of + 1.0) ** 2
    weight /= weight.sum()
    gene_names = np.asarray([f"G{i:05d}" for i in range(genes)])
    rows = []
    for g in gene_names:
        for term in rng.choice(all_terms, size=1 + rng.poisson(1.5), replace=False, p=weight):
            rows.append((g, term))
    mapping = pd.DataFrame(rows, columns=["uniprot", "pathway"])
    # planted: the genes under one level-2 term (or the deepest level there is)
    planted_level = min(2, len(levels) - 1)
    planted = names[planted_level][int(rng.integers(levels[planted_level]))]
    below = {planted}
    for _ in range(planted_level + 1, len(levels)):
        below |= set(hierarchy.loc[hierarchy["parent"].isin(below), "child"])
    signal = np.asarray(sorted(set(mapping.loc[mapping["pathway"].isin(below), "uniprot"])))
    y = np.arange(samples) % 2
    rng.shuffle(y)
    mean = rng.normal(20.0, 2.0, genes)
    sd = rng.uniform(0.3, 1.0, genes)
    x = rng.normal(mean, sd, (samples, genes))
    columns = np.flatnonzero(np.isin(gene_names, signal))
    shift = rng.uniform(0.4, 0.8, len(columns)) * sd[columns]
    x[np.ix_(y == 1, columns)] += shift
    sample_names = [f"S{i:04d}" for i in range(samples)]
    matrix = pd.DataFrame(x.T.astype(np.float32), columns=sample_names)
    matrix.insert(0, "Protein", gene_names)
    design = pd.DataFrame({"sample": sample_names, "group": y + 1})
    (folder / "truth.json").parent.mkdir(parents=True, exist_ok=True)
    (folder / "truth.json").write_text(json.dumps({"term": planted, "genes": signal.tolist()}))
    note = (
        f"generated GO-size hierarchy (seed {seed}): {genes} genes x {samples} samples, "
        f"{sum(levels)} terms on {len(levels)} levels {levels}; planted {planted} "
        f"({len(signal)} genes)"
    )
    return write_case(folder, matrix, design, mapping, hierarchy, min_genes, note)


# --- pknet (its own subprocess) -----------------------------------------------------------------

SPEC = """\
version: 1
name: {name}
seed: {seed}
data:
  expression: {{file: {matrix}, orientation: samples_as_columns}}
  target: {{file: {design}, index: sample, column: group}}
  transform: [standardize]
  missing: mean
network:
  edges:
    - {{kind: annotation_table, file: {mapping}, member: uniprot, term: pathway}}
    - {{kind: hierarchy, file: {hierarchy}, parent: parent, child: child}}
  inputs: leaves & measured
  outputs: roots
model:
  layers:
    - {{kind: hierarchy, activation: tanh, units_per_term: {units}, min_genes: 1, padding: copy, \
dropout: {dropout}}}
    - {{kind: dense, units: 1}}
loss: bce
train:
  optimizer: {{name: adam, lr: {lr}}}
  epochs: {epochs}
  batch_size: {batch}
evaluate:
  cv: {{kind: stratified_kfold, folds: {folds}}}
  metrics: [roc_auc]
"""


def pknet_worker(config: dict[str, Any]) -> dict[str, Any]:
    start = perf_counter()
    import pknet.api as api

    imported = perf_counter()
    settings, case = Settings(**config["settings"]), config["case"]
    spec = Path(config["work"]) / "spec.yaml"
    spec.write_text(
        SPEC.format(
            name=settings.name,
            seed=settings.seed,
            matrix=case["matrix"],
            design=case["design"],
            mapping=case["mapping"],
            hierarchy=case["hierarchy"],
            units=settings.units_per_term,
            dropout=settings.dropout,
            lr=settings.lr,
            epochs=settings.epochs,
            batch=settings.batch_size,
            folds=settings.folds,
        )
    )
    ends: list[float] = []
    result = api.run(
        spec,
        out=Path(config["work"]) / "run",
        overwrite=True,
        device=settings.device,
        on_epoch=lambda *_: ends.append(perf_counter()),
    )
    done = perf_counter()
    outcome = result.outcome
    summary = result.metrics["summary"]["roc_auc"]
    layer = outcome.trained.model(0).layers[0]
    kinds = pd.Series(np.asarray(layer.node_kinds, dtype=object)).value_counts().to_dict()
    samples = np.asarray(outcome.dataset.samples)
    return {
        "import_s": imported - start,
        "run_s": done - imported,
        "epoch_s": float(np.median(np.diff(ends))) if len(ends) > 2 else float("nan"),
        "first_epoch_end_s": ends[0] - imported,
        "timings": outcome.timings,
        "roc_auc": [f["roc_auc"] for f in outcome.fold_metrics],
        "roc_auc_summary": summary,
        "n_parameters": int(outcome.program.n_parameters),
        "node_kinds": {str(k): int(v) for k, v in kinds.items()},
        "test_samples": [samples[s.test].tolist() for s in outcome.splits],
    }


# --- BINN (its own subprocess, no JAX) ----------------------------------------------------------


class EpochClock(io.TextIOBase):
    """Stdout for `BINNTrainer.fit`: drops its text, keeps the time of each epoch line."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def write(self, text: str) -> int:
        if "Train Loss" in text:
            self.stamps.append(perf_counter())
        return len(text)


def fold_inputs(x: np.ndarray, train: np.ndarray, test: np.ndarray):
    """Mean-impute and standardise with the training rows' statistics (pknet's rule)."""
    mean = np.nanmean(x[train], axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    filled = np.where(np.isnan(x), mean, x)
    sd = filled[train].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    scaled = ((filled - mean) / sd).astype(np.float32)
    return scaled[train], scaled[test]


def binn_worker(config: dict[str, Any]) -> dict[str, Any]:
    start = perf_counter()
    import torch
    from binn import BINN, BINNTrainer
    from sklearn.metrics import roc_auc_score
    from torch.utils.data import DataLoader, TensorDataset

    imported = perf_counter()
    settings, case = Settings(**config["settings"]), config["case"]
    torch.set_num_threads(config["torch_threads"])
    torch.manual_seed(settings.seed)
    matrix = pd.read_csv(case["matrix"])
    design = pd.read_csv(case["design"], sep="\t")
    mapping = pd.read_csv(case["mapping"], sep="\t").rename(
        columns={"uniprot": "input", "pathway": "translation"}
    )
    pathways = pd.read_csv(case["hierarchy"], sep="\t").rename(
        columns={"parent": "target", "child": "source"}
    )
    read = perf_counter()
    progress = Path(config["work"]) / "progress.txt"

    def reached(what: str) -> None:
        with progress.open("a") as f:
            f.write(f"{what} at {perf_counter() - start:.1f} s\n")

    reached("building the network")
    with contextlib.redirect_stdout(io.StringIO()):
        template = BINN(
            data_matrix=matrix,
            mapping=mapping,
            pathways=pathways,
            activation="tanh",
            n_layers=case["depth"],
            n_outputs=2,
            dropout=settings.dropout,
        )
    built = perf_counter()
    reached(f"network built in {built - read:.1f} s; training fold 0")
    initial = copy.deepcopy(template.state_dict())
    # the samples x inputs matrix in BINN's input order (`BINNDataLoader._align_to_network`)
    aligned = matrix.set_index("Protein").reindex(template.inputs)
    samples = list(design["sample"])
    x = aligned[samples].T.to_numpy(dtype=np.float64)
    groups = sorted(design["group"].unique())
    y = design["group"].map({g: i for i, g in enumerate(groups)}).to_numpy()
    index = {s: i for i, s in enumerate(samples)}
    aucs, epoch_times, fit_s = [], [], 0.0
    for k, test_ids in enumerate(config["test_samples"]):
        test = np.asarray([index[s] for s in test_ids])
        train = np.setdiff1d(np.arange(len(samples)), test)
        x_train, x_test = fold_inputs(x, train, test)
        model = template  # back to the one initial model (a pruned module cannot be deep-copied)
        model.load_state_dict(initial)
        torch.manual_seed(settings.seed + 1 + k)
        data = TensorDataset(torch.tensor(x_train), torch.tensor(y[train], dtype=torch.long))
        loader = DataLoader(data, batch_size=settings.batch_size, shuffle=True)
        clock = EpochClock()
        began = perf_counter()
        with contextlib.redirect_stdout(clock):
            BINNTrainer(model).fit({"train": loader}, settings.epochs, settings.lr)
        fit_s += perf_counter() - began
        reached(f"fold {k} trained ({np.mean(np.diff([began, *clock.stamps])):.2f} s per epoch)")
        epoch_times.append(np.diff([began, *clock.stamps]))
        model.eval()
        with torch.no_grad():
            scores = torch.softmax(model(torch.tensor(x_test)), dim=1)[:, 1].numpy()
        aucs.append(float(roc_auc_score(y[test], scores)))
    done = perf_counter()
    layers = [m for m in template.layers if isinstance(m, torch.nn.Linear)]
    masked = [m for m in layers if hasattr(m, "weight_mask")]
    per_epoch = np.sum(epoch_times, axis=0)  # all folds, epoch by epoch
    return {
        "import_s": imported - start,
        "run_s": done - imported,
        "read_s": read - imported,
        "build_s": built - read,
        "fit_s": fit_s,
        "predict_other_s": done - built - fit_s,
        "epoch_s": float(np.median(per_epoch[1:])) if len(per_epoch) > 1 else float("nan"),
        "roc_auc": aucs,
        "n_inputs": len(template.inputs),
        "layer_sizes": [m.in_features for m in layers] + [layers[-1].out_features],
        "dense_entries": int(sum(m.weight_mask.numel() for m in masked)),
        "real_entries": int(sum(m.weight_mask.sum().item() for m in masked)),
        "n_parameters": int(sum(p.numel() for p in template.parameters())),
    }


def worker_main(tool: str, config_path: Path) -> None:
    config = json.loads(config_path.read_text())
    result = (pknet_worker if tool == "pknet" else binn_worker)(config)
    Path(config["result"]).write_text(json.dumps(result))


# --- the parent ---------------------------------------------------------------------------------


def run_child(
    tool: str, config: dict[str, Any], work: Path, timeout_s: float = 0.0
) -> dict[str, Any]:
    """Run one worker in its own process; add its wall time and peak RSS (`os.wait4`). A worker
    still running after `timeout_s` (0: no limit) is killed, and the phase it had reached (its
    `progress.txt`) is returned instead of its results."""
    work.mkdir(parents=True, exist_ok=True)
    config = {**config, "work": str(work), "result": str(work / f"{tool}.json")}
    path = work / f"{tool}-config.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(HERE)])}
    began = perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--worker", tool, str(path)], env=env)
    timer = threading.Timer(timeout_s, child.kill) if timeout_s else None
    if timer is not None:
        timer.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = perf_counter() - began
    if timer is not None:
        timer.cancel()
    if timeout_s and wall >= timeout_s:  # killed: what it had reached, and its cost so far
        progress = work / "progress.txt"
        reached = progress.read_text().splitlines()[-1] if progress.exists() else "start"
        return {
            "timed_out": True,
            "reached": reached,
            "wall_s": wall,
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the {tool} worker failed (exit {os.waitstatus_to_exitcode(status)})")
    result = json.loads((work / f"{tool}.json").read_text())
    result["wall_s"] = wall
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    return result


def mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.4f}"


def report(
    size: str, case: Case, settings: Settings, min_genes: int, pk: dict, bn: dict | None
) -> None:
    line = "-" * 94
    print("=" * 94)
    print(f"{size}: {case.note}")
    print(
        f"network after the size filter (min genes {min_genes}): {case.n_genes} genes, "
        f"{case.n_terms} terms, {case.n_edges} edges, {case.depth} levels from the roots"
    )
    print(
        f"training: {settings.folds}-fold stratified CV, {settings.epochs} epochs, batch "
        f"{settings.batch_size}, Adam lr {settings.lr}, tanh, dropout {settings.dropout}"
    )
    print(line)
    t = pk["timings"]
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(pk["node_kinds"].items()))
    print(f"pknet ({pk['n_parameters']} parameters per fold; nodes: {kinds}; folds vmapped)")
    print(f"  wall (process)        {pk['wall_s']:8.2f} s   cpu {pk['cpu_s']:.1f} s")
    print(
        f"    import {pk['import_s']:.2f}, pknet.run {pk['run_s']:.2f} (compile "
        f"{t['compile_s']:.2f}, train {t['train_s']:.2f}, evaluate {t['evaluate_s']:.2f}, "
        f"write+rest {pk['run_s'] - t['compile_s'] - t['train_s'] - t['evaluate_s']:.2f}); "
        f"end of epoch 1 at {pk['first_epoch_end_s']:.2f} s"
    )
    print(f"  per epoch (all folds) {pk['epoch_s'] * 1e3:8.1f} ms")
    print(f"  peak RSS              {pk['peak_rss_mb']:8.0f} MB")
    print(f"  ROC-AUC               {mean_sd(pk['roc_auc'])}")
    if bn is None:
        print("=" * 94)
        return
    print(line)
    if bn.get("timed_out"):
        print(
            f"BINN 0.1.1: stopped after {bn['wall_s']:.0f} s (--binn-timeout), having reached: "
            f"{bn['reached']}; cpu {bn['cpu_s']:.1f} s, peak RSS {bn['peak_rss_mb']:.0f} MB"
        )
        print(f"BINN / pknet: wall > {bn['wall_s'] / pk['wall_s']:.1f}x")
        print("=" * 94)
        return
    print(
        f"BINN 0.1.1 ({bn['n_parameters']} parameters; layers {bn['layer_sizes']}; masked "
        f"weights {bn['dense_entries']} stored for {bn['real_entries']} real; folds in turn)"
    )
    print(f"  wall (process)        {bn['wall_s']:8.2f} s   cpu {bn['cpu_s']:.1f} s")
    print(
        f"    import {bn['import_s']:.2f}, read {bn['read_s']:.2f}, build network "
        f"{bn['build_s']:.2f}, fit {bn['fit_s']:.2f}, predict+rest {bn['predict_other_s']:.2f}"
    )
    print(f"  per epoch (all folds) {bn['epoch_s'] * 1e3:8.1f} ms")
    print(f"  peak RSS              {bn['peak_rss_mb']:8.0f} MB")
    print(f"  ROC-AUC               {mean_sd(bn['roc_auc'])}")
    print(line)
    print(
        f"BINN / pknet: wall {bn['wall_s'] / pk['wall_s']:.2f}x (after imports "
        f"{bn['run_s'] / pk['run_s']:.2f}x), per epoch {bn['epoch_s'] / pk['epoch_s']:.1f}x, "
        f"peak RSS {bn['peak_rss_mb'] / pk['peak_rss_mb']:.2f}x; ROC-AUC pknet - BINN "
        f"{np.mean(pk['roc_auc']) - np.mean(bn['roc_auc']):+.4f}"
    )
    print("=" * 94)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker[0], Path(args.worker[1]))
        return {}
    sizes = SIZES if args.size == "both" else (args.size,)
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hier-binn-")))
        else:
            work = args.workdir.resolve()
        for size in sizes:
            folder = work / size
            if size == "proteomics":
                case = proteomics_case(folder / "data", args.min_genes)
                epochs = args.epochs
            else:
                scale = 0.04 if args.quick else 1.0
                case = make_go_case(
                    folder / "data",
                    genes=args.go_genes,
                    samples=args.go_samples,
                    seed=args.seed,
                    min_genes=args.min_genes,
                    scale=scale,
                )
                epochs = args.go_epochs
            settings = Settings(
                name=f"binn-bench-{size}",
                epochs=epochs,
                folds=args.folds,
                units_per_term=args.units_per_term,
                seed=args.seed,
                device=args.device,
            )
            paths = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(case).items()}
            config = {"settings": asdict(settings), "case": paths}
            pk = run_child("pknet", config, folder / "pknet")
            bn, threads = None, args.torch_threads
            if not args.skip_binn:
                bn = run_child(
                    "binn",
                    {**config, "test_samples": pk["test_samples"], "torch_threads": threads},
                    folder / "binn",
                    args.binn_timeout,
                )
            report(size, case, settings, args.min_genes, pk, bn)
            results[size] = {"case": config["case"], "pknet": pk, "binn": bn}
    print("load average (1, 5, 15 min): " + " ".join(f"{a:.1f}" for a in os.getloadavg()))
    return results


if __name__ == "__main__":
    main()
