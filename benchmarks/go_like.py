"""A seeded, GO-BP-sized hierarchy and single-cell-like expression, generated in memory.

The hierarchy imitates the shape of the Gene Ontology's biological-process branch: one root,
terms at depths 1..`depth` (most of them deep), each with one parent one depth up and a few more
parents at random shallower depths; every gene is annotated to a handful of terms, popular terms
(log-normal weights) more often than others. With the benchmark's filters (`min_genes: 10`,
`max_genes: 500`) a `hierarchy` layer over the default sizes keeps about as many terms, copy
nodes and levels as the real GO-BP does over 16,206 measured human genes: 5,638 terms, 10,001
copies, 10 levels, 125,659 connections (GO-BP: 5,617 terms, 6,633 copies, 10 levels, 106,648
connections).

The expression is negative-binomial UMI counts, `log1p`-transformed; positive cells have the
genes of one mid-sized term up-regulated. Everything comes from one `numpy.random.Generator`
seeded by `seed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = "GO:0000000"


@dataclass(frozen=True)
class GoLikeConfig:
    """Sizes and shape of the generated hierarchy and data set."""

    n_genes: int = 16_000
    n_terms: int = 14_000
    depth: int = 13
    extra_parents: float = 1.3  # mean number of parents besides the one a depth up
    reach: int = 3  # the further parents sit at most this many depths up
    annotations: float = 8.0  # mean annotations per gene
    deep_bias: float = 4.0  # a term at depth d is annotated in proportion to (d / depth) ** this
    n_cells: int = 271
    seed: int = 0


@dataclass(frozen=True)
class GoLikeData:
    """Term -> parent edges, gene -> term annotations, and cells x genes expression."""

    hierarchy: pd.DataFrame  # parent, child
    annotations: pd.DataFrame  # gene, term
    genes: np.ndarray
    cells: np.ndarray
    x: np.ndarray  # (cells, genes) float32 log1p counts
    labels: np.ndarray  # (cells,) 0/1
    planted_term: str


def _term_depths(config: GoLikeConfig) -> np.ndarray:
    """Depth of every term (the root 0), counts growing then shrinking with depth like GO's."""
    d = np.arange(1, config.depth + 1)
    weight = d**3 * np.exp(-d / 2.2)
    counts = np.maximum(np.round(weight / weight.sum() * (config.n_terms - 1)), 1).astype(int)
    return np.concatenate([[0], np.repeat(d, counts)])


def _hierarchy(config: GoLikeConfig, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    depth = _term_depths(config)
    n = len(depth)
    names = np.array([f"GO:{i:07d}" for i in range(n)])
    first = np.searchsorted(depth, np.arange(config.depth + 2))  # first term of each depth
    children, parents = [], []
    for term in range(1, n):
        d = depth[term]
        parents.append(rng.integers(first[d - 1], first[d]))  # one parent a depth up
        children.append(term)
        for _ in range(rng.poisson(config.extra_parents)):
            up = rng.integers(max(d - config.reach, 0), d)
            parents.append(rng.integers(first[up], first[up + 1]))
            children.append(term)
    edges = pd.DataFrame({"parent": names[parents], "child": names[children]})
    return names, edges.drop_duplicates().reset_index(drop=True)


def _annotations(
    config: GoLikeConfig, terms: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, pd.DataFrame]:
    genes = np.array([f"G{i:05d}" for i in range(config.n_genes)])
    depth = _term_depths(config)[1:]
    popularity = (
        rng.lognormal(0.0, 1.5, len(terms) - 1) * (depth / config.depth) ** config.deep_bias
    )
    p = popularity / popularity.sum()
    per_gene = 1 + rng.poisson(config.annotations - 1, config.n_genes)
    term = 1 + rng.choice(len(terms) - 1, per_gene.sum(), p=p)
    table = pd.DataFrame({"gene": np.repeat(genes, per_gene), "term": terms[term]})
    return genes, table.drop_duplicates().reset_index(drop=True)


def _expression(
    config: GoLikeConfig, genes: np.ndarray, annotations: pd.DataFrame, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, str]:
    size = annotations.groupby("term")["gene"].size()
    mid = size[(size >= 20) & (size <= 60)]
    planted = str(mid.index[rng.integers(len(mid))]) if len(mid) else str(size.idxmax())
    labels = (rng.random(config.n_cells) < 0.5).astype(np.int64)
    mean = rng.lognormal(np.log(0.2), 1.5, len(genes))
    up = np.isin(genes, annotations.loc[annotations["term"] == planted, "gene"])
    mu = np.outer(rng.lognormal(0.0, 0.35, config.n_cells), mean)
    mu[np.ix_(labels == 1, up)] *= 2.0 ** rng.uniform(1.0, 2.0, up.sum())
    dispersion = 0.5
    counts = rng.negative_binomial(1.0 / dispersion, 1.0 / (1.0 + dispersion * mu))
    return np.log1p(counts).astype(np.float32), labels, planted


def generate(config: GoLikeConfig) -> GoLikeData:
    """The hierarchy, annotations and expression of `config`, deterministic in its seed."""
    rng = np.random.default_rng(config.seed)
    terms, hierarchy = _hierarchy(config, rng)
    genes, annotations = _annotations(config, terms, rng)
    x, labels, planted = _expression(config, genes, annotations, rng)
    cells = np.array([f"cell{i:05d}" for i in range(config.n_cells)])
    return GoLikeData(hierarchy, annotations, genes, cells, x, labels, planted)


def write(data: GoLikeData, folder: Path) -> dict[str, Path]:
    """`expression.h5ad` (obs `label`), `annotations.tsv` and `hierarchy.tsv` in `folder`."""
    import anndata

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "expression": folder / "expression.h5ad",
        "annotations": folder / "annotations.tsv",
        "hierarchy": folder / "hierarchy.tsv",
    }
    obs = pd.DataFrame({"label": data.labels}, index=pd.Index(data.cells, name="cell"))
    var = pd.DataFrame(index=pd.Index(data.genes, name="gene"))
    anndata.AnnData(X=data.x, obs=obs, var=var).write_h5ad(paths["expression"])
    data.annotations.to_csv(paths["annotations"], sep="\t", index=False)
    data.hierarchy.to_csv(paths["hierarchy"], sep="\t", index=False)
    return paths
