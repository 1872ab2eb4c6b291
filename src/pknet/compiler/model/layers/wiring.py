"""The wiring plan of a network-wired layer: plain NumPy, computed once from a network.

`plan_network` groups the non-input nodes into levels by their longest path from the inputs and
lays every unit out in one flat activation buffer: the input values first (slot `i` holds
`inputs[i]`), then level 1, level 2, ...; within a level nodes go in index order and a node's
units are contiguous. Every edge `u -> v` becomes `units(u) x units(v)` scalar *connections*
(parent slot, child slot), ordered by level and then by child slot. Edges into input nodes are
ignored: an input's value always comes from the data.

The plan also packs the connections for evaluation: `input_terms` lists the connections from
inputs, summed once for all levels; `scan_runs` groups runs of consecutive small levels, padded to
one width, so that the layer evaluates them in one `lax.scan` (XLA compiles one loop body
instead of every level). `kpnn.plan_kpnn` and `hierarchy.plan_hierarchy` build plans;
`network_layer.NetworkLayer` evaluates one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem

if TYPE_CHECKING:
    from pknet.compiler.model.layers.hierarchy import HierarchyReport

MAX_NAMED = 5
# consecutive levels are scanned together when each one's units and connections plus all hidden
# units stay within this: each step of the loop passes over the hidden buffer and the padding, which
# in wide networks costs more step time than the compile time the loop saves
SCAN_LIMIT = 1024


@dataclass(frozen=True, eq=False)
class WiringPlan:
    """Where every unit and connection of a network-wired layer lives; plain NumPy arrays.

    Slots index the activation buffer (see the module docstring); `level_bounds[l]` is the slot
    range of level `l + 1` and `level_connections[l]` the range of its incoming connections.
    `connection_sign` is each connection's edge sign when weights follow the signs, else None.
    `node_names[v]` and `node_kinds[v]` name the nodes; `units_per_node` is the most units of a
    node; `last`: the outputs have one unit and the layer returns their logits. `report`: what a
    `hierarchy` plan's filters kept (None for other plans).
    """

    n_inputs: int
    n_edges: int
    level_bounds: tuple[tuple[int, int], ...]
    level_connections: tuple[tuple[int, int], ...]
    node_level: np.ndarray  # (n_nodes,) 0 for inputs, else 1 + the deepest parent's level
    node_slot: np.ndarray  # (n_nodes,) the first slot of each node
    unit_node: np.ndarray  # (n_slots,) the node each slot belongs to
    connection_parent: np.ndarray  # (n_connections,) parent slot
    connection_child: np.ndarray  # (n_connections,) child slot, sorted within each level
    connection_edge: np.ndarray  # (n_connections,) the network edge it belongs to
    output_slot: np.ndarray  # (n_output_units,) slots read as the layer's output, in order
    droppable: np.ndarray  # (n_slots,) bool: dropout may zero this slot
    connection_sign: np.ndarray | None
    node_names: tuple[str, ...]
    node_kinds: tuple[str, ...]
    units_per_node: int
    last: bool
    report: HierarchyReport | None = None

    @property
    def n_slots(self) -> int:
        return len(self.unit_node)

    @property
    def n_connections(self) -> int:
        return len(self.connection_parent)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of `arange(s, s + c)` for each pair."""
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets, counts) + np.arange(counts.sum())


def _names(network: Network, nodes: np.ndarray) -> str:
    shown = ", ".join(f"`{network.nodes[i]}`" for i in nodes[:MAX_NAMED])
    more = len(nodes) - MAX_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def _check_selection(network: Network, inputs: np.ndarray, outputs: np.ndarray) -> None:
    for label, nodes in (("input", inputs), ("output", outputs)):
        if np.any((nodes < 0) | (nodes >= network.n_nodes)):
            raise ValueError(f"{label} node indices must lie in [0, {network.n_nodes})")
        values, counts = np.unique(nodes, return_counts=True)
        if np.any(counts > 1):
            raise CompileError(
                Problem(
                    f"{label} nodes are listed twice: {_names(network, values[counts > 1])}",
                    hint=f"give each {label} node once",
                )
            )
    if len(outputs) == 0:
        raise CompileError(
            Problem("the kpnn layer has no output node", hint="select at least one output")
        )
    both = np.intersect1d(inputs, outputs)
    if len(both):
        raise CompileError(
            Problem(
                f"nodes selected both as inputs and as outputs: {_names(network, both)}",
                hint="an output must be computed from the inputs; remove it from `inputs`",
            )
        )


def node_levels(
    network: Network, is_input: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> np.ndarray:
    """Longest-path depth from the inputs (inputs 0, a non-input without parents 1)."""
    n = network.n_nodes
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    first_edge = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
    remaining = np.bincount(dst, minlength=n)
    level = np.where(is_input, 0, 1)
    frontier = np.flatnonzero(remaining == 0)
    done = 0
    while len(frontier):
        done += len(frontier)
        edges = _ranges(first_edge[frontier], first_edge[frontier + 1] - first_edge[frontier])
        children = dst[edges]
        np.maximum.at(level, children, level[src[edges]] + 1)
        remaining -= np.bincount(children, minlength=n)
        frontier = np.unique(children[remaining[children] == 0])
    if done < n:
        stuck = np.flatnonzero(remaining > 0)
        raise CompileError(
            Problem(
                f"the kpnn network has a cycle through or above {_names(network, stuck)}",
                path="network.edges",
                hint="prune the network (a `prune:` section) so that it becomes a DAG",
            )
        )
    return level


def plan_network(
    network: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    units_per_node: int | np.ndarray = 1,
    last: bool = True,
    dropout_rule: Literal["kpnn", "uniform"] = "kpnn",
    signed: bool = False,
) -> WiringPlan:
    """Lay out the buffer slots, levels and connections of a layer wired by `network`.

    Inputs have one unit, other nodes `units_per_node` (one count, or an `(n_nodes,)` array of
    per-node counts), and outputs one unit when `last`.
    Dropout may zero any non-output slot; with the `kpnn` rule not the slots of a node that is
    the only parent of some child (counting the edges the layer uses). Nodes are of kind
    `input`, `hidden` or `output`; with `signed` the connections keep their edges' signs.
    """
    inputs = np.asarray(inputs, dtype=np.int64).reshape(-1)
    outputs = np.asarray(outputs, dtype=np.int64).reshape(-1)
    _check_selection(network, inputs, outputs)
    n = network.n_nodes
    is_input = np.zeros(n, dtype=bool)
    is_input[inputs] = True
    used = ~is_input[network.dst]
    edge_id = np.flatnonzero(used)
    src, dst = network.src[used], network.dst[used]
    level = node_levels(network, is_input, src, dst)

    units = np.where(is_input, 1, np.asarray(units_per_node, dtype=np.int64))
    if last:
        units[outputs] = 1
    hidden = np.flatnonzero(~is_input)
    hidden = hidden[np.argsort(level[hidden], kind="stable")]
    slot_order = np.concatenate([inputs, hidden])
    slot_units = units[slot_order]
    node_slot = np.zeros(n, dtype=np.int64)
    node_slot[slot_order] = np.cumsum(slot_units) - slot_units
    unit_node = np.repeat(slot_order, slot_units)

    per_edge = units[src] * units[dst]
    connection_edge_pos = np.repeat(np.arange(len(src)), per_edge)
    k = np.arange(per_edge.sum()) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    child_units = units[dst][connection_edge_pos]
    parent = node_slot[src][connection_edge_pos] + k // child_units
    child = node_slot[dst][connection_edge_pos] + k % child_units
    order = np.lexsort((parent, child))
    parent, child, connection_edge_pos = parent[order], child[order], connection_edge_pos[order]

    slot_level = level[unit_node]
    connection_level = slot_level[child]
    depths = range(1, int(level.max(initial=0)) + 1)
    level_bounds = tuple(
        (int(np.searchsorted(slot_level, d)), int(np.searchsorted(slot_level, d, side="right")))
        for d in depths
    )
    level_connections = tuple(
        (
            int(np.searchsorted(connection_level, d)),
            int(np.searchsorted(connection_level, d, side="right")),
        )
        for d in depths
    )

    may_drop = np.ones(n, dtype=bool)
    may_drop[outputs] = False
    if dropout_rule == "kpnn":
        only_parent = np.bincount(dst, minlength=n)[dst] == 1
        may_drop[src[only_parent]] = False
    kinds = np.where(is_input, "input", "hidden").astype(object)
    kinds[outputs] = "output"
    connection_edge = edge_id[connection_edge_pos]
    return WiringPlan(
        n_inputs=len(inputs),
        n_edges=network.n_edges,
        level_bounds=level_bounds,
        level_connections=level_connections,
        node_level=level,
        node_slot=node_slot,
        unit_node=unit_node,
        connection_parent=parent,
        connection_child=child,
        connection_edge=connection_edge,
        output_slot=_ranges(node_slot[outputs], units[outputs]),
        droppable=may_drop[unit_node],
        connection_sign=network.sign[connection_edge] if signed else None,
        node_names=network.nodes,
        node_kinds=tuple(kinds.tolist()),
        units_per_node=int(np.max(units_per_node)),
        last=last,
    )


def input_terms(plan: WiringPlan, dropped: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Connections from inputs as (weight index, child's hidden unit) terms, and their parents.

    Term `i < n_inputs` is the first connection of input `i`, so these terms read the inputs in
    place, without a gather. An input without connections gets the weight index
    `n_connections` (a zero weight appended) and child `dropped` (a segment that is dropped).
    The terms after them are the inputs' further connections, reading the inputs
    `repeat_parent`.
    """
    ids = np.flatnonzero(plan.connection_parent < plan.n_inputs)
    ids = ids[np.argsort(plan.connection_parent[ids], kind="stable")]
    parent = plan.connection_parent[ids]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = parent[1:] != parent[:-1]
    connection = np.full(plan.n_inputs, plan.n_connections, dtype=np.int64)
    child = np.full(plan.n_inputs, dropped, dtype=np.int64)
    connection[parent[first]] = ids[first]
    child[parent[first]] = plan.connection_child[ids[first]] - plan.n_inputs
    repeats = ids[~first]
    return (
        np.concatenate([connection, repeats]),
        np.concatenate([child, plan.connection_child[repeats] - plan.n_inputs]),
        parent[~first],
    )


def group_levels(units: np.ndarray, connections: np.ndarray, n_hidden: int) -> list[range]:
    """Runs of consecutive levels: the small levels (see `SCAN_LIMIT`) together, others alone."""
    small = units + connections + n_hidden <= SCAN_LIMIT
    runs: list[range] = []
    for level in range(len(units)):
        if runs and small[level] and small[runs[-1].start]:
            runs[-1] = range(runs[-1].start, level + 1)
        else:
            runs.append(range(level, level + 1))
    return runs


@dataclass(frozen=True, eq=False)
class ScanRun:
    """Consecutive levels evaluated together (one `lax.scan` when more than one), padded to the
    widest.

    Level `i` of the run has `units[i]` units from hidden unit `starts[i]` (slot - `n_inputs`)
    on; row `i` of `connection`, `parent` (hidden unit) and `child` (unit within the level) lists
    its connections from hidden units. Padding connections have child `max(units)`, a dropped
    segment. `from_inputs` says whether any of the levels has connections from inputs.
    """

    connection: np.ndarray  # (levels, n)
    parent: np.ndarray  # (levels, n)
    child: np.ndarray  # (levels, n)
    starts: tuple[int, ...]
    units: tuple[int, ...]
    from_inputs: bool


def scan_runs(plan: WiringPlan) -> tuple[ScanRun, ...]:
    """The levels' connections from hidden units, grouped into padded runs."""
    parent = plan.connection_parent
    from_input = [parent[c0:c1] < plan.n_inputs for c0, c1 in plan.level_connections]
    per_level = [
        np.arange(c0, c1)[~is_input]
        for (c0, c1), is_input in zip(plan.level_connections, from_input, strict=True)
    ]
    units = np.array([hi - lo for lo, hi in plan.level_bounds], dtype=np.int64)
    counts = np.array([len(c) for c in per_level], dtype=np.int64)
    runs = []
    for levels in group_levels(units, counts, plan.n_slots - plan.n_inputs):
        width, n = int(units[levels].max()), int(counts[levels].max())
        connection = np.zeros((len(levels), n), dtype=np.int64)
        parent = np.zeros((len(levels), n), dtype=np.int64)
        child = np.full((len(levels), n), width, dtype=np.int64)
        for row, level in enumerate(levels):
            ids = per_level[level]
            connection[row, : len(ids)] = ids
            parent[row, : len(ids)] = plan.connection_parent[ids] - plan.n_inputs
            child[row, : len(ids)] = plan.connection_child[ids] - plan.level_bounds[level][0]
        runs.append(
            ScanRun(
                connection,
                parent,
                child,
                tuple(plan.level_bounds[level][0] - plan.n_inputs for level in levels),
                tuple(int(units[level]) for level in levels),
                any(from_input[level].any() for level in levels),
            )
        )
    return tuple(runs)
