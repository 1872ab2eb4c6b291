"""Readable node names in importance tables, and one row per term or gene in top lists.

A `hierarchy` layer adds nodes the prior does not have: `g~input` reads gene `g`'s data column
and feeds only `g`, and `T~copyK` carries the edges that skip levels up to term `T`. The full
table keeps them, each marked with the node it stands for (`folded_into`); top lists, figures
and the AnnData results fold them into that node.

Folding takes, model by model, the value of the group's member (the node itself, its copies, its
feature node) with the largest magnitude, then the mean and sd over the models. Not the sum:
a copy feeds only the next copy or `T`, and a feature node only its gene, so `T`'s gradient x
input (a first-order attribution of the score to `T`'s activation) already holds what flows
through its copies, and adding theirs would count the same signal twice; switching `T` off
(`node_weights`) cuts its copies' paths as well; AUCs (`activation_auc`) do not add. The
largest member is the strongest place the term's (gene's) signal shows; for the signed `bias`
the largest magnitude keeps its sign.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pknet.compiler.model.layers.hierarchy import COPY_SUFFIX, FEATURE_SUFFIX
from pknet.runtime.explain import mean_sd

LABEL_WIDTH = 48  # characters of a name shown in figures and top lists
_COPY = re.compile(re.escape(COPY_SUFFIX) + r"\d+$")


def base_node(node: str, kind: str) -> str:
    """The term a copy node stands for, the gene a feature node reads; else "" (not folded)."""
    if kind == "copy":
        return _COPY.sub("", node)
    if kind == "input" and node.endswith(FEATURE_SUFFIX):
        return node[: -len(FEATURE_SUFFIX)]
    return ""


def with_names(table: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """`table` (an importance table) with `name` after `node` (the readable name of the node,
    or of the node it stands for; the id where none is known) and `folded_into` after `kind`."""
    if table.empty:
        return table
    folded = [base_node(n, k) for n, k in zip(table["node"], table["kind"], strict=True)]
    named = [names.get(b or n, n) for n, b in zip(table["node"], folded, strict=True)]
    table = table.copy()
    table.insert(table.columns.get_loc("node") + 1, "name", named)
    table.insert(table.columns.get_loc("kind") + 1, "folded_into", folded)
    return table


def folded_importances(table: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """One row per method and folded node: `method`, `node`, `name`, `kind`, `members` (how many
    rows were folded), `mean` and `sd` over the `models` columns of the value of largest
    magnitude among the members (see the module docstring); sorted like the full table."""
    columns = ["method", "node", "name", "kind", "members", "mean", "sd"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    frames = []
    for method, rows in table.groupby("method", sort=False):
        key = np.where(rows["folded_into"] != "", rows["folded_into"], rows["node"])
        values = rows[list(models)].to_numpy(np.float64)
        magnitude = pd.DataFrame(np.where(np.isnan(values), -np.inf, np.abs(values)))
        groups = magnitude.groupby(key, sort=False)
        picked = groups.idxmax()  # per node and model: the row of largest magnitude
        folded = values[picked.to_numpy(), np.arange(values.shape[1])]
        bases = picked.index.to_numpy()
        # each folded node's kind and name: its own row's, else (a gene left without its own
        # row) its first member's
        own_first = rows.assign(key=key, own=rows["folded_into"] == "").sort_values(
            "own", ascending=False, kind="stable"
        )
        first = own_first.drop_duplicates("key").set_index("key").loc[bases]
        mean, sd = mean_sd(folded.T)
        frame = pd.DataFrame(
            {
                "method": method,
                "node": bases,
                "name": first["name"].to_numpy(),
                "kind": first["kind"].to_numpy(),
                "members": groups.size().loc[bases].to_numpy(),
                "mean": mean,
                "sd": sd,
            }
        )
        frames.append(frame.sort_values(["mean", "node"], ascending=[False, True]))
    return pd.concat(frames, ignore_index=True)[columns]


def node_label(node: str, name: str) -> str:
    """`name (id)` (the name shortened to `LABEL_WIDTH`), or the id when it has no name."""
    if name == node:
        return node
    short = name if len(name) <= LABEL_WIDTH else name[: LABEL_WIDTH - 1] + "…"
    return f"{short} ({node})"
