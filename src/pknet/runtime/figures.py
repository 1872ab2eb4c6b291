"""PNG figures of a run: ROC curves per fold, training curves, top importances, a VAE's latent
embedding."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pknet.runtime.node_names import node_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_LEGEND_FOLDS = 10  # more folds (leave-one-out) would fill the figure with the legend


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib figure; the object API draws to files without a GUI backend. Imported here
    so that matplotlib's import is paid when figures are drawn, not by `import pknet.api`."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def plot_roc(curves: list[tuple[np.ndarray, np.ndarray, float]], path: Path) -> None:
    """One ROC curve per fold: (false positive rates, true positive rates, AUC)."""
    fig = new_figure(4.5, 4.5)
    ax = fig.subplots()
    for k, (fpr, tpr, auc) in enumerate(curves):
        ax.plot(fpr, tpr, lw=1.2, label=f"fold {k} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC per fold")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_training(history: list[dict[str, list[float]]], labels: list[str], path: Path) -> None:
    """Training and validation loss per epoch, one colour per model (`labels`: fold k...)."""
    fig = new_figure(6, 4)
    ax = fig.subplots()
    for label, h in zip(labels, history, strict=True):
        line = ax.plot(h["epoch"], h["train_loss"], lw=1.2, label=f"{label} train")[0]
        if not np.all(np.isnan(h["val_loss"])):
            ax.plot(
                h["epoch"],
                h["val_loss"],
                lw=1.2,
                ls="--",
                c=line.get_color(),
                label=f"{label} val",
            )
    ax.set(xlabel="epoch", ylabel="loss", title="training curves")
    if len(history) <= MAX_LEGEND_FOLDS:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_importances(
    table: pd.DataFrame, method: str, over: str, path: Path, top: int = 20
) -> None:
    """Horizontal bars of the `top` nodes by mean importance, with the sd across the models
    (`over`: folds, or seeds x folds) as error bars; `table` has `node` and `name` columns and
    each bar is labelled `name (id)`."""
    rows = table[table["method"] == method].nlargest(top, "mean").iloc[::-1]
    labels = [node_label(n, m) for n, m in zip(rows["node"], rows["name"], strict=True)]
    fig = new_figure(8 if (rows["name"] != rows["node"]).any() else 6, 0.25 * len(rows) + 1.2)
    ax = fig.subplots()
    ax.barh(labels, rows["mean"], xerr=rows["sd"], color="#4c72b0")
    ax.set(xlabel=f"{method} (mean ± sd over {over})", title=f"top {len(rows)} nodes by {method}")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_seed_spread(per_seed: list[dict[str, float]], path: Path) -> None:
    """Each metric of every seed's pooled held-out predictions (points) and their mean ± sd over
    seeds (error bar), one column per metric."""
    names = list(dict.fromkeys(name for seed in per_seed for name in seed))
    fig = new_figure(1.2 * len(names) + 2, 3.5)
    ax = fig.subplots()
    for i, name in enumerate(names):
        values = np.array([seed.get(name, np.nan) for seed in per_seed], dtype=np.float64)
        values = values[~np.isnan(values)]
        ax.scatter(np.full(len(values), i - 0.15), values, s=10, c="#4c72b0")
        if len(values):
            sd = values.std(ddof=1) if len(values) > 1 else 0.0
            ax.errorbar(i + 0.15, values.mean(), yerr=sd, fmt="o", c="black", capsize=4)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set(ylabel="pooled held-out value", title=f"{len(per_seed)} seeds: each, and mean ± sd")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_embedding(coords: np.ndarray, labels: np.ndarray | None, path: Path) -> None:
    """A 2-D scatter of embedded samples (e.g. the first two principal components), coloured by
    label."""
    fig = new_figure(7.5, 4.5)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=6)
    else:
        for label in sorted(set(labels)):
            mask = labels == label
            ax.scatter(coords[mask, 0], coords[mask, 1], s=6, label=str(label))
        ax.legend(fontsize=6, markerscale=2, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set(xlabel="PC 1", ylabel="PC 2", title="latent embedding (fold 0), PCA")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
