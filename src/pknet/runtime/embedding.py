"""What a `vae` run gives besides its model: latent embeddings, reconstruction metrics, an AnnData.

Each fold's VAE embeds every sample as its posterior mean. Folds are trained independently, so
their latent axes are not aligned; `X_pknet` is fold 0's embedding, and every fold's is kept as
`X_pknet_fold<k>` (with several seeds, `X_pknet_seed<s>fold<k>`).
"""

from __future__ import annotations

from pathlib import Path

import anndata
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from pknet.compiler.dataset import Dataset
from pknet.compiler.model.losses import CompiledLoss
from pknet.io.data import data_format, read_anndata
from pknet.runtime.metrics import MetricFn
from pknet.runtime.splits import Split
from pknet.runtime.train import FoldModels, TrainedFolds
from pknet.runtime.transforms import InputStats, apply_input_stats

EMBEDDING_KEY = "X_pknet"


def latent_means(trained: FoldModels, x: np.ndarray, stats: InputStats) -> np.ndarray:
    """(folds, samples, latent): each fold's posterior mean of every sample."""

    def fold_means(model: eqx.Module, fold_stats: InputStats, data: jax.Array) -> jax.Array:
        inputs = apply_input_stats(data, fold_stats)
        return jax.vmap(lambda xi: model.encode(xi)[0])(inputs)

    return np.asarray(trained.apply(fold_means, stats, shared=(jnp.asarray(x),)))


def reconstruction_metrics(
    metrics: dict[str, MetricFn],
    trained: TrainedFolds,
    loss: CompiledLoss,
    x: np.ndarray,
    splits: list[Split],
    stats: InputStats,
) -> list[dict[str, float]]:
    """Per fold: the metrics of the held-out samples' expected reconstruction against their
    model inputs, over all (sample, feature) values."""

    @eqx.filter_jit
    def reconstruct(model: eqx.Module, inputs: jax.Array) -> jax.Array:
        return loss.predict(jax.vmap(lambda xi: model(xi))(inputs))

    per_fold = []
    for k, split in enumerate(splits):
        fold_stats = jax.tree.map(lambda a, k=k: a[k], stats)
        inputs = apply_input_stats(jnp.asarray(x[split.test]), fold_stats)
        recon = np.asarray(reconstruct(trained.model(k), inputs))
        truth = np.asarray(inputs).ravel()
        per_fold.append(
            {name: fn(truth, recon.ravel(), "regression") for name, fn in metrics.items()}
        )
    return per_fold


def principal_components(points: np.ndarray, n: int = 2) -> np.ndarray:
    """The first `n` principal-component scores, each axis signed so its largest loading is
    positive (deterministic across runs)."""
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:n]
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    return centred @ (axes * signs[:, None]).T


def embedding_anndata(
    source: Path, fmt: str, dataset: Dataset, embeddings: np.ndarray, names: list[str]
) -> anndata.AnnData:
    """A copy of the input AnnData restricted to the run's samples (for a table input, one with
    only `obs`), with the embeddings in `obsm` (`X_pknet`, and `X_pknet_<name>` per model) and
    the run's labels in `obs["pknet_target"]`."""
    if data_format(source, fmt) == "h5ad":
        adata = read_anndata(source)[list(dataset.samples)].copy()
    else:
        adata = anndata.AnnData(obs=pd.DataFrame(index=pd.Index(dataset.samples, name="sample")))
    labels = np.asarray(dataset.classes, dtype=object)[dataset.y] if dataset.classes else dataset.y
    adata.obs["pknet_target"] = labels
    adata.obsm[EMBEDDING_KEY] = embeddings[0]
    for name, fold in zip(names, embeddings, strict=True):
        adata.obsm[f"{EMBEDDING_KEY}_{name}"] = fold
    return adata
