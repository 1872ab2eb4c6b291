"""The resolved prior-knowledge network: sorted node names and edge index arrays.

Edges point in the direction information flows in the model (input genes -> ... -> output).
Node order is canonical (sorted names), never Python set order, so every array built from a
`Network` is the same whatever `PYTHONHASHSEED` is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components


@dataclass(frozen=True, eq=False)
class Network:
    """A directed graph over named nodes.

    `src[e] -> dst[e]` is edge `e`; `sign[e]` is +1/-1 (or 0 when unsigned) and `weight[e]` a
    prior weight (1.0 when the file gives none). Edges are sorted by (src, dst).
    """

    nodes: tuple[str, ...]
    src: np.ndarray
    dst: np.ndarray
    sign: np.ndarray
    weight: np.ndarray
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {name: i for i, name in enumerate(self.nodes)})

    @classmethod
    def from_edges(
        cls,
        source: list[str] | np.ndarray,
        target: list[str] | np.ndarray,
        sign: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        extra_nodes: list[str] | tuple[str, ...] = (),
    ) -> Network:
        """Build a network from parallel name arrays; node order is sorted names."""
        source = np.asarray(source, dtype=object)
        target = np.asarray(target, dtype=object)
        nodes = tuple(sorted(set(source.tolist()) | set(target.tolist()) | set(extra_nodes)))
        index = {name: i for i, name in enumerate(nodes)}
        src = np.fromiter((index[s] for s in source), dtype=np.int64, count=len(source))
        dst = np.fromiter((index[t] for t in target), dtype=np.int64, count=len(target))
        n = len(src)
        sign_arr = np.zeros(n, np.int8) if sign is None else np.asarray(sign, np.int8)
        weight_arr = np.ones(n) if weight is None else np.asarray(weight, np.float64)
        order = np.lexsort((dst, src))
        return cls(nodes, src[order], dst[order], sign_arr[order], weight_arr[order])

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        return len(self.src)

    def index_of(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """Node indices of `names` (KeyError for a name not in the network)."""
        return np.array([self._index[n] for n in names], dtype=np.int64)

    def has_node(self, name: str) -> bool:
        return name in self._index

    def in_degree(self) -> np.ndarray:
        return np.bincount(self.dst, minlength=self.n_nodes)

    def out_degree(self) -> np.ndarray:
        return np.bincount(self.src, minlength=self.n_nodes)

    def adjacency(self) -> sp.csr_array:
        """Sparse n x n matrix with a 1 at (src, dst) for every edge."""
        data = np.ones(self.n_edges, dtype=np.int8)
        return sp.csr_array((data, (self.src, self.dst)), shape=(self.n_nodes, self.n_nodes))

    def is_acyclic(self) -> bool:
        """True when no directed cycle exists (self-loops count as cycles)."""
        if np.any(self.src == self.dst):
            return False
        n_comp, _ = connected_components(self.adjacency(), directed=True, connection="strong")
        return n_comp == self.n_nodes

    def subnetwork(self, edge_mask: np.ndarray, keep_nodes: np.ndarray | None = None) -> Network:
        """The network on the kept edges; nodes are those edges' ends plus `keep_nodes`."""
        edge_mask = np.asarray(edge_mask, dtype=bool)
        names = np.asarray(self.nodes, dtype=object)
        extra = () if keep_nodes is None else tuple(names[np.asarray(keep_nodes)].tolist())
        return Network.from_edges(
            names[self.src[edge_mask]],
            names[self.dst[edge_mask]],
            self.sign[edge_mask],
            self.weight[edge_mask],
            extra_nodes=extra,
        )

    def to_frame(self) -> pd.DataFrame:
        """Edges as a table with `from`, `to`, `sign`, `weight` columns."""
        names = np.asarray(self.nodes, dtype=object)
        return pd.DataFrame(
            {
                "from": names[self.src],
                "to": names[self.dst],
                "sign": self.sign,
                "weight": self.weight,
            }
        )

    def reachable(
        self,
        sources: np.ndarray,
        *,
        reverse: bool = False,
        edge_mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Boolean node mask of nodes reachable from `sources` (sources included).

        `reverse=True` follows edges backwards (nodes that reach `sources`); `edge_mask` restricts
        the walk to the selected edges.
        """
        src, dst = (self.dst, self.src) if reverse else (self.src, self.dst)
        if edge_mask is not None:
            src, dst = src[edge_mask], dst[edge_mask]
        n = self.n_nodes
        sources = np.asarray(sources, dtype=np.int64)
        rows = np.concatenate([src, np.full(len(sources), n)])
        cols = np.concatenate([dst, sources])
        graph = sp.csr_array((np.ones(len(rows), np.int8), (rows, cols)), shape=(n + 1, n + 1))
        order = breadth_first_order(graph, n, directed=True, return_predecessors=False)
        mask = np.zeros(n + 1, dtype=bool)
        mask[order] = True
        return mask[:n]
