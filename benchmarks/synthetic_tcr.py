"""A semi-synthetic, TCR-sized single-cell data set with a known, planted sub-pathway.

The wiring is the REAL KPNN TCR network (`examples/kpnn_tcr/data/TCR_Edgelist.csv`: columns
`parent,child`, information flows child -> parent, 13,121 `<GENE>_gene` leaves, root `TCR`).
Only the expression values and the labels are simulated, so a model trained on them has a ground
truth to find:

- samples: 1,735 cells, as in the KPNN TCR data; 880 of them positive (the share of stimulated
  cells in `TCR_ClassLabels`), the rest negative;
- features: every leaf gene of the network, named by its symbol (`CD3E_gene` -> `CD3E`);
- values: negative-binomial UMI counts, `log1p`-transformed. Gene means are log-normal
  (median 0.05 UMI per cell, log-sd 1.5), each cell has a log-normal size factor (log-sd 0.35),
  the dispersion is 0.5; this gives ~90% zeros, ~1,300 detected genes and ~1,800 UMIs per cell,
  like 10x Genomics data;
- signal: in positive cells every gene under ONE internal node of the network (by default the
  transcription factor `PPARD`, 55 target genes, 26 of which reach `TCR` only through it) is
  up-regulated by a per-gene log2 fold change drawn from U(1, 2) (2x to 4x). Nothing else differs
  between the classes, so a model that explains its predictions should point at that node, at
  the nodes on its paths to `TCR`, and at its genes.

Everything is drawn from one `numpy.random.Generator` seeded by `seed`: the same arguments give
the same files, byte for byte in the values.

Writes `expression.h5ad` (sparse CSR float32 `X` = log1p counts; `layers["counts"]` the integer
counts; cells x genes), `labels.csv` (`barcode,TCR` with TCR 1 = positive) and `truth.json` (the
planted node, its genes and fold changes, the generator's settings). Run from the repository
root:

    python benchmarks/synthetic_tcr.py /tmp/synthetic_tcr --samples 1735 --seed 0
"""

from __future__ import annotations

import argparse
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

ROOT = Path(__file__).resolve().parents[1]
TCR_EDGES = ROOT / "examples" / "kpnn_tcr" / "data" / "TCR_Edgelist.csv"
GENE_SUFFIX = "_gene"
OUTPUT_NODE = "TCR"
KPNN_SAMPLES, KPNN_POSITIVE = 1735, 880  # the KPNN TCR data: 880 stimulated of 1,735 cells


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings of the generator; the defaults give the data set the benchmark uses."""

    n_samples: int = KPNN_SAMPLES
    n_positive: int | None = None  # None: the KPNN share, round(n_samples * 880 / 1735)
    node: str = "PPARD"
    seed: int = 0
    mean_median: float = 0.05  # median gene mean, UMIs per cell
    mean_log_sd: float = 1.5
    size_factor_log_sd: float = 0.35
    dispersion: float = 0.5  # NB variance = mu + dispersion * mu^2
    log2_fold_change: tuple[float, float] = (1.0, 2.0)

    def positives(self) -> int:
        if self.n_positive is not None:
            return self.n_positive
        return round(self.n_samples * KPNN_POSITIVE / KPNN_SAMPLES)


@dataclass(frozen=True)
class SyntheticData:
    """The generated data set in memory.

    `counts` is cells x genes (CSR, int32); `labels[i]` is 1 for positive cells; `truth` is what
    `truth.json` holds.
    """

    counts: sparse.csr_matrix
    labels: np.ndarray
    barcodes: tuple[str, ...]
    genes: tuple[str, ...]
    truth: dict[str, object] = field(repr=False)

    @property
    def log1p(self) -> sparse.csr_matrix:
        """`log1p` of the counts, float32, the same sparsity pattern."""
        values = self.counts.astype(np.float32)
        values.data = np.log1p(values.data)
        return values


def read_edges(path: Path = TCR_EDGES) -> pd.DataFrame:
    """The network's edge list (`parent`, `child`), as strings."""
    return pd.read_csv(path, dtype=str)


def upstream(edges: pd.DataFrame, node: str) -> set[str]:
    """Every node whose information reaches `node` (its descendants in the `parent` sense)."""
    children: dict[str, list[str]] = {}
    for parent, child in zip(edges["parent"], edges["child"], strict=True):
        children.setdefault(parent, []).append(child)
    seen: set[str] = set()
    queue = deque([node])
    while queue:
        for child in children.get(queue.popleft(), ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return seen


def downstream(edges: pd.DataFrame, node: str) -> set[str]:
    """Every node that `node`'s information reaches (its ancestors up to `TCR`)."""
    parents: dict[str, list[str]] = {}
    for parent, child in zip(edges["parent"], edges["child"], strict=True):
        parents.setdefault(child, []).append(parent)
    seen: set[str] = set()
    queue = deque([node])
    while queue:
        for parent in parents.get(queue.popleft(), ()):
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return seen


def exclusive_genes(edges: pd.DataFrame, node: str, genes: Iterable[str]) -> list[str]:
    """Genes of `genes` (node names) whose every path to `TCR` passes through `node`."""
    kept = edges[(edges["parent"] != node) & (edges["child"] != node)]
    reaching = upstream(kept, OUTPUT_NODE)
    return sorted(g for g in genes if g not in reaching)


def leaf_genes(edges: pd.DataFrame) -> list[str]:
    """The network's leaves (no incoming information), sorted; all are `<GENE>_gene` nodes."""
    leaves = sorted(set(edges["child"]) - set(edges["parent"]))
    odd = [n for n in leaves if not n.endswith(GENE_SUFFIX)]
    if odd:
        raise ValueError(f"leaves without the {GENE_SUFFIX} suffix: {odd[:5]}")
    return leaves


def symbol(node: str) -> str:
    """`CD3E_gene` -> `CD3E`."""
    return node.removesuffix(GENE_SUFFIX)


def generate(config: SyntheticConfig | None = None, edges_path: Path = TCR_EDGES) -> SyntheticData:
    """Simulate the data set described in the module docstring (default: `SyntheticConfig()`)."""
    config = config or SyntheticConfig()
    edges = read_edges(edges_path)
    leaves = leaf_genes(edges)
    if config.node not in set(edges["parent"]) or config.node == OUTPUT_NODE:
        raise ValueError(f"`{config.node}` is not an internal node of the network (nor TCR)")
    n, n_pos = config.n_samples, config.positives()
    if not 0 < n_pos < n:
        raise ValueError(f"need 0 < n_positive < n_samples, got {n_pos} of {n}")

    index = {g: j for j, g in enumerate(leaves)}
    planted = sorted(g for g in upstream(edges, config.node) if g in index)
    planted_idx = np.array([index[g] for g in planted], dtype=np.int64)

    rng = np.random.default_rng(config.seed)
    gene_mean = config.mean_median * np.exp(rng.normal(0.0, config.mean_log_sd, len(leaves)))
    size = np.exp(rng.normal(0.0, config.size_factor_log_sd, n))
    size /= size.mean()
    labels = np.zeros(n, dtype=np.int64)
    labels[rng.permutation(n)[:n_pos]] = 1
    lfc = rng.uniform(*config.log2_fold_change, len(planted))

    mu = size[:, None] * gene_mean[None, :]
    positive = labels == 1
    mu[np.ix_(positive, planted_idx)] *= 2.0 ** lfc[None, :]
    r = 1.0 / config.dispersion
    counts = rng.negative_binomial(r, r / (r + mu)).astype(np.int32)

    path_nodes = sorted(downstream(edges, config.node))
    truth = {
        "node": config.node,
        "n_genes": len(planted),
        "genes": sorted(symbol(g) for g in planted),
        "log2_fold_change": {symbol(g): float(v) for g, v in zip(planted, lfc, strict=True)},
        "exclusive_genes": [symbol(g) for g in exclusive_genes(edges, config.node, planted)],
        "downstream_nodes": path_nodes,  # nodes the planted signal flows through to TCR
        "n_samples": n,
        "n_positive": n_pos,
        "zero_fraction": float(1.0 - np.count_nonzero(counts) / counts.size),
        "config": {
            **asdict(config),
            "n_positive": n_pos,
            "log2_fold_change": list(config.log2_fold_change),
        },
        "network": edges_path.name,
    }
    barcodes = tuple(f"cell{i:05d}" for i in range(n))
    return SyntheticData(
        sparse.csr_matrix(counts), labels, barcodes, tuple(symbol(g) for g in leaves), truth
    )


def write(data: SyntheticData, folder: str | Path) -> dict[str, Path]:
    """Write `expression.h5ad`, `labels.csv` and `truth.json` into `folder`; return the paths."""
    import anndata  # imported here: generating in memory needs only NumPy/SciPy/pandas

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "expression": folder / "expression.h5ad",
        "labels": folder / "labels.csv",
        "truth": folder / "truth.json",
    }
    adata = anndata.AnnData(
        X=data.log1p,
        obs=pd.DataFrame(index=pd.Index(data.barcodes, name="barcode")),
        var=pd.DataFrame(index=pd.Index(data.genes, name="gene")),
        layers={"counts": data.counts},
    )
    adata.write_h5ad(paths["expression"])
    pd.DataFrame({"barcode": data.barcodes, "TCR": data.labels}).to_csv(
        paths["labels"], index=False
    )
    paths["truth"].write_text(json.dumps(data.truth, indent=2) + "\n")
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the three files into")
    parser.add_argument("--samples", type=int, default=KPNN_SAMPLES)
    parser.add_argument("--positive", type=int, default=None)
    parser.add_argument("--node", default=SyntheticConfig.node)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--log2fc",
        type=float,
        nargs=2,
        default=SyntheticConfig.log2_fold_change,
        metavar=("LOW", "HIGH"),
        help="range of the planted genes' log2 fold changes",
    )
    args = parser.parse_args(argv)
    config = SyntheticConfig(
        n_samples=args.samples,
        n_positive=args.positive,
        node=args.node,
        seed=args.seed,
        log2_fold_change=tuple(args.log2fc),
    )
    data = generate(config)
    paths = write(data, args.out)
    truth = data.truth
    print(
        f"{truth['n_samples']} cells ({truth['n_positive']} positive) x {len(data.genes)} genes, "
        f"{truth['zero_fraction']:.1%} zeros; planted: {truth['node']} "
        f"({truth['n_genes']} genes) -> {paths['expression'].parent}"
    )


if __name__ == "__main__":
    main()
