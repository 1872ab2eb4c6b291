"""The `kpnn` layer (Fortelny & Bock 2020): one neuron (or `units_per_node`) per network node.

The network is compiled in two stages:

1. `plan_kpnn` (NumPy only) groups the non-input nodes into levels by their longest path from the
   inputs and lays every unit out in one flat activation buffer: the input values first (slot
   `i` holds `inputs[i]`), then level 1, level 2, ...; within a level nodes go in index order and
   a node's units are contiguous. Every edge `u -> v` becomes `units(u) x units(v)` scalar
   *connections* (parent slot, child slot), ordered by level and then by child slot.
2. `KpnnLayer` sums every connection from an input into its child in one `segment_sum`. It
   then evaluates the levels in order: gather the hidden parents' activations of a level's
   connections, multiply by their weights, `segment_sum` them into the level's units, add the
   input sums and the bias, apply the activation and write the level into a buffer of hidden
   units. Runs of consecutive small levels are padded to one width and evaluated by one
   `lax.scan`, so XLA compiles one loop body instead of every level. No node x node matrix
   exists.

Edges into input nodes are ignored: an input's value always comes from the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from pknet.compiler.model.layers.activations import ACTIVATIONS, check_activation_and_dropout
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import HierarchyLayerSpec, KpnnLayerSpec

MAX_NAMED = 5
# consecutive levels are scanned together when each one's units and connections plus all hidden
# units stay within this: each step of the loop passes over the hidden buffer and the padding, which
# in wide networks costs more step time than the compile time the loop saves
SCAN_LIMIT = 1024


@dataclass(frozen=True, eq=False)
class KpnnPlan:
    """Where every unit and connection of a `kpnn` layer lives; plain NumPy arrays.

    Slots index the activation buffer (see the module docstring); `level_bounds[l]` is the slot
    range of level `l + 1` and `level_connections[l]` the range of its incoming connections.
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


def _levels(network: Network, is_input: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
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


def plan_kpnn(
    network: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    units_per_node: int | np.ndarray = 1,
    last: bool = True,
    dropout_rule: Literal["kpnn", "uniform"] = "kpnn",
) -> KpnnPlan:
    """Lay out the buffer slots, levels and connections of a `kpnn` layer.

    Inputs have one unit, other nodes `units_per_node` (one count, or an `(n_nodes,)` array of
    per-node counts), and outputs one unit when `last`.
    Dropout may zero any non-output slot; with the `kpnn` rule not the slots of a node that is
    the only parent of some child (counting the edges the layer uses).
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
    level = _levels(network, is_input, src, dst)

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
    return KpnnPlan(
        n_inputs=len(inputs),
        n_edges=network.n_edges,
        level_bounds=level_bounds,
        level_connections=level_connections,
        node_level=level,
        node_slot=node_slot,
        unit_node=unit_node,
        connection_parent=parent,
        connection_child=child,
        connection_edge=edge_id[connection_edge_pos],
        output_slot=_ranges(node_slot[outputs], units[outputs]),
        droppable=may_drop[unit_node],
    )


@jax.jit
def _initial_weight(
    key: PRNGKeyArray, limit: Float[Array, " n"], sign: Int[Array, " n"] | None
) -> Float[Array, " n"]:
    """`U(-limit, limit)`; where `sign` is +-1, the inverse softplus of `U(0.1, 1) * limit`."""
    u = jax.random.uniform(key, limit.shape, minval=-1.0, maxval=1.0)
    weight = u * limit.astype(u.dtype)
    if sign is None:
        return weight
    magnitude = (0.1 + 0.9 * jnp.abs(u)) * limit.astype(u.dtype)
    return jnp.where(sign == 0, weight, magnitude + jnp.log(-jnp.expm1(-magnitude)))


def _int32(a: np.ndarray) -> Int[Array, " n"]:
    return jnp.asarray(a, dtype=jnp.int32)


def _emit(h: Array, scale: Array | None, shift: Array | None) -> Array:
    """Activations as the children see them: times the slot factor, plus the shift."""
    if scale is not None:
        h = h * scale
    return h if shift is None else h + shift


def _input_terms(plan: KpnnPlan, dropped: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


class LevelRun(eqx.Module):
    """Consecutive levels evaluated together (one `lax.scan` when more than one), padded to the
    widest.

    Level `i` of the run has `units[i]` units from hidden unit `starts[i]` (slot - `n_inputs`)
    on; row `i` of `connection`, `parent` (hidden unit) and `child` (unit within the level) lists
    its connections from hidden units. Padding connections have child `width`, a dropped segment.
    `from_inputs` says whether any of the levels has connections from inputs.
    """

    connection: Int[Array, "levels n"]
    parent: Int[Array, "levels n"]
    child: Int[Array, "levels n"]
    starts: tuple[int, ...] = eqx.field(static=True)
    units: tuple[int, ...] = eqx.field(static=True)
    from_inputs: bool = eqx.field(static=True)

    @property
    def width(self) -> int:
        return max(self.units)


def _group_levels(units: np.ndarray, connections: np.ndarray, n_hidden: int) -> list[range]:
    """Runs of consecutive levels: the small levels (see `SCAN_LIMIT`) together, others alone."""
    small = units + connections + n_hidden <= SCAN_LIMIT
    runs: list[range] = []
    for level in range(len(units)):
        if runs and small[level] and small[runs[-1].start]:
            runs[-1] = range(runs[-1].start, level + 1)
        else:
            runs.append(range(level, level + 1))
    return runs


def _level_runs(plan: KpnnPlan) -> tuple[LevelRun, ...]:
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
    for levels in _group_levels(units, counts, plan.n_slots - plan.n_inputs):
        width, n = int(units[levels].max()), int(counts[levels].max())
        connection = np.zeros((len(levels), n), dtype=np.int64)
        parent = np.zeros((len(levels), n), dtype=np.int64)
        child = np.full((len(levels), n), width, dtype=np.int64)
        for row, level in enumerate(levels):
            ids = per_level[level]
            connection[row, : len(ids)] = ids
            parent[row, : len(ids)] = plan.connection_parent[ids] - plan.n_inputs
            child[row, : len(ids)] = plan.connection_child[ids] - plan.level_bounds[level][0]
        starts = tuple(plan.level_bounds[level][0] - plan.n_inputs for level in levels)
        runs.append(
            LevelRun(
                _int32(connection),
                _int32(parent),
                _int32(child),
                starts,
                tuple(int(units[level]) for level in levels),
                any(from_input[level].any() for level in levels),
            )
        )
    return tuple(runs)


class KpnnLayer(eqx.Module):
    """A network-wired layer: node `v` computes `h_v = act(sum_{u->v} W_uv h_u + b_v)`.

    Trainable arrays: `weight` (one parameter per connection), `bias` (per non-input unit, or
    None), `gamma`/`beta` (the learnable input affine of `input_batchnorm`, or None). The inputs
    must arrive standardised with training-fold statistics; the layer applies `gamma * x + beta`.
    With `signed`, a connection of an edge with sign +-1 uses `sign * softplus(weight)`; unsigned
    edges use `weight` as is.

    Init: `weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))` with `fan_in` the number of connections
    into the child unit (signed edges: `softplus(weight)` ~ `U(0.1, 1) / sqrt(fan_in)`);
    bias and beta 0, gamma 1.

    In the last layer output nodes have one unit and the layer returns their pre-activation
    (logits; the loss applies the link); otherwise it returns their activations. An output that
    feeds other nodes passes its activation on. `node_names[v]` and `node_kinds[v]` (`input`,
    `hidden`, `output`) name the nodes that `unit_node`, `node_slot`, `gate` and `offset` index.
    """

    weight: Float[Array, " n_connections"]
    bias: Float[Array, " n_hidden_units"] | None
    gamma: Float[Array, " n_inputs"] | None
    beta: Float[Array, " n_inputs"] | None
    unit_node: Int[Array, " n_slots"]
    node_slot: Int[Array, " n_nodes"]
    connection_parent: Int[Array, " n_connections"]
    connection_child: Int[Array, " n_connections"]
    connection_edge: Int[Array, " n_connections"]
    connection_sign: Int[Array, " n_connections"] | None
    output_slot: Int[Array, " n_out"]
    droppable: Bool[Array, " n_slots"]
    name: str = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    units_per_node: int = eqx.field(static=True)
    dropout: float = eqx.field(static=True)
    last: bool = eqx.field(static=True)
    n_inputs: int = eqx.field(static=True)
    n_edges: int = eqx.field(static=True)
    level_bounds: tuple[tuple[int, int], ...] = eqx.field(static=True)
    level_connections: tuple[tuple[int, int], ...] = eqx.field(static=True)
    input_connection: Int[Array, " n_input_terms"]
    input_child: Int[Array, " n_input_terms"]
    repeat_parent: Int[Array, " n_repeats"]
    level_runs: tuple[LevelRun, ...]
    node_names: tuple[str, ...] = eqx.field(static=True)
    node_kinds: tuple[str, ...] = eqx.field(static=True)

    def __init__(
        self,
        network: Network,
        inputs: Sequence[int] | np.ndarray,
        outputs: Sequence[int] | np.ndarray,
        spec: KpnnLayerSpec,
        *,
        last: bool,
        key: PRNGKeyArray,
    ):
        plan = plan_kpnn(
            network,
            inputs,
            outputs,
            units_per_node=spec.units_per_node,
            last=last,
            dropout_rule=spec.dropout_rule,
        )
        if spec.signed and not np.any(network.sign):
            raise CompileError(
                Problem(
                    "`signed: true` constrains edge weights to the network's signs, but the "
                    "network has none (every edge's sign is 0)",
                    hint="give `network.edges` a `sign` column (+1/-1), or drop `signed`",
                )
            )
        kinds = np.full(network.n_nodes, "hidden", dtype=object)
        kinds[np.asarray(inputs, dtype=np.int64)] = "input"
        kinds[np.asarray(outputs, dtype=np.int64)] = "output"
        self._init_from_plan(
            plan,
            network,
            spec,
            units_per_node=spec.units_per_node,
            last=last,
            signed=spec.signed,
            input_affine=spec.input_batchnorm,
            droppable=plan.droppable,
            node_kinds=tuple(kinds.tolist()),
            key=key,
        )

    def _init_from_plan(
        self,
        plan: KpnnPlan,
        network: Network,
        spec: KpnnLayerSpec | HierarchyLayerSpec,
        *,
        units_per_node: int,
        last: bool,
        signed: bool,
        input_affine: bool,
        droppable: np.ndarray,
        node_kinds: tuple[str, ...],
        key: PRNGKeyArray,
    ) -> None:
        """Set every field from a plan over `network` (shared by the network-wired layers)."""
        fan_in = np.bincount(plan.connection_child, minlength=plan.n_slots)[plan.connection_child]
        limit = 1.0 / np.sqrt(np.maximum(fan_in, 1))
        sign = network.sign[plan.connection_edge]
        weight = _initial_weight(key, limit, sign if signed else None)
        dtype = weight.dtype
        n_hidden = plan.n_slots - plan.n_inputs

        self.weight = weight
        self.bias = jnp.asarray(np.zeros(n_hidden, dtype)) if spec.bias else None
        self.gamma = jnp.asarray(np.ones(plan.n_inputs, dtype)) if input_affine else None
        self.beta = jnp.asarray(np.zeros(plan.n_inputs, dtype)) if input_affine else None
        self.unit_node = _int32(plan.unit_node)
        self.node_slot = _int32(plan.node_slot)
        self.connection_parent = _int32(plan.connection_parent)
        self.connection_child = _int32(plan.connection_child)
        self.connection_edge = _int32(plan.connection_edge)
        self.connection_sign = jnp.asarray(sign, jnp.int8) if signed else None
        self.output_slot = _int32(plan.output_slot)
        self.droppable = jnp.asarray(droppable)
        self.name = spec.name
        self.activation = spec.activation
        self.units_per_node = units_per_node
        self.dropout = spec.dropout
        self.last = last
        self.n_inputs = plan.n_inputs
        self.n_edges = plan.n_edges
        self.level_bounds = plan.level_bounds
        self.level_connections = plan.level_connections
        self.level_runs = _level_runs(plan)
        dropped = plan.n_slots - plan.n_inputs + self._padding
        connection, child, repeat = _input_terms(plan, dropped)
        self.input_connection = _int32(connection)
        self.input_child = _int32(child)
        self.repeat_parent = _int32(repeat)
        self.node_names = network.nodes
        self.node_kinds = node_kinds

    def __check_init__(self) -> None:
        check_activation_and_dropout(self.activation, self.dropout)
        n_connections = self.level_connections[-1][1] if self.level_connections else 0
        if self.weight.shape[-1] != n_connections:
            raise ValueError(
                f"weight has {self.weight.shape[-1]} entries for {n_connections} connections"
            )
        n_hidden = self.unit_node.shape[-1] - self.n_inputs
        if self.bias is not None and self.bias.shape[-1] != n_hidden:
            raise ValueError(f"bias has {self.bias.shape[-1]} entries for {n_hidden} hidden units")
        if (self.gamma is None) != (self.beta is None):
            raise ValueError("gamma and beta come together (input_batchnorm) or not at all")

    @property
    def n_slots(self) -> int:
        """Length of the activation buffer: input values plus every node's units."""
        return self.unit_node.shape[-1]

    @property
    def n_nodes(self) -> int:
        return self.node_slot.shape[-1]

    @property
    def n_parameters(self) -> int:
        """Trainable scalars: connection weights, biases and the input affine."""
        n = self.weight.shape[-1]
        n += 0 if self.bias is None else self.bias.shape[-1]
        n += 0 if self.gamma is None else 2 * self.gamma.shape[-1]
        return n

    def effective_weight(self) -> Float[Array, " n_connections"]:
        """Connection weights after the sign constraint (`weight` itself when unsigned)."""
        if self.connection_sign is None:
            return self.weight
        sign = self.connection_sign.astype(self.weight.dtype)
        return jnp.where(sign == 0, self.weight, sign * jax.nn.softplus(self.weight))

    def edge_weights(self) -> Float[Array, "n_edges units_per_node units_per_node"]:
        """Effective weight block of every network edge, zero-padded to U x U.

        `[e, a, b]` connects unit `a` of the edge's source to unit `b` of its target; edges into
        input nodes are all zero.
        """
        unit = jnp.arange(self.n_slots) - self.node_slot[self.unit_node]
        u = self.units_per_node
        blocks = jnp.zeros((self.n_edges, u, u), self.weight.dtype)
        return blocks.at[
            self.connection_edge, unit[self.connection_parent], unit[self.connection_child]
        ].set(self.effective_weight())

    def _evaluate(
        self,
        x: Float[Array, " n_inputs"],
        key: PRNGKeyArray | None,
        gate: Float[Array, " n_nodes"] | None,
        offset: Float[Array, " n_nodes"] | None,
    ) -> tuple[Float[Array, " n_slots"], Float[Array, " n_slots"]]:
        """The activation buffer and the pre-activation buffer (inputs: their affine value)."""
        x = jnp.asarray(x, self.weight.dtype)
        if self.gamma is not None:
            x = self.gamma * x + self.beta
        scale, shift = self._slot_factors(x.dtype, key, gate, offset)
        n, n_hidden = self.n_inputs, self.n_slots - self.n_inputs
        inputs = _emit(x, *(f if f is None else f[:n] for f in (scale, shift)))
        pad = self._padding
        hidden_scale, hidden_shift = (
            f if f is None else jnp.pad(f[n:], (0, pad)) for f in (scale, shift)
        )
        bias = None if self.bias is None else jnp.pad(self.bias, (0, pad))
        act = ACTIVATIONS[self.activation]
        weight = self.effective_weight()
        # input parents are summed once for every level; levels only gather hidden parents
        terms = jnp.concatenate([inputs, inputs[self.repeat_parent]])
        from_inputs = jax.ops.segment_sum(
            jnp.append(weight, jnp.zeros(1, weight.dtype))[self.input_connection] * terms,
            self.input_child,
            num_segments=n_hidden + pad + 1,
        )[:-1]

        def level(
            hidden: Array, start: int | Array, run: LevelRun, *connections: Array
        ) -> tuple[Array, Array]:
            """`hidden` with one level's activations written in, and its pre-activations;
            `connections` are the level's rows of `run.connection`, `run.parent`, `run.child`."""
            connection, parent, child = connections

            def part(a: Array | None) -> Array | None:
                return None if a is None else jax.lax.dynamic_slice_in_dim(a, start, run.width)

            z = jax.ops.segment_sum(
                weight[connection] * hidden[parent],
                child,
                num_segments=run.width + 1,
                indices_are_sorted=True,
            )[:-1]
            if run.from_inputs:  # skipped where it is all zeros: its gradient is not free
                z = part(from_inputs) + z
            if bias is not None:
                z = z + part(bias)
            h = _emit(act(z), part(hidden_scale), part(hidden_shift))
            return jax.lax.dynamic_update_slice_in_dim(hidden, h, start, 0), z

        hidden = jnp.zeros(n_hidden + pad, x.dtype)
        pre = [x]
        for run in self.level_runs:
            arrays = (run.connection, run.parent, run.child)
            if len(run.units) == 1:
                hidden, z = level(hidden, run.starts[0], run, *(a[0] for a in arrays))
                pre.append(z)
                continue
            # a padded level computes garbage past its end, which later levels overwrite. The
            # backward pass recomputes a level rather than stacking its ~10 intermediates per
            # step: on the TCR benchmark the epoch compiled in 1.1 s instead of 1.5 s, and ran
            # as fast
            body = jax.checkpoint(
                lambda h, row, run=run: level(h, row[0], run, *row[1:]), prevent_cse=False
            )
            hidden, zs = jax.lax.scan(body, hidden, (jnp.asarray(run.starts), *arrays))
            pre.extend(zs[i, :units] for i, units in enumerate(run.units))
        return jnp.concatenate([inputs, hidden[:n_hidden]]), jnp.concatenate(pre)

    @property
    def _padding(self) -> int:
        """Room past the hidden units for the padded writes of scanned levels."""
        return max((run.width for run in self.level_runs if len(run.units) > 1), default=0)

    def _slot_factors(
        self,
        dtype: jnp.dtype,
        key: PRNGKeyArray | None,
        gate: Float[Array, " n_nodes"] | None,
        offset: Float[Array, " n_nodes"] | None,
    ) -> tuple[Float[Array, " n_slots"] | None, Float[Array, " n_slots"] | None]:
        """Per-slot factor (dropout and gate) and shift (offset) of the activations, or None."""
        scale = None
        if key is not None and self.dropout > 0:
            keep = jax.random.bernoulli(key, 1.0 - self.dropout, (self.n_slots,))
            kept = jnp.where(keep, 1.0 / (1.0 - self.dropout), 0.0).astype(dtype)
            scale = jnp.where(self.droppable, kept, 1.0)
        if gate is not None:
            node_gate = jnp.asarray(gate, dtype)[self.unit_node]
            scale = node_gate if scale is None else scale * node_gate
        shift = None if offset is None else jnp.asarray(offset, dtype)[self.unit_node]
        return scale, shift

    def node_values(
        self,
        x: Float[Array, " n_inputs"],
        *,
        key: PRNGKeyArray | None = None,
        gate: Float[Array, " n_nodes"] | None = None,
        offset: Float[Array, " n_nodes"] | None = None,
    ) -> Float[Array, " n_slots"]:
        """Every unit's activation for one example; `unit_node` says which node a slot is.

        Input slots hold the (affine-transformed) input values. `gate` multiplies and `offset`
        is added to each node's activation after dropout, so a zero gate removes what the node
        passes to its children, and the gradient with respect to `offset` at 0 is the gradient
        with respect to the node's activation. In the last layer an output's logit is its
        pre-activation and does not see its own gate or offset.
        """
        return self._evaluate(x, key, gate, offset)[0]

    def __call__(
        self,
        x: Float[Array, " n_inputs"],
        *,
        key: PRNGKeyArray | None = None,
        gate: Float[Array, " n_nodes"] | None = None,
        offset: Float[Array, " n_nodes"] | None = None,
    ) -> Float[Array, " n_out"]:
        """Output nodes' logits (last layer) or activations for one example.

        Dropout (inverted, scaled by `1 / (1 - dropout)`) applies only when `key` is given;
        `gate` and `offset` act on node activations as in `node_values`.
        """
        return self.outputs_and_values(x, key=key, gate=gate, offset=offset)[0]

    def outputs_and_values(
        self,
        x: Float[Array, " n_inputs"],
        *,
        key: PRNGKeyArray | None = None,
        gate: Float[Array, " n_nodes"] | None = None,
        offset: Float[Array, " n_nodes"] | None = None,
    ) -> tuple[Float[Array, " n_out"], Float[Array, " n_slots"]]:
        """What `__call__` returns and what `node_values` returns, from one evaluation."""
        activations, pre_activations = self._evaluate(x, key, gate, offset)
        return (pre_activations if self.last else activations)[self.output_slot], activations

    @property
    def node_fan_in(self) -> np.ndarray:
        """How many network edges feed each node (NumPy, `(n_nodes,)`; 0 for inputs)."""
        _, first = np.unique(np.asarray(self.connection_edge), return_index=True)
        child = np.asarray(self.unit_node)[np.asarray(self.connection_child)[first]]
        return np.bincount(child, minlength=self.n_nodes)
