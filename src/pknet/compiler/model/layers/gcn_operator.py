"""A fixed graph's GCN propagation `D^-1/2 (A + I) D^-1/2 h` from padded rows, without scatters.

`gcn_propagate` (in `graph.py`) takes the graph as arguments and sums messages with
`jax.ops.segment_sum`; under the trainer's `vmap` over examples and folds that is a batched XLA
scatter forward, and the gathers' transposes are scatters backward, both slow on CPU. A model
whose graph never changes (`NetworkGraphModel`: the spec's network or the graph over the input
features) builds this operator once instead. Applying it is `s * (A + I)(s * h)` with
`s = D^-1/2`, where `(A + I) h` sums each node's in-neighbours' rows of `h`:

- nodes with at most `MAX_WIDTH` in-neighbours (self included) as padded rows
  (`padded_rows._bucket_rows`: rows bucketed by length rounded up to a power of two), each bucket
  one sum of gathered terms written out term by term, which XLA fuses into one loop;
- the few nodes with more (hubs of a kNN graph) as a dense block of neighbour counts, a matmul.

A `jax.custom_vjp` computes the backward pass from the same layout of `(A + I)^T`, so gradients
are gathers too. Trailing axes of `h` ride along: with examples on an axis after the nodes
(`NetworkGraphModel.batched`), each gather reads one contiguous row of examples x features per
neighbour. The choices are measured in benchmarks/README.md, "Graph models over the feature
graph".
"""

from __future__ import annotations

import functools
import operator

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from pknet.compiler.model.layers.padded_rows import _bucket_rows

MAX_WIDTH = 32
"""The most in-neighbours of a node summed from padded rows; a power of two, like the buckets.
Nodes with more are rows of the dense block."""


class _Rows(eqx.Module):
    """`out[i] = sum of h[j]` over the entries `j` of node `i`'s row.

    `buckets[b]` holds padded rows of node indices (`n_nodes`, a zero row appended to `h`, pads
    them); `dense[r, j]` counts node `j` in the row of the `r`-th node with more than
    `MAX_WIDTH` entries. `back[i]` is node `i`'s row in the concatenation of the buckets' rows,
    the dense rows and a zero row (the last, for a node without entries).
    """

    buckets: tuple[Int[Array, "rows width"], ...]
    dense: Int[Array, "n_dense n_nodes"]
    back: Int[Array, " n_nodes"]

    @classmethod
    def of(cls, read: np.ndarray, group: np.ndarray, n_nodes: int) -> _Rows:
        """Rows by `group`: entry `c` adds `h[read[c]]` to node `group[c]`'s row."""
        count = np.bincount(group, minlength=n_nodes)
        wide = np.flatnonzero(count > MAX_WIDTH)
        narrow = count[group] <= MAX_WIDTH
        ids, back = _bucket_rows(group[narrow], n_nodes)
        padded = np.append(read[narrow], n_nodes)
        n_rows = sum(len(b) for b in ids)
        dense = np.zeros((len(wide), n_nodes), np.int64)
        row_of = np.full(n_nodes, -1)
        row_of[wide] = np.arange(len(wide))
        np.add.at(dense, (row_of[group[~narrow]], read[~narrow]), 1)
        back = np.where(back == n_rows, n_rows + len(wide), back)
        back[wide] = n_rows + np.arange(len(wide))
        return cls(
            tuple(jnp.asarray(padded[b], jnp.int32) for b in ids),
            jnp.asarray(dense, jnp.int32),
            jnp.asarray(back, jnp.int32),
        )

    def __call__(self, h: Float[Array, "n_nodes ..."]) -> Float[Array, "n_nodes ..."]:
        """The row sums of `h` (nodes on the first axis, any trailing axes)."""
        zero = jnp.zeros((1, *h.shape[1:]), h.dtype)
        padded = jnp.concatenate([h, zero])
        parts = [
            functools.reduce(operator.add, (padded[ids[:, k]] for k in range(ids.shape[1])))
            for ids in self.buckets
        ]
        if self.dense.shape[0]:
            parts.append(jnp.tensordot(self.dense.astype(h.dtype), h, axes=1))
        return jnp.concatenate([*parts, zero])[self.back]


@jax.custom_vjp
def _adjacency_sum(h: Array, rows: _Rows, transposed: _Rows) -> Array:
    """`(A + I) h` by `rows`; `transposed` holds `(A + I)^T` for the backward pass."""
    return rows(h)


def _forward(h: Array, rows: _Rows, transposed: _Rows) -> tuple[Array, _Rows]:
    return rows(h), transposed


def _backward(transposed: _Rows, g: Array) -> tuple[Array, None, None]:
    return transposed(g), None, None


_adjacency_sum.defvjp(_forward, _backward)


class GcnOperator(eqx.Module):
    """`D^-1/2 (A + I) D^-1/2` of a fixed graph with unit edge weights, `D` the row sums of
    `A + I` (in-degree plus 1): what `gcn_propagate` computes for that graph with weights 1.

    Edge `e` is `senders[e] -> receivers[e]` (`A[receiver, sender] = 1`); an edge given twice
    counts twice and an explicit self-loop adds to the identity, as in `gcn_propagate`.
    """

    rows: _Rows
    transposed: _Rows
    degree: Int[Array, " n_nodes"]

    @classmethod
    def of(cls, senders: np.ndarray, receivers: np.ndarray, n_nodes: int) -> GcnOperator:
        """The operator of edges `senders[e] -> receivers[e]` on `n_nodes` nodes."""
        loops = np.arange(n_nodes)
        senders = np.r_[np.asarray(senders, np.int64), loops]
        receivers = np.r_[np.asarray(receivers, np.int64), loops]
        return cls(
            _Rows.of(senders, receivers, n_nodes),
            _Rows.of(receivers, senders, n_nodes),
            jnp.asarray(np.bincount(receivers, minlength=n_nodes), jnp.int32),
        )

    def __call__(self, h: Float[Array, "n_nodes ..."]) -> Float[Array, "n_nodes ..."]:
        """The normalised propagation of node features `h` (any trailing axes)."""
        scale = jax.lax.rsqrt(self.degree.astype(h.dtype))
        scale = scale.reshape(-1, *(1,) * (h.ndim - 1))
        return scale * _adjacency_sum(scale * h, self.rows, self.transposed)
