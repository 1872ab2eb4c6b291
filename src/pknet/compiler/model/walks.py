"""node2vec's second-order biased random walks over a graph given as edge arrays, under `jit`.

A walker at node `v` steps to a node `x` that sends `v` an edge (`x -> v`, against the direction
messages flow in `pknet.compiler.model.graphs`), with probability proportional to the edge's
weight times Grover & Leskovec's bias on the previous node `t`: `1/p` for `x == t` (return),
`1` when `x` also sends `t` an edge (stays at distance 1 from `t`), `1/q` otherwise. The first
step has no previous node and follows the weights alone. A node that receives no edge ends the
walk: the rest of the walk is `-1`.

Steps are drawn by rejection: a candidate from the weights alone is accepted with probability
`bias / max(1/p, 1, 1/q)`, which gives the biased distribution exactly. The edges are kept sorted
by (receiver, sender) with a running weight sum, so a draw and a "does `x` send `t` an edge" test
are each one `searchsorted` for all walkers at once; no padded neighbour list is formed.
Weight-0 edges (the padding of fold graphs) are never walked.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

NO_NODE = -1
MAX_NODES = 46_340  # (receiver, sender) pairs numbered `receiver * n + sender` fit in int32


class WalkGraph(NamedTuple):
    """The edges of positive weight sorted by (receiver, sender), each numbered
    `receiver * n_nodes + sender` in `pairs`, with the running sum of their weights; node `v`'s
    edges are positions `start[v]` to `start[v + 1]`."""

    senders: Int[Array, " n_edges"]
    pairs: Int[Array, " n_edges"]
    cumulative: Float[Array, " n_edges"]
    start: Int[Array, " n_nodes_plus_1"]

    @property
    def n_nodes(self) -> int:
        return len(self.start) - 1


def walk_graph(
    senders: Int[Array, " n_edges"],
    receivers: Int[Array, " n_edges"],
    weights: Float[Array, " n_edges"],
    n_nodes: int,
) -> WalkGraph:
    """The walk structure of the edges with positive weight (the rest sort after them)."""
    if n_nodes > MAX_NODES:
        raise ValueError(f"node2vec walks take at most {MAX_NODES} nodes; got {n_nodes}")
    senders, receivers, weights = (jnp.asarray(a) for a in (senders, receivers, weights))
    real = weights > 0
    row = jnp.where(real, receivers, n_nodes).astype(jnp.int32)
    pairs = row * n_nodes + senders.astype(jnp.int32)
    order = jnp.argsort(pairs)
    cumulative = jnp.cumsum(jnp.where(real, weights, 0.0)[order].astype(jnp.float32))
    start = jnp.searchsorted(row[order], jnp.arange(n_nodes + 1), side="left")
    return WalkGraph(
        senders[order].astype(jnp.int32), pairs[order], cumulative, start.astype(jnp.int32)
    )


def sends_to(graph: WalkGraph, x: Int[Array, " w"], t: Int[Array, " w"]) -> Array:
    """Whether `x[i]` sends `t[i]` an edge (of positive weight)."""
    pair = t * graph.n_nodes + x
    i = jnp.searchsorted(graph.pairs, pair)
    return graph.pairs[jnp.minimum(i, len(graph.pairs) - 1)] == pair


def step_bias(
    graph: WalkGraph,
    prev: Int[Array, " w"],
    x: Int[Array, " w"],
    p: float | Array,
    q: float | Array,
) -> Float[Array, " w"]:
    """node2vec's unnormalised bias of stepping to `x` after `prev` (1 without a `prev`)."""
    near = jnp.where(sends_to(graph, x, jnp.maximum(prev, 0)), 1.0, 1.0 / q)
    return jnp.where(prev == NO_NODE, 1.0, jnp.where(x == prev, 1.0 / p, near))


def _weighted_neighbours(
    graph: WalkGraph, u: Float[Array, " w"], v: Int[Array, " w"]
) -> Int[Array, " w"]:
    """For each `v[i]` (which has edges), the sender at quantile `u[i]` of its edge weights.

    The search runs on the running sum of all edges, but the draw is decided on the sums
    within `v`'s edges (exact for whole-number weights, such as kNN graphs'), so it does not
    depend on how many edges come before `v`'s."""
    lo, hi = graph.start[v], graph.start[v + 1]
    cumulative = graph.cumulative
    before = jnp.where(lo > 0, cumulative[jnp.maximum(lo - 1, 0)], 0.0)
    target = u * (cumulative[jnp.maximum(hi - 1, 0)] - before)
    i = jnp.clip(jnp.searchsorted(cumulative, before + target, side="right"), lo, hi - 1)
    i = jnp.where((i > lo) & (cumulative[i - 1] - before > target), i - 1, i)
    i = jnp.where((i < hi - 1) & (cumulative[i] - before <= target), i + 1, i)
    return graph.senders[i]


def biased_steps(
    graph: WalkGraph,
    keys: PRNGKeyArray,
    prev: Int[Array, " w"],
    current: Int[Array, " w"],
    p: float | Array,
    q: float | Array,
) -> Int[Array, " w"]:
    """Each walker's next node after `prev -> current` (`NO_NODE` where `current` is `NO_NODE`
    or receives no edge); `prev` is `NO_NODE` on a walk's first step. Walker `i` draws from
    `keys[i]` only (try `k`: `fold_in(keys[i], k)`), so its step does not depend on the others."""
    most = jnp.maximum(jnp.maximum(1.0 / p, 1.0), 1.0 / q)
    v = jnp.maximum(current, 0)
    alive = (current != NO_NODE) & (graph.start[v + 1] > graph.start[v])

    def draw(state: tuple[Array, Array, Array]) -> tuple[Array, Array, Array]:
        tries, x, done = state
        u = jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, tries), (2,)))(keys)
        candidate = _weighted_neighbours(graph, u[:, 0], v)
        keep = ~done & (u[:, 1] * most < step_bias(graph, prev, candidate, p, q))
        return tries + 1, jnp.where(keep, candidate, x), done | keep

    start = (jnp.zeros((), jnp.int32), jnp.full_like(current, NO_NODE), ~alive)
    _, x, _ = jax.lax.while_loop(lambda state: ~jnp.all(state[2]), draw, start)
    return x


def node2vec_walks(
    graph: WalkGraph,
    keys: PRNGKeyArray,
    starts: Int[Array, " w"],
    length: int,
    p: float | Array,
    q: float | Array,
) -> Int[Array, "w length"]:
    """One walk of `length` nodes from each of `starts`, all walkers stepping together; walker
    `i` draws from `keys[i]` only (step `s`: `fold_in(keys[i], s)`)."""

    def step(carry: tuple[Array, Array], s: Array) -> tuple[tuple[Array, Array], Array]:
        prev, current = carry
        step_keys = jax.vmap(lambda k: jax.random.fold_in(k, s))(keys)
        nxt = biased_steps(graph, step_keys, prev, current, p, q)
        return (current, nxt), nxt

    starts = jnp.asarray(starts, jnp.int32)
    first = (jnp.full_like(starts, NO_NODE), starts)
    _, rest = jax.lax.scan(step, first, jnp.arange(length - 1))
    return jnp.concatenate([starts[:, None], rest.T], axis=1)
