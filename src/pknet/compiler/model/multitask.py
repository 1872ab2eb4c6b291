"""The `multitask` model kind: one tower per task, stacked on a leading task axis.

Task `t` reads `parents[t]`, a zero-padded row of input columns (its parents in the network, or
every input), and turns each into its `task_features`; the towers are one `Model` of dense layers
whose arrays carry the task axis, evaluated with `vmap`, never a Python loop over tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, final

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pknet.compiler.model.base import AbstractModel, Trainer, layer_groups
from pknet.compiler.model.layers import DenseLayer
from pknet.compiler.model.layers.chain import apply_chain
from pknet.compiler.model.stack import build_stack
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import MultitaskModelSpec


class TaskInputs(eqx.Module):
    """Which input columns each task reads (`parents`, padded with `mask == 0`) and the signed
    weight of each such edge (`mor`, integers: DoRothEA's modes of regulation are +-1)."""

    parents: Int[Array, "tasks width"]
    mask: Int[Array, "tasks width"]
    mor: Int[Array, "tasks width"]
    features: tuple[str, ...] = eqx.field(static=True)

    def __call__(self, x: Float[Array, " n_inputs"]) -> Float[Array, "tasks width_features"]:
        values = x[self.parents] * self.mask.astype(x.dtype)
        mor = self.mor.astype(x.dtype)
        columns = {"expression": values, "mor": mor, "expression_x_mor": values * mor}
        per_feature = jnp.stack([columns[f] for f in self.features], axis=-1)
        return per_feature.reshape(per_feature.shape[0], -1)


def task_inputs(
    spec: MultitaskModelSpec,
    network: Network | None,
    inputs: Sequence[int] | np.ndarray | None,
    outputs: Sequence[int] | np.ndarray | None,
    n_features: int,
    n_tasks: int,
) -> TaskInputs:
    """The parents of every task: its network parents among `inputs`, or every input."""
    if spec.task_inputs == "all":
        parents = np.tile(np.arange(n_features), (n_tasks, 1))
        return TaskInputs(
            *map(jnp.asarray, (parents, np.ones_like(parents), 0 * parents)), ("expression",)
        )
    if network is None or inputs is None or outputs is None:
        raise ValueError("`task_inputs: network` needs `network`, `inputs` and `outputs`")
    column = {node: i for i, node in enumerate(np.asarray(inputs))}
    rows = []
    for task in np.asarray(outputs):
        edges = np.flatnonzero((network.dst == task) & np.isin(network.src, list(column)))
        rows.append(
            (
                np.array([column[s] for s in network.src[edges]], dtype=np.int64),
                network.sign[edges] * network.weight[edges],
            )
        )
    empty = [
        network.nodes[t]
        for t, (cols, _) in zip(np.asarray(outputs), rows, strict=True)
        if len(cols) == 0
    ]
    if empty:
        raise CompileError(
            Problem(
                f"{len(empty)} task(s) have no input among the network's inputs: "
                + ", ".join(f"`{n}`" for n in empty[:5]),
                path="network.outputs",
                hint="select outputs with at least one measured parent, e.g. "
                "`measured - leaves & degree(in >= 1)`, or use `task_inputs: all`",
            )
        )
    width = max(len(cols) for cols, _ in rows)
    parents, mask, mor = (np.zeros((len(rows), width), np.int32) for _ in range(3))
    for t, (cols, weights) in enumerate(rows):
        parents[t, : len(cols)], mask[t, : len(cols)] = cols, 1
        mor[t, : len(cols)] = np.rint(weights)
    return TaskInputs(
        jnp.asarray(parents), jnp.asarray(mask), jnp.asarray(mor), tuple(spec.task_features)
    )


@final
class MultitaskModel(AbstractModel):
    """Towers of dense layers, one per task (every array has a leading task axis)."""

    trainer: ClassVar[Trainer] = "minibatch"
    embeds: ClassVar[bool] = False

    towers: tuple[DenseLayer, ...]
    inputs: TaskInputs
    groups: tuple[tuple[str, tuple[str, ...]], ...] = eqx.field(static=True, default=())

    @property
    def layers(self) -> tuple[DenseLayer, ...]:
        return self.towers

    @property
    def n_tasks(self) -> int:
        return self.inputs.parents.shape[0]

    def param_groups(self) -> Mapping[str, list[Array]]:
        """`weights`, `bias`, each layer (all towers) and each named group of layers."""
        groups = layer_groups(self.towers)
        for name, members in self.groups:
            groups[name] = [a for member in members for a in groups[member]]
        return groups

    def output_width(self, n_features: int) -> int:
        """Every task's outputs, task by task."""
        return self.n_tasks * self.towers[-1].units

    @property
    def n_parameters(self) -> int:
        """Trainable scalars of every tower."""
        return sum(
            int(np.prod(a.shape))
            for a in jax.tree.leaves(eqx.filter(self.towers, eqx.is_inexact_array))
        )

    def __call__(
        self, x: Float[Array, " n_inputs"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " n_out"]:
        """Every task's outputs, task by task. Dropout is on when `key` is given."""
        features = self.inputs(x)
        if key is None:
            out = jax.vmap(lambda layers, h: apply_chain(layers, h, None))(self.towers, features)
        else:
            keys = jax.random.split(key, self.n_tasks)
            out = jax.vmap(apply_chain)(self.towers, features, keys)
        return out.reshape(-1)


def build_multitask(
    spec: MultitaskModelSpec,
    network: Network | None,
    inputs: Sequence[int] | np.ndarray | None,
    outputs: Sequence[int] | np.ndarray | None,
    n_features: int,
    n_tasks: int,
    *,
    key: PRNGKeyArray,
) -> MultitaskModel:
    """Towers for `n_tasks` tasks (the network's outputs with `task_inputs: network`)."""
    if spec.task_inputs == "network" and outputs is not None:
        n_tasks = len(outputs)
    reads = task_inputs(spec, network, inputs, outputs, n_features, n_tasks)
    width = reads.parents.shape[1] * len(reads.features)

    def one_tower(tower_key: PRNGKeyArray) -> tuple[DenseLayer, ...]:
        return build_stack(spec.layers, width, jax.random.split(tower_key, len(spec.layers)))[0]

    towers = eqx.filter_vmap(one_tower)(jax.random.split(key, n_tasks))
    groups = tuple((name, tuple(members)) for name, members in spec.groups.items())
    return MultitaskModel(towers, reads, groups)
