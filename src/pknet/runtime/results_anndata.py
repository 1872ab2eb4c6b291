"""A run's results in the AnnData it read: `results.h5ad`; and `pknet predict`'s `.h5ad`, the
new data's AnnData with each column of the predictions CSV in `obs` as `pknet_<column>`.

- `obs`: one row per cell of the input, in its order. Out-of-fold results, `pknet_` and the
  column of predictions.csv: `pknet_fold`, `pknet_target` and `pknet_score` (binary, regression),
  `pknet_score_<class>` per class (multiclass), `pknet_target_<task>` and `pknet_score_<task>`
  per task (several targets); with several seeds the scores are their mean (each seed's stays in
  predictions.csv). A classification adds `pknet_prediction`, the predicted class (score >= 0.5;
  the class of largest score). Cells the run did not score (no label, or in no test fold under
  `holdout`) have `pknet_fold` -1 and NaN scores.
- `var`: `pknet_<method>` per explain method: the gene's importance, the mean over the models
  of its input node's (folded with the gene node of a `hierarchy` layer, see `node_names`);
  NaN for genes that are not network inputs. A method that gives no input a value (`bias`,
  `node_weights`: inputs have neither) has no column.
- `uns["pknet"]`: the run's `name`, `pknet_version`, the rendered `spec`, and `importances`,
  the full node table (importances.csv) as a dict of columns.

X and the other matrices are copied when the input file holds at most `COPY_MAX_BYTES`; a larger
input gives obs and var only (`X` None, a valid AnnData: join it to the input by cell and gene
names) rather than a second copy of a large matrix. `/` in a column name (a class such as
`CD4+/CD25 T Reg`) becomes `_`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata
import numpy as np
import pandas as pd

from pknet.io.data import read_anndata

RESULTS_FILE = "results.h5ad"
COPY_MAX_BYTES = 256 * 2**20
PREFIX = "pknet_"
_PER_SEED = re.compile(r"_seed_\d+$")


def h5_key(name: str) -> str:
    """`name` as an h5ad column name: anndata is withdrawing `/` in keys (a class such as
    `CD4+/CD25 T Reg`), so it becomes `_`."""
    return name.replace("/", "_")


def input_anndata(source: Path) -> anndata.AnnData:
    """The AnnData at `source`: all of it when the file is at most `COPY_MAX_BYTES`, else its
    obs and var alone."""
    if source.stat().st_size <= COPY_MAX_BYTES:
        return read_anndata(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata warns about legacy on-disk layouts
        backed = anndata.read_h5ad(source, backed="r")
    try:
        return anndata.AnnData(obs=backed.obs.copy(), var=backed.var.copy())
    finally:
        backed.file.close()


def prediction_obs(predictions: pd.DataFrame, task: str, classes: Sequence[str]) -> pd.DataFrame:
    """The obs columns of predictions.csv's frame (see the module docstring), indexed by
    sample."""
    kept = [c for c in predictions.columns if c != "sample" and not _PER_SEED.search(c)]
    obs = predictions[kept].add_prefix(PREFIX).set_index(predictions["sample"].to_numpy())
    names = np.asarray(classes, dtype=object)
    if task == "binary":
        obs[f"{PREFIX}prediction"] = names[(predictions["score"].to_numpy() >= 0.5).astype(int)]
    elif task == "multiclass":
        scores = predictions[[f"score_{c}" for c in classes]].to_numpy()
        obs[f"{PREFIX}prediction"] = names[scores.argmax(axis=1)]
    return obs


def predict_obs(table: pd.DataFrame) -> pd.DataFrame:
    """The obs columns of `pknet predict`'s table: `pknet_<column>` for every column but
    `sample`, indexed by sample."""
    columns = table.drop(columns="sample").add_prefix(PREFIX)
    return columns.set_index(table["sample"].to_numpy())


def add_obs(adata: anndata.AnnData, columns: pd.DataFrame) -> None:
    """Put `columns` (indexed by sample) into `adata.obs`, cell by cell; cells without a row
    get NaN, and fold -1."""
    aligned = columns.reindex(adata.obs_names)
    added = {}
    for name, values in aligned.items():
        if name == f"{PREFIX}fold":
            values = values.fillna(-1).astype(np.int64)
        elif values.dtype == object:
            values = pd.Categorical(values)
        added[h5_key(name)] = values
    adata.obs = _joined(adata.obs, pd.DataFrame(added, index=adata.obs_names))


def gene_importances(
    top: pd.DataFrame, feature_nodes: Mapping[str, str], genes: Sequence[str]
) -> pd.DataFrame:
    """`pknet_<method>` per method of `top` (folded importances), one row per gene of `genes`:
    the importance of the node `feature_nodes` maps the gene to (NaN without one). A method
    that gives none of them a value has no column."""
    nodes = [feature_nodes.get(gene) for gene in genes]
    columns = {}
    for method, rows in top.groupby("method", sort=False):
        values = rows.set_index("node")["mean"].reindex(nodes).to_numpy(np.float64)
        if not np.isnan(values).all():  # `bias` and `node_weights` skip input nodes
            columns[h5_key(PREFIX + method)] = values
    return pd.DataFrame(columns, index=pd.Index(genes))


def add_run(
    adata: anndata.AnnData,
    top: pd.DataFrame,
    importances: pd.DataFrame,
    feature_nodes: Mapping[str, str],
    genes: Sequence[str],
    about: Mapping[str, str],
) -> None:
    """Put the gene importances into `adata.var` (`genes`: each var row's feature name, the
    var_names or the `data.expression.var_names` column) and `uns["pknet"]`: `about` (name,
    version, spec) and the full node table `importances` as a dict of columns."""
    var = gene_importances(top, feature_nodes, genes)
    adata.var = _joined(adata.var, var.set_axis(adata.var_names))
    table = {
        str(name): values.to_numpy(dtype=str) if values.dtype == object else values.to_numpy()
        for name, values in importances.items()
    }
    adata.uns["pknet"] = {**about, "importances": table}


def _joined(frame: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the columns of `added` (same index), replacing those of the same name."""
    return pd.concat([frame.drop(columns=added.columns, errors="ignore"), added], axis=1)
