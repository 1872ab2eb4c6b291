"""PNG figures of a sweep: the metric against each parameter, and the search's progress."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pknet.runtime.figures import new_figure
from pknet.sweeps.outputs import STATUS_OK, table_cell
from pknet.sweeps.space import SearchParameter

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURES_DIR = "figures"
PROGRESS_FIGURE = "progress.png"


def parameter_figure(parameter: SearchParameter) -> str:
    """The file name of the figure of `parameter` (its `--set` path made safe)."""
    return "metric_vs_" + re.sub(r"[^A-Za-z0-9._-]+", "_", parameter.path).strip("_") + ".png"


def plot_parameter(
    table: pd.DataFrame, parameter: SearchParameter, metric: str, path: Path
) -> Figure:
    """The metric's mean (± sd) of each successful trial against the value of `parameter`:
    numbers on their axis (logarithmic for `log_uniform`), other choices side by side."""
    ok = table[table["status"] == STATUS_OK]
    values = ok[parameter.path]
    fig = new_figure(5, 3.8)
    ax = fig.subplots()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        x = values.to_numpy(dtype=np.float64)
    else:  # choices such as loss expressions: one column each, in file order
        cells = [table_cell(choice) for choice in parameter.choices or ()]
        x = np.array([cells.index(v) for v in values], dtype=np.float64)
        labels = [str(cell) for cell in cells]
        ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=7)
    groups = ok["fold"] if "fold" in ok else pd.Series(0, index=ok.index)
    for fold, rows in ok.groupby(groups.to_numpy()):
        where = groups.to_numpy() == fold
        ax.errorbar(
            x[where],
            rows[f"{metric}_mean"],
            yerr=rows[f"{metric}_sd"].fillna(0.0),
            fmt="o",
            ms=4,
            capsize=2,
            label=f"outer fold {fold}" if "fold" in ok else None,
        )
    if parameter.distribution is not None and parameter.distribution.key == "log_uniform":
        ax.set_xscale("log")
    ax.set(xlabel=parameter.path, ylabel=f"{metric} (mean ± sd over folds)")
    if "fold" in ok:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return fig


def best_so_far(scores: pd.Series, mode: str) -> np.ndarray:
    """The best score among the trials so far, after each trial (failed trials: NaN, skipped)."""
    values = scores.to_numpy(dtype=np.float64)
    signed = np.where(np.isnan(values), -np.inf, values if mode == "max" else -values)
    best = np.maximum.accumulate(signed)
    best = best if mode == "max" else -best
    return np.where(np.isinf(best), np.nan, best)


def plot_progress(table: pd.DataFrame, metric: str, mode: str, path: Path) -> Figure:
    """Each trial's score and the best so far, in the order the search created the trials
    (nested selection: one line per outer fold)."""
    fig = new_figure(5.5, 3.8)
    ax = fig.subplots()
    folds = table.groupby("fold", sort=True) if "fold" in table else [(None, table)]
    for fold, rows in folds:
        number = np.arange(1, len(rows) + 1)
        suffix = "" if fold is None else f" (outer fold {fold})"
        line = ax.step(
            number,
            best_so_far(rows[f"{metric}_mean"], mode),
            where="post",
            label="best so far" + suffix,
        )[0]
        ax.plot(number, rows[f"{metric}_mean"], "o", ms=3, c=line.get_color(), alpha=0.6)
    ax.set(xlabel="trial", ylabel=metric, title=f"search progress ({mode})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return fig


def write_figures(
    table: pd.DataFrame, parameters: list[SearchParameter], metric: str, mode: str, folder: Path
) -> list[Path]:
    """Every figure of the sweep in `folder`, in report order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for parameter in parameters:
        paths.append(folder / parameter_figure(parameter))
        plot_parameter(table, parameter, metric, paths[-1])
    paths.append(folder / PROGRESS_FIGURE)
    plot_progress(table, metric, mode, paths[-1])
    return paths
