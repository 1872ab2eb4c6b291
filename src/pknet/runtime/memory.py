"""Training memory, estimated from the program's shapes before anything is allocated.

The model is built abstractly (`Program.shapes`) and its forward pass traced to a jaxpr,
so a layer of 10⁹ units costs nothing to measure. Sizes are Python integers: no shape product
can overflow, however large. The estimate, per fold trained together:

- trainable arrays: `PARAM_COPIES` copies (the epoch's parameters in and out, the gradients)
  plus the optimiser state as `optax` would build it (Adam: 2 copies, in and out), plus one copy
  for early stopping's best parameters;
- activations: every intermediate of the forward pass of one example that depends on it, as
  traced (before XLA fuses any, which leaves room for the backward pass's), per row of a
  training batch or of a fold's held-out rows predicted at once, whichever are more (those
  that depend on the parameters only: once);
- once for all folds: the data matrix and non-trainable arrays (index arrays).

Each part is charged to the layer that owns it; an intermediate is charged to the latest layer
whose parameters it depends on.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from pknet.compiler.model.program import Program
from pknet.compiler.model.size_fields import DATA, MODEL
from pknet.errors import CompileError, Problem

PARAM_COPIES = 3  # parameters into and out of the jitted epoch, and their gradients
STATE_COPIES = 2  # the optimiser state into and out of the jitted epoch
HEADROOM = 0.9  # refuse a run that needs more than this share of the available memory
GB = 1e9


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated bytes per part (each layer by name, `DATA`, `MODEL`): of its arrays (with
    every copy training keeps) and of its activations."""

    arrays: dict[str, int]
    activations: dict[str, int]

    @property
    def parts(self) -> dict[str, int]:
        """Bytes per part, arrays and activations together."""
        return dict(Counter(self.arrays) + Counter(self.activations))

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    @property
    def largest(self) -> str:
        """The part that needs the most memory."""
        parts = self.parts
        return max(parts, key=lambda name: parts[name])


def nbytes(array: jax.ShapeDtypeStruct | np.ndarray) -> int:
    """Bytes of an array or abstract array, as an exact Python integer."""
    return math.prod(int(d) for d in array.shape) * array.dtype.itemsize  # random keys too


def _is_array(leaf: object) -> bool:
    return isinstance(leaf, jax.ShapeDtypeStruct | np.ndarray | jax.Array)


def _is_trainable(leaf: object) -> bool:
    """What `eqx.is_inexact_array` keeps in training: floating arrays."""
    return _is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.inexact)


def _owners(arrays: eqx.Module) -> list[str]:
    """For each array of `arrays` (flattening order), the name of the layer that holds it: the
    outermost module on its path with a `name` (layers and heads are named; model kinds are not)."""
    owners = []
    for path, _ in jax.tree_util.tree_flatten_with_path(arrays)[0]:
        node, owner = arrays, MODEL
        for key in path:
            node = node[key.idx] if hasattr(key, "idx") else getattr(node, key.name)
            if owner == MODEL and isinstance(getattr(node, "name", None), str):
                owner = node.name
        owners.append(owner)
    return owners


def _activations(
    forward, arrays: eqx.Module, example: Sequence[jax.ShapeDtypeStruct], owners: list[str]
) -> tuple[Counter[str], Counter[str]]:
    """Bytes of the forward pass's intermediates, per owner: those that depend on the example
    (per example) and those that do not (once)."""
    closed = jax.make_jaxpr(forward)(arrays, *example)
    leaves = jax.tree.leaves(arrays)
    order = list(dict.fromkeys(owners))
    label = {}  # var -> (position of its latest owner in `order`, -1 for none; per example?)
    invars = closed.jaxpr.invars
    for var, owner, leaf in zip(invars, owners, leaves, strict=False):
        # index arrays do not make an intermediate theirs: the weights it meets do
        label[var] = (order.index(owner) if _is_trainable(leaf) else -1, False)
    label.update((v, (-1, True)) for v in invars[len(owners) :])
    per_example: Counter[str] = Counter()
    once: Counter[str] = Counter()
    for eqn in closed.jaxpr.eqns:
        inputs = [label.get(v, (-1, False)) for v in eqn.invars if not hasattr(v, "val")]
        owner = max((i for i, _ in inputs), default=-1)
        batched = any(b for _, b in inputs)
        name = order[owner] if owner >= 0 else DATA
        for v in eqn.outvars:
            label[v] = (owner, batched)
            (per_example if batched else once)[name] += nbytes(v.aval)
    return per_example, once


def estimate_training_memory(
    program: Program,
    optimizer: optax.GradientTransformation,
    *,
    folds: int,
    batch: int,
    held_out: int,
    data_bytes: int,
    keeps_best: bool,
    graph_edges: int = 0,
) -> MemoryEstimate:
    """Bytes a run of `folds` folds trained together needs, without allocating the model.

    `batch`: rows of a training step; `held_out`: the most rows of a fold predicted at once (a
    sample-graph model reads all samples, over `graph_edges` edges, in both). `keeps_best`: a
    copy of each fold's best parameters is kept (early stopping).
    """
    model = program.shapes
    if model is None:
        model = eqx.filter_eval_shape(program.init_model, jax.random.key(0))
    arrays, static = eqx.partition(model, _is_array)
    leaves = jax.tree.leaves(arrays)
    owners = _owners(arrays)
    trainable = eqx.filter(arrays, _is_trainable)
    param_bytes = sum(nbytes(a) for a in jax.tree.leaves(trainable))
    state = jax.eval_shape(optimizer.init, trainable)
    state_bytes = sum(nbytes(a) for a in jax.tree.leaves(state))
    copies = PARAM_COPIES + int(keeps_best) + STATE_COPIES * state_bytes / max(param_bytes, 1)

    def forward(arrays: eqx.Module, *example: jax.Array) -> jax.Array:
        return eqx.combine(arrays, static)(*example)

    x = jax.ShapeDtypeStruct((program.n_features,), jnp.float32)
    example: tuple[jax.ShapeDtypeStruct, ...] = (x,)
    if model.trainer == "full_graph":  # one "example" is every sample over the graph
        edges = jax.ShapeDtypeStruct((graph_edges,), jnp.int32)
        x = jax.ShapeDtypeStruct((batch, program.n_features), jnp.float32)
        example = (x, edges, edges, jax.ShapeDtypeStruct((graph_edges,), jnp.float32))
        batch = held_out = 1
    rows = max(batch, held_out)
    per_example, once = _activations(forward, arrays, example, owners)

    held: Counter[str] = Counter({DATA: data_bytes})
    for leaf, owner in zip(leaves, owners, strict=True):
        trained = _is_trainable(leaf)
        held[owner] += math.ceil(copies * folds * nbytes(leaf)) if trained else nbytes(leaf)
    activations = Counter({name: folds * rows * size for name, size in per_example.items()})
    activations.update({name: folds * size for name, size in once.items()})
    return MemoryEstimate(dict(held), dict(activations))


def available_bytes(device: jax.Device) -> int | None:
    """Memory a run may still use on `device` (None: unknown)."""
    if device.platform == "cpu":
        return _host_available()
    try:
        stats = device.memory_stats()
    except (NotImplementedError, RuntimeError):  # a backend without memory statistics
        return None
    if not stats or "bytes_limit" not in stats:
        return None
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))


def _host_available() -> int | None:
    """The host's available memory (`MemAvailable`), within the cgroup's limit if lower."""
    found = []
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    elif hasattr(os, "sysconf") and "SC_AVPHYS_PAGES" in os.sysconf_names:
        found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    cgroup = Path("/sys/fs/cgroup")
    limit, used = cgroup / "memory.max", cgroup / "memory.current"
    if limit.exists() and used.exists() and limit.read_text().strip() != "max":
        found.append(int(limit.read_text()) - int(used.read_text()))
    return min(found) if found else None


def check_fits(
    estimate: MemoryEstimate,
    available: int | None,
    device: str,
    folds: int,
    size_field: Callable[[str], str],
) -> None:
    """An error when the run needs more than `HEADROOM` of the available memory, at the spec
    field (`size_field` of a part's name) of the part that needs the most."""
    if available is None or estimate.total <= HEADROOM * available:
        return
    largest = estimate.largest
    arrays, activations = estimate.arrays.get(largest, 0), estimate.activations.get(largest, 0)
    if largest == DATA:
        what, hint = "the data matrix", "select fewer input features or samples"
    else:
        what = f"layer `{largest}`"
        hint = "use fewer units, a smaller `train.batch_size` or fewer folds (`evaluate.cv.folds`)"
    raise CompileError(
        Problem(
            f"training would need about {estimate.total / GB:.3g} GB, more than "
            f"{HEADROOM:.0%} of the {available / GB:.3g} GB available on {device}; {what} "
            f"takes {(arrays + activations) / GB:.3g} GB of it ({arrays / GB:.3g} GB of arrays "
            f"and their training copies, {activations / GB:.3g} GB of activations, {folds} "
            "folds trained together)",
            path=size_field(largest),
            hint=hint,
        )
    )


def default_device() -> jax.Device:
    """The device arrays are placed on now (`jax.default_device`, else the first device)."""
    device = jax.config.jax_default_device
    return device if isinstance(device, jax.Device) else jax.devices()[0]


def check_training_memory(
    program: Program,
    *,
    folds: int,
    batch: int,
    held_out: int,
    data_bytes: int,
    keeps_best: bool,
    graph_edges: int = 0,
) -> MemoryEstimate:
    """Estimate the run's memory on the current device; a located error when it does not fit."""
    estimate = _estimate(program, folds, batch, held_out, data_bytes, keeps_best, graph_edges)
    device = default_device()
    check_fits(estimate, available_bytes(device), device.platform, folds, program.size_field)
    return estimate


def seeds_per_chunk(
    program: Program,
    *,
    seeds: int,
    folds: int,
    batch: int,
    held_out: int,
    data_bytes: int,
    keeps_best: bool,
    graph_edges: int = 0,
) -> int:
    """How many seeds' `folds` models to train together: all `seeds` when they fit the current
    device, else the most that do; the located error of `check_training_memory` when one seed's
    do not. Memory grows linearly with the models trained together (their arrays and
    activations; the data and index arrays are held once), so two estimates place the line;
    the estimates on either side of where it crosses the budget settle the rounding."""
    sizes = (batch, held_out, data_bytes, keeps_best, graph_edges)
    one = check_training_memory(
        program,
        folds=folds,
        batch=batch,
        held_out=held_out,
        data_bytes=data_bytes,
        keeps_best=keeps_best,
        graph_edges=graph_edges,
    )
    available = available_bytes(default_device())
    if seeds == 1 or available is None:
        return seeds
    every = _estimate(program, seeds * folds, *sizes).total
    if every <= HEADROOM * available:
        return seeds
    per_seed = (every - one.total) / (seeds - 1)
    limit = HEADROOM * available
    chunk = int(min(max((limit - one.total) // per_seed + 1, 1), seeds - 1))

    def fits(n: int) -> bool:
        return n == 1 or _estimate(program, n * folds, *sizes).total <= limit

    while not fits(chunk):
        chunk -= 1
    while chunk + 1 < seeds and fits(chunk + 1):
        chunk += 1
    return chunk


def _estimate(
    program: Program,
    folds: int,
    batch: int,
    held_out: int,
    data_bytes: int,
    keeps_best: bool,
    graph_edges: int,
) -> MemoryEstimate:
    return estimate_training_memory(
        program,
        program.optimizer(steps_per_epoch=1),
        folds=folds,
        batch=batch,
        held_out=held_out,
        data_bytes=data_bytes,
        keeps_best=keeps_best,
        graph_edges=graph_edges,
    )
