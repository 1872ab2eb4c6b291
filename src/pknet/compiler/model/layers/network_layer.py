"""The one network-wired layer: `NetworkLayer` evaluates a `WiringPlan` (see `wiring`).

It sums every connection from an input into its child in one `segment_sum`. It then evaluates
the levels in order: gather the hidden parents' activations of a level's connections, multiply by
their weights, `segment_sum` them into the level's units, add the input sums and the bias, apply
the activation and write the level into a buffer of hidden units. A run of levels that the plan
packed together is evaluated by one `lax.scan`; a wide level is summed from padded rows instead,
without scatters (`padded_rows`). No node x node matrix exists. `kpnn` and
`hierarchy` layers differ in their plan, not in this module.
"""

from __future__ import annotations

from typing import final

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from pknet.compiler.model.layers.activations import ACTIVATIONS, check_activation_and_dropout
from pknet.compiler.model.layers.dropout import inverted_dropout
from pknet.compiler.model.layers.hierarchy import HierarchyReport
from pknet.compiler.model.layers.padded_rows import PaddedRows, padded_product
from pknet.compiler.model.layers.wiring import ScanRun, WiringPlan, input_terms, scan_runs

# a level with this many connections from hidden units is evaluated from padded rows; each row
# bucket is a few more kernels, which in smaller levels cost more step and compile time than the
# scatters they replace (benchmarks/README.md, "Hierarchy models at GO scale")
PADDED_ROWS_MIN = 16384


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


class LevelRun(eqx.Module):
    """A `wiring.ScanRun` as the module holds it: index arrays on the device, sizes static."""

    connection: Int[Array, "levels n"]
    parent: Int[Array, "levels n"]
    child: Int[Array, "levels n"]
    starts: tuple[int, ...] = eqx.field(static=True)
    units: tuple[int, ...] = eqx.field(static=True)
    from_inputs: bool = eqx.field(static=True)
    # a level evaluated alone: its connections as padded rows, reading hidden units
    # `parents[0]:parents[1]`; None for scanned runs and levels without hidden parents
    rows: PaddedRows | None = None
    parents: tuple[int, int] = eqx.field(static=True, default=(0, 0))

    @property
    def width(self) -> int:
        return max(self.units)

    @classmethod
    def of(cls, run: ScanRun) -> LevelRun:
        rows, parents = None, (0, 0)
        if len(run.units) == 1 and run.parent.size >= PADDED_ROWS_MIN:
            parent = run.parent[0]
            parents = (int(parent.min()), int(parent.max()) + 1)
            rows = PaddedRows.of(
                parent - parents[0], run.child[0], parents[1] - parents[0], run.units[0]
            )
        return cls(
            _int32(run.connection),
            _int32(run.parent),
            _int32(run.child),
            run.starts,
            run.units,
            run.from_inputs,
            rows,
            parents,
        )


@final
class NetworkLayer(eqx.Module):
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
    `hidden`, `output` in a `kpnn` plan; `input`, `gene`, `term`, `copy` in a `hierarchy` plan)
    name the nodes that `unit_node`, `node_slot`, `gate` and `offset` index; `report` is the
    plan's (what a `hierarchy` plan's filters kept, else None).
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
    report: HierarchyReport | None = eqx.field(static=True)

    def __init__(
        self,
        plan: WiringPlan,
        *,
        name: str,
        activation: str,
        dropout: float,
        bias: bool,
        input_batchnorm: bool,
        key: PRNGKeyArray,
    ):
        """Weights for the connections of `plan` (see the class docstring for their init);
        `input_batchnorm` adds the learnable input affine."""
        fan_in = np.bincount(plan.connection_child, minlength=plan.n_slots)[plan.connection_child]
        limit = 1.0 / np.sqrt(np.maximum(fan_in, 1))
        weight = _initial_weight(key, limit, plan.connection_sign)
        dtype = weight.dtype
        n_hidden = plan.n_slots - plan.n_inputs
        signed = plan.connection_sign is not None

        self.weight = weight
        self.bias = jnp.asarray(np.zeros(n_hidden, dtype)) if bias else None
        self.gamma = jnp.asarray(np.ones(plan.n_inputs, dtype)) if input_batchnorm else None
        self.beta = jnp.asarray(np.zeros(plan.n_inputs, dtype)) if input_batchnorm else None
        self.unit_node = _int32(plan.unit_node)
        self.node_slot = _int32(plan.node_slot)
        self.connection_parent = _int32(plan.connection_parent)
        self.connection_child = _int32(plan.connection_child)
        self.connection_edge = _int32(plan.connection_edge)
        self.connection_sign = jnp.asarray(plan.connection_sign, jnp.int8) if signed else None
        self.output_slot = _int32(plan.output_slot)
        self.droppable = jnp.asarray(plan.droppable)
        self.name = name
        self.activation = activation
        self.units_per_node = plan.units_per_node
        self.dropout = dropout
        self.last = plan.last
        self.n_inputs = plan.n_inputs
        self.n_edges = plan.n_edges
        self.level_bounds = plan.level_bounds
        self.level_connections = plan.level_connections
        self.level_runs = tuple(LevelRun.of(run) for run in scan_runs(plan))
        dropped = plan.n_slots - plan.n_inputs + self._padding
        connection, child, repeat = input_terms(plan, dropped)
        self.input_connection = _int32(connection)
        self.input_child = _int32(child)
        self.repeat_parent = _int32(repeat)
        self.node_names = plan.node_names
        self.node_kinds = plan.node_kinds
        self.report = plan.report

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

            if run.rows is not None:  # gathers only, forward and backward (see padded_rows)
                z = padded_product(
                    weight[connection], hidden[run.parents[0] : run.parents[1]], run.rows
                )
            else:
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
            # backward pass recomputes a level rather than stacking its intermediates per step,
            # which compiles faster at the same speed (benchmarks/README.md,
            # "Measured choices behind the code")
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
            kept = inverted_dropout(jnp.ones(self.n_slots, dtype), self.dropout, key)
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
