"""Prior hygiene: merge duplicate edges, drop self-loops and nodes off every input→output path.

Everything is computed on index arrays (numpy + scipy.sparse.csgraph); every name list in the
report is sorted, so the report and the cleaned network do not depend on `PYTHONHASHSEED`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components

from pknet.compiler.network.network import Network


@dataclass(frozen=True)
class HygieneReport:
    """What `clean_network` changed and found; counts always, names on request (`to_dict`)."""

    n_nodes_before: int
    n_edges_before: int
    n_nodes_after: int
    n_edges_after: int
    self_loops: tuple[str, ...]
    duplicate_edges: tuple[tuple[str, str], ...]
    n_duplicates_merged: int
    sign_conflicts: tuple[tuple[str, str], ...]
    dropped_nodes: tuple[str, ...]
    isolated_inputs: tuple[str, ...]
    unreached_outputs: tuple[str, ...]
    acyclic: bool
    cycle_component_sizes: tuple[int, ...]

    def to_dict(self, names: bool = False) -> dict[str, object]:
        """JSON-ready summary: counts, plus the sorted name lists when `names` is true."""
        counts: dict[str, object] = {
            "n_nodes_before": self.n_nodes_before,
            "n_edges_before": self.n_edges_before,
            "n_nodes_after": self.n_nodes_after,
            "n_edges_after": self.n_edges_after,
            "self_loops": len(self.self_loops),
            "duplicate_edges": len(self.duplicate_edges),
            "n_duplicates_merged": self.n_duplicates_merged,
            "sign_conflicts": len(self.sign_conflicts),
            "dropped_nodes": len(self.dropped_nodes),
            "isolated_inputs": len(self.isolated_inputs),
            "unreached_outputs": len(self.unreached_outputs),
            "acyclic": self.acyclic,
            "cycle_components": len(self.cycle_component_sizes),
            "largest_cycle_component": max(self.cycle_component_sizes, default=0),
        }
        if names:
            full = asdict(self)
            counts["names"] = {
                key: [list(v) if isinstance(v, tuple) else v for v in full[key]]
                for key in (
                    "self_loops",
                    "duplicate_edges",
                    "sign_conflicts",
                    "dropped_nodes",
                    "isolated_inputs",
                    "unreached_outputs",
                )
            }
            counts["cycle_component_sizes"] = list(self.cycle_component_sizes)
        return counts


def cycle_component_sizes(net: Network) -> tuple[int, ...]:
    """Sizes (descending) of the strongly connected components with more than one node."""
    _, labels = connected_components(net.adjacency(), directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=1) if net.n_nodes else np.zeros(0, np.int64)
    return tuple(sorted((int(s) for s in sizes if s > 1), reverse=True))


def clean_network(
    net: Network, inputs: np.ndarray, outputs: np.ndarray
) -> tuple[Network, HygieneReport]:
    """Drop self-loops, merge duplicate edges (first copy kept) and drop nodes off every path.

    A node is kept when it is reachable from an input and reaches an output (inputs that are
    outputs count as reaching themselves). `inputs`/`outputs` are node indices of `net`.
    """
    names = np.asarray(net.nodes, dtype=object)
    inputs = np.unique(np.asarray(inputs, dtype=np.int64))
    outputs = np.unique(np.asarray(outputs, dtype=np.int64))

    loop = net.src == net.dst
    # Edges are sorted by (src, dst) with a stable sort, so the first copy is the file's first.
    same_as_prev = np.zeros(net.n_edges, dtype=bool)
    same_as_prev[1:] = (net.src[1:] == net.src[:-1]) & (net.dst[1:] == net.dst[:-1])
    same_as_prev &= ~loop
    group_first = np.flatnonzero(~same_as_prev)
    group = np.cumsum(~same_as_prev) - 1
    dup_first = group_first[np.unique(group[same_as_prev])]
    sign_changes = same_as_prev & (net.sign != np.r_[net.sign[:1], net.sign[:-1]])
    conflict = group_first[np.unique(group[sign_changes])]

    keep = ~loop & ~same_as_prev
    forward = net.reachable(inputs, edge_mask=keep)
    backward = net.reachable(outputs, reverse=True, edge_mask=keep)
    on_path = forward & backward
    keep &= on_path[net.src] & on_path[net.dst]
    cleaned = net.subnetwork(keep, keep_nodes=np.flatnonzero(on_path))

    def pairs(edges: np.ndarray) -> tuple[tuple[str, str], ...]:
        return tuple((str(names[net.src[e]]), str(names[net.dst[e]])) for e in edges)

    def sorted_names(mask: np.ndarray) -> tuple[str, ...]:
        return tuple(str(n) for n in names[mask])  # node order is sorted names

    input_mask = np.zeros(net.n_nodes, dtype=bool)
    input_mask[inputs] = True
    output_mask = np.zeros(net.n_nodes, dtype=bool)
    output_mask[outputs] = True
    sizes = cycle_component_sizes(cleaned)
    report = HygieneReport(
        n_nodes_before=net.n_nodes,
        n_edges_before=net.n_edges,
        n_nodes_after=cleaned.n_nodes,
        n_edges_after=cleaned.n_edges,
        self_loops=sorted_names(np.isin(np.arange(net.n_nodes), net.src[loop])),
        duplicate_edges=pairs(dup_first),
        n_duplicates_merged=int(same_as_prev.sum()),
        sign_conflicts=pairs(conflict),
        dropped_nodes=sorted_names(~on_path),
        isolated_inputs=sorted_names(input_mask & ~backward),
        unreached_outputs=sorted_names(output_mask & ~forward),
        acyclic=not sizes,
        cycle_component_sizes=sizes,
    )
    return cleaned, report
