"""The `node2vec` layer: node embeddings of a sample graph (Grover & Leskovec 2016).

The layer reads the graph, not the inputs: `__call__(x, senders, receivers, weights)` gives every
node (sample) `dimensions` values, fitted from the graph alone by

1. walks: `walks_per_node` second-order biased walks of `walk_length` nodes from every node
   (`pknet.compiler.model.walks`), drawn from the layer's `key`;
2. skip-gram with negative sampling on the pairs of nodes at most `window` steps apart in a walk:
   node `i`'s input vector `u_i` and node `j`'s context vector `v_j` minimise, summed over pairs,
   `-log σ(u_i·v_j)` plus `negatives` times `-log σ(-u_i·v_n)` for negative nodes `n` drawn from
   the context counts to the power 3/4 (word2vec's noise distribution). The negative term is
   taken in expectation over that distribution rather than sampled, so one full-batch loss over
   the co-occurrence counts (an `n x n` matrix) is minimised by `epochs` Adam steps.

The embedding is `u`. Walks only move along edges from the `walked_nodes`: the largest set of
nodes that each send an edge to a node of the set. In a fold's graph, held-out samples only
receive edges from training samples, so they are never in it, and it is the same whichever
held-out samples the graph holds. A node outside it (a held-out sample) never appears inside
another node's walk and is embedded from its own walks only: its pairs update its `u` against
context vectors they do not move (no gradient reaches `v` through them), and its counts join
neither the noise distribution nor the walked nodes' loss, which is normalised apart. Adam
acts on each entry alone, so the walked nodes' embeddings are what they would be without the
other nodes (up to float rounding): held-out samples never move the training samples'
embeddings, and `pknet predict` embeds a new sample as cross-validation embedded a held-out
one.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, UInt

from pknet.compiler.model.layers.fixed import FixedLayer
from pknet.compiler.model.layers.registry import Wiring, builds
from pknet.compiler.model.walks import NO_NODE, node2vec_walks, walk_graph
from pknet.specs.schema.model import Node2vecLayerSpec

NOISE_POWER = 0.75  # word2vec's unigram^(3/4) noise distribution


def cooccurrence(
    walks: Int[Array, "n_walks length"], walked: Bool[Array, " n_nodes"], window: int
) -> Float[Array, "n_nodes n_nodes"]:
    """`C[i, j]`: how often `j` is within `window` steps of `i` in a walk. A walk from a
    `walked` node counts all its pairs; a walk from any other node counts only the pairs with
    its start as `i` (every later node of a walk is a walked one)."""
    n = len(walked)
    whole = walked[walks[:, 0]]
    centres, contexts, counted = [], [], []
    for d in range(1, window + 1):
        a, b = walks[:, :-d], walks[:, d:]
        real = (a != NO_NODE) & (b != NO_NODE)
        from_start = jnp.arange(a.shape[1]) == 0
        centres += [a, b]
        contexts += [b, a]
        counted += [real & (whole[:, None] | from_start), real & whole[:, None]]
    centre = jnp.concatenate([c.ravel() for c in centres])
    context = jnp.concatenate([c.ravel() for c in contexts])
    count = jnp.concatenate([c.ravel() for c in counted]).astype(jnp.float32)
    safe = lambda nodes: jnp.maximum(nodes, 0)  # noqa: E731 - uncounted pairs may hold NO_NODE
    return jnp.zeros((n, n), jnp.float32).at[safe(centre), safe(context)].add(count)


@jax.custom_vjp
def _logits(u: Array, v: Array, rows: Array) -> Array:
    """`u @ v.T`, whose gradient reaches `v` only through the rows of `u` where `rows` is 1 (one
    product each way, where a `stop_gradient` on the other rows would take two)."""
    return u @ v.T


def _logits_forward(u: Array, v: Array, rows: Array) -> tuple[Array, tuple]:
    return u @ v.T, (u, v, rows)


def _logits_backward(saved: tuple, grad: Array) -> tuple[Array, Array, Array]:
    u, v, rows = saved
    return grad @ v, grad.T @ (u * rows[:, None]), jnp.zeros_like(rows)


_logits.defvjp(_logits_forward, _logits_backward)


def sgns_loss(
    vectors: tuple[Array, Array],
    counts: Float[Array, "n n"],
    walked: Bool[Array, " n"],
    negatives: float,
) -> Array:
    """The expected skip-gram negative-sampling loss of `(u, v)` on co-occurrence `counts`: the
    mean over the walked nodes' pairs, plus each other node's mean over its own pairs, which
    sees `v` as a constant."""
    u, v = vectors
    own = walked[:, None]
    logits = _logits(u, v, walked.astype(u.dtype))
    context = (counts * own).sum(axis=0) ** NOISE_POWER
    noise = context / jnp.maximum(context.sum(), 1e-30)
    pairs = counts.sum(axis=1)
    per_row = (counts * jax.nn.softplus(-logits)).sum(axis=1) + negatives * pairs * (
        jax.nn.softplus(logits) @ noise
    )
    row_own = own[:, 0]
    mine = jnp.where(row_own, per_row, 0.0).sum() / jnp.maximum(
        jnp.where(row_own, pairs, 0).sum(), 1
    )
    # each other node alone: its loss does not depend on how many others there are
    others = jnp.where(row_own, 0.0, per_row / jnp.maximum(pairs, 1)).sum()
    return mine + others


def _mix(x: UInt[Array, " n"]) -> UInt[Array, " n"]:
    """A 32-bit integer hash (lowbias32): nearby integers give unrelated ones."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def walked_nodes(
    senders: Int[Array, " n_edges"],
    receivers: Int[Array, " n_edges"],
    weights: Float[Array, " n_edges"],
    n_nodes: int,
) -> Bool[Array, " n_nodes"]:
    """The largest set of nodes that each send an edge to a node of the set.

    Nodes that send no edge (a fold's held-out samples) are not in it, nor are nodes that send
    edges only to nodes outside it, so it is the same whichever receive-only nodes the graph
    holds. Walks are restricted to edges from it: a walk from one of its nodes stays in it."""
    real = weights > 0

    def shrink(state: tuple[Array, Array]) -> tuple[Array, Array]:
        inside, _ = state
        hits = jax.ops.segment_sum((real & inside[receivers]).astype(jnp.int32), senders, n_nodes)
        kept = inside & (hits > 0)
        return kept, jnp.any(kept != inside)

    start = (jnp.ones(n_nodes, bool), jnp.asarray(True))
    inside, _ = jax.lax.while_loop(lambda state: state[1], shrink, start)
    return inside


def node_ids(
    senders: Int[Array, " n_edges"],
    receivers: Int[Array, " n_edges"],
    walked: Bool[Array, " n_nodes"],
) -> UInt[Array, " n_nodes"]:
    """The number each node's random keys derive from, for edges restricted to `walked`
    senders: a walked node's rank among the walked nodes, any other node's an order-free hash
    of the ranks of the walked nodes that send it edges. Neither depends on the order of the
    other nodes nor on which receive-only nodes the graph holds, so `pknet predict` (which
    renumbers a fold's training samples and adds new ones) draws the walks CV drew."""
    n_nodes = len(walked)
    rank = (jnp.cumsum(walked) - 1).astype(jnp.uint32)
    signature = jax.ops.segment_sum(
        jnp.where(walked[senders], _mix(rank[senders] + 1), 0).astype(jnp.uint32),
        receivers,
        n_nodes,
    )  # sums wrap modulo 2^32
    return jnp.where(walked, rank, signature) * 2 + walked


class Node2vecLayer(FixedLayer):
    """Every node's node2vec embedding, fitted from the graph passed to `__call__`."""

    key_data: UInt[Array, " key"]  # the walks' and initial vectors' key (not trained)
    dimensions: int = eqx.field(static=True)
    walk_length: int = eqx.field(static=True)
    walks_per_node: int = eqx.field(static=True)
    window: int = eqx.field(static=True)
    p: float = eqx.field(static=True)
    q: float = eqx.field(static=True)
    negatives: float = eqx.field(static=True)
    epochs: int = eqx.field(static=True)
    lr: float = eqx.field(static=True)
    name: str = eqx.field(static=True)

    def __init__(
        self,
        dimensions: int,
        *,
        walk_length: int = 40,
        walks_per_node: int = 10,
        window: int = 5,
        p: float = 1.0,
        q: float = 1.0,
        negatives: float = 5.0,
        epochs: int = 200,
        lr: float = 0.05,
        name: str = "node2vec",
        key: PRNGKeyArray,
    ):
        self.key_data = jax.random.key_data(key)
        self.dimensions = dimensions
        self.walk_length = walk_length
        self.walks_per_node = walks_per_node
        self.window = window
        self.p = p
        self.q = q
        self.negatives = negatives
        self.epochs = epochs
        self.lr = lr
        self.name = name

    def __check_init__(self) -> None:
        if self.p <= 0 or self.q <= 0:
            raise ValueError(f"p and q must be positive; got p={self.p}, q={self.q}")

    @property
    def n_parameters(self) -> int:
        """Nothing is trained by the model's loss (the embedding is fitted from the graph)."""
        return 0

    def node_keys(self, ids: UInt[Array, " n_nodes"], purpose: int) -> PRNGKeyArray:
        """One key per node for `purpose` (0: walks, 1: initial vectors), from `node_ids`."""
        root = jax.random.fold_in(jax.random.wrap_key_data(self.key_data), purpose)
        return jax.vmap(lambda i: jax.random.fold_in(root, i))(ids)

    def walks(
        self,
        senders: Int[Array, " n_edges"],
        receivers: Int[Array, " n_edges"],
        weights: Float[Array, " n_edges"],
        ids: UInt[Array, " n_nodes"],
    ) -> Int[Array, "n_walks walk_length"]:
        """The walks the embedding is fitted on: walk `r` of node `v` is row
        `v * walks_per_node + r`, drawn from `fold_in(node_keys(ids, 0)[v], r)`."""
        n = len(ids)
        graph = walk_graph(senders, receivers, weights, n)
        nodes = jnp.repeat(jnp.arange(n, dtype=jnp.int32), self.walks_per_node)
        rounds = jnp.tile(jnp.arange(self.walks_per_node, dtype=jnp.int32), n)
        keys = jax.vmap(jax.random.fold_in)(self.node_keys(ids, 0)[nodes], rounds)
        return node2vec_walks(graph, keys, nodes, self.walk_length, self.p, self.q)

    def __call__(
        self,
        x: Float[Array, "n_nodes in_features"],
        senders: Int[Array, " n_edges"],
        receivers: Int[Array, " n_edges"],
        weights: Float[Array, " n_edges"],
        *,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "n_nodes dimensions"]:
        """`x` gives only the number of nodes; `key` is accepted like other layers' and unused
        (the layer's own key draws the walks)."""
        n = x.shape[0]
        walked = walked_nodes(senders, receivers, weights, n)
        weights = jnp.where(walked[senders], weights, 0.0)
        ids = node_ids(senders, receivers, walked)
        scale = 0.5 / self.dimensions  # word2vec's initial input vectors; context vectors 0
        init = jax.vmap(
            lambda k: jax.random.uniform(k, (self.dimensions,), minval=-scale, maxval=scale)
        )(self.node_keys(ids, 1))
        if senders.shape[0] == 0:  # no edges, no walks
            return init
        walks = self.walks(senders, receivers, weights, ids)
        counts = cooccurrence(walks, walked, self.window)
        vectors = (init, jnp.zeros_like(init))
        optimizer = optax.adam(self.lr)

        def step(_: int, state: tuple) -> tuple:
            vectors, opt_state = state
            grads = jax.grad(sgns_loss)(vectors, counts, walked, self.negatives)
            updates, opt_state = optimizer.update(grads, opt_state, vectors)
            return optax.apply_updates(vectors, updates), opt_state

        (u, _), _ = jax.lax.fori_loop(0, self.epochs, step, (vectors, optimizer.init(vectors)))
        return jax.lax.stop_gradient(u)


@builds(Node2vecLayerSpec)
def build_node2vec(
    spec: Node2vecLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[Node2vecLayer, int]:
    layer = Node2vecLayer(
        spec.dimensions,
        walk_length=spec.walk_length,
        walks_per_node=spec.walks_per_node,
        window=spec.window,
        p=spec.p,
        q=spec.q,
        negatives=spec.negatives,
        epochs=spec.epochs,
        lr=spec.lr,
        name=spec.name,
        key=key,
    )
    return layer, spec.dimensions
