"""The models of a seed ensemble: `evaluate.seeds: N` trains N x K members, seed-major.

Member (s, k) trains on fold k's rows with fold k's input statistics from seed s's random
streams (`train.member_keys`); the stacked axis that holds K folds in a one-seed run holds the
N x K members, so training, early stopping, prediction and importances run over it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from pknet.runtime.splits import Split
from pknet.runtime.train import FoldRows, Member
from pknet.runtime.transforms import InputStats


def members_of(seeds: Sequence[int], n_folds: int) -> list[Member]:
    """Every fold of each of `seeds`, seed-major."""
    return [(s, k) for s in seeds for k in range(n_folds)]


def member_label(member: Member, seeds: int) -> str:
    """`fold_<k>`, or `seed_<s>_fold_<k>` in a run of several seeds (column and legend names)."""
    s, k = member
    return f"fold_{k}" if seeds == 1 else f"seed_{s}_fold_{k}"


def member_rows(rows: FoldRows, members: Sequence[Member]) -> FoldRows:
    """Each member's training and validation rows: its fold's."""
    return FoldRows([rows.fit[k] for _, k in members], [rows.val[k] for _, k in members])


def member_stats(stats: InputStats, members: Sequence[Member]) -> InputStats:
    """Each member's input statistics (leading member axis): its fold's."""
    folds = np.asarray([k for _, k in members])
    return jax.tree.map(lambda a: a[folds], stats)


def member_splits(splits: list[Split], members: Sequence[Member]) -> list[Split]:
    """Each member's split: its fold's."""
    return [splits[k] for _, k in members]


def seed_means(per_member: Sequence[np.ndarray], seeds: int) -> list[np.ndarray]:
    """Per fold, the mean over seeds of the members' arrays (members seed-major)."""
    n_folds = len(per_member) // seeds
    return [
        np.mean([per_member[s * n_folds + k] for s in range(seeds)], axis=0)
        if seeds > 1
        else per_member[k]
        for k in range(n_folds)
    ]
