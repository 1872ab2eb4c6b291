"""Map network node names to data feature (column) names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureRule:
    """Strip a prefix/suffix, rename through a table, compare with a case rule."""

    strip_prefix: str | None = None
    strip_suffix: str | None = None
    case: str = "sensitive"
    table: dict[str, str] | None = None

    def feature_name(self, node: str) -> str:
        """The data column a node stands for (before case folding)."""
        name = node
        if self.strip_prefix and name.startswith(self.strip_prefix):
            name = name[len(self.strip_prefix) :]
        if self.strip_suffix and name.endswith(self.strip_suffix):
            name = name[: -len(self.strip_suffix)]
        if self.table is not None:
            name = self.table.get(name, name)
        return name

    def fold(self, name: str) -> str:
        if self.case == "upper":
            return name.upper()
        if self.case == "lower":
            return name.lower()
        return name


@dataclass(frozen=True)
class FeatureMatch:
    """Which nodes are measured, and in which data column."""

    column: np.ndarray  # per node: index of its data column, or -1 when unmeasured
    n_features: int

    @property
    def measured(self) -> np.ndarray:
        return self.column >= 0

    def unmatched_columns(self) -> np.ndarray:
        """Indices of data columns no node maps to."""
        used = np.zeros(self.n_features, dtype=bool)
        used[self.column[self.column >= 0]] = True
        return np.flatnonzero(~used)


def match_features(nodes: tuple[str, ...], features: list[str], rule: FeatureRule) -> FeatureMatch:
    """Find each node's data column. When folding makes column names collide, the first wins."""
    lookup: dict[str, int] = {}
    for i, feature in enumerate(features):
        lookup.setdefault(rule.fold(feature), i)
    column = np.fromiter(
        (lookup.get(rule.fold(rule.feature_name(node)), -1) for node in nodes),
        dtype=np.int64,
        count=len(nodes),
    )
    return FeatureMatch(column, len(features))
