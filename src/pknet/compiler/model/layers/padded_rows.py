"""A level's sparse product `z_j = sum_{c: child c = j} w_c h_{parent c}` without scatters.

XLA's CPU scatter (the forward `segment_sum` and the transpose of every gather) costs 2-3x a
gather, so the level is evaluated from padded rows (the ELL layout): each child's connections form
a row, rows are bucketed by length rounded up to a power of two, and a bucket is one gather and a
sum over its rows. The backward pass uses the same layout by parent (`jax.custom_vjp`), so it is
gathers and sums too. Under `vmap` over examples (the trainer's batch) the gathers read whole
rows of units x examples (`custom_vmap`), which is faster than one scalar per example
(benchmarks/README.md, "Hierarchy models at GO scale").
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jaxtyping import Array, Float, Int


def _bucket_rows(group: np.ndarray, n_groups: int) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Each group's connection ids as padded rows, bucketed by their power-of-two length.

    Padding entries are `len(group)`, a zero weight the caller appends. `back[g]` is the row of
    group `g` in the buckets' concatenation, or the row count for a group without connections
    (a zero row the caller appends).
    """
    order = np.argsort(group, kind="stable")
    count = np.bincount(group, minlength=n_groups)
    first = np.cumsum(count) - count
    width = np.where(count > 0, 1 << np.ceil(np.log2(np.maximum(count, 1))).astype(np.int64), 0)
    buckets, members = [], []
    for w in np.unique(width[width > 0]):
        rows = np.flatnonzero(width == w)
        k = np.arange(w)
        valid = k < count[rows, None]
        ids = order[np.minimum(first[rows, None] + k, len(order) - 1)]
        buckets.append(np.where(valid, ids, len(group)))
        members.append(rows)
    flat = np.concatenate(members) if members else np.zeros(0, np.int64)
    back = np.full(n_groups, len(flat), dtype=np.int64)
    back[flat] = np.arange(len(flat))
    return tuple(buckets), back


def _int32(a: np.ndarray) -> Int[Array, " n"]:
    return jnp.asarray(a, dtype=jnp.int32)


class PaddedRows(eqx.Module):
    """Connections `(parent, child)` laid out as padded rows by child and by parent.

    `parent`/`child` (with one padding entry 0 appended) index the parent vector and the
    children; `by_child`/`by_parent` hold connection ids in rows (see `_bucket_rows`).
    """

    parent: Int[Array, " n_plus_1"]
    child: Int[Array, " n_plus_1"]
    by_child: tuple[Int[Array, "rows width"], ...]
    child_back: Int[Array, " n_children"]
    by_parent: tuple[Int[Array, "rows width"], ...]
    parent_back: Int[Array, " n_parents"]

    @classmethod
    def of(
        cls, parent: np.ndarray, child: np.ndarray, n_parents: int, n_children: int
    ) -> PaddedRows:
        """Rows for connections `parent[i] -> child[i]`; indices within the two vectors."""
        by_child, child_back = _bucket_rows(child, n_children)
        by_parent, parent_back = _bucket_rows(parent, n_parents)
        return cls(
            _int32(np.append(parent, 0)),
            _int32(np.append(child, 0)),
            tuple(_int32(b) for b in by_child),
            _int32(child_back),
            tuple(_int32(b) for b in by_parent),
            _int32(parent_back),
        )


@dataclass(frozen=True)
class _Rows:
    """One direction of the layout: `read` (gathered vector's index per connection), rows."""

    read: Array
    buckets: tuple[Array, ...]
    back: Array


def _row_sums(weight: Array, vector: Array, rows: _Rows) -> Array:
    """One example: for each row, `sum_c weight[c] * vector[read[c]]` (trailing axes kept)."""
    weight = jnp.append(weight, jnp.zeros(1, weight.dtype))
    extra = (None,) * (vector.ndim - 1)
    parts = [
        (weight[ids][(..., *extra)] * vector[rows.read[ids]]).sum(axis=1) for ids in rows.buckets
    ]
    sums = jnp.concatenate([*parts, jnp.zeros((1, *vector.shape[1:]), vector.dtype)])
    return sums[rows.back]


@custom_vmap
def _row_sums_one(weight: Array, vector: Array, read: Array, buckets: tuple, back: Array) -> Array:
    return _row_sums(weight, vector, _Rows(read, buckets, back))


@_row_sums_one.def_vmap
def _row_sums_batch(
    axis_size: int, in_batched: list, weight: Array, vector: Array, *layout: Array
) -> tuple[Array, bool]:
    """Examples batched (and nothing else): gather rows of units x examples."""
    if in_batched[1] and not any(jax.tree.leaves([in_batched[0], *in_batched[2:]])):
        rows = _Rows(layout[0], layout[1], layout[2])
        return _row_sums(weight, vector.T, rows).T, True
    axes = jax.tree.map(lambda b: 0 if b else None, in_batched)
    return jax.vmap(lambda *a: _row_sums(a[0], a[1], _Rows(*a[2:])), in_axes=tuple(axes))(
        weight, vector, *layout
    ), True


def _products(parents: Array, g: Array, parent: Array, child: Array) -> Array:
    """One example: `parents[parent[c]] * g[child[c]]` for every connection `c`."""
    return parents[parent] * g[child]


@custom_vmap
def _products_one(parents: Array, g: Array, parent: Array, child: Array) -> Array:
    return _products(parents, g, parent, child)


@_products_one.def_vmap
def _products_batch(
    axis_size: int, in_batched: list, parents: Array, g: Array, parent: Array, child: Array
) -> tuple[Array, bool]:
    """Examples batched: gather rows of units x examples, as `_row_sums_batch`."""
    if in_batched[0] and in_batched[1] and not (in_batched[2] or in_batched[3]):
        return _products(parents.T, g.T, parent, child).T, True
    axes = tuple(0 if b else None for b in in_batched)
    return jax.vmap(_products, in_axes=axes)(parents, g, parent, child), True


def _child_rows(rows: PaddedRows) -> tuple:
    return rows.parent, rows.by_child, rows.child_back


def _parent_rows(rows: PaddedRows) -> tuple:
    return rows.child, rows.by_parent, rows.parent_back


@jax.custom_vjp
def padded_product(
    weight: Float[Array, " n"], parents: Float[Array, " n_parents"], rows: PaddedRows
) -> Float[Array, " n_children"]:
    """`z_j = sum over connections c into child j of weight[c] * parents[parent[c]]`."""
    return _row_sums_one(weight, parents, *_child_rows(rows))


def _forward(weight: Array, parents: Array, rows: PaddedRows) -> tuple[Array, tuple]:
    return padded_product(weight, parents, rows), (weight, parents, rows)


def _backward(residuals: tuple, g: Array) -> tuple[Array, Array, None]:
    weight, parents, rows = residuals
    d_weight = _products_one(parents, g, rows.parent[:-1], rows.child[:-1])
    d_parents = _row_sums_one(weight, g, *_parent_rows(rows))
    return d_weight, d_parents, None


padded_product.defvjp(_forward, _backward)
