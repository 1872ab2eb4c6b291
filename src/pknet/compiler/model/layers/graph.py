"""The `gcn` and `gat` layers: sparse message passing over a graph given as edge index arrays.

A layer maps node features `x` of shape `(n_nodes, in_features)` to `(n_nodes, out_features)`
along a graph passed to `__call__` as three `(n_edges,)` arrays: edge `e` carries a message from
`senders[e]` to `receivers[e]` with weight `weights[e]` (the convention of
`pknet.compiler.model.graphs`: `A[receiver, sender] = weight`). Because the graph is an
argument, folds can pass different graphs padded to one edge count: a padding edge has weight 0
(any in-range indices) and contributes nothing. Messages are summed with
`jax.ops.segment_sum`; no node x node matrix is formed.

Both layers add a self-loop to every node. Weights must be non-negative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pknet.compiler.model.layers.activations import ACTIVATIONS, check_activation_and_dropout
from pknet.compiler.model.layers.dropout import inverted_dropout
from pknet.compiler.model.layers.registry import Wiring, builds, output_activation
from pknet.specs.schema.model import GatLayerSpec, GcnLayerSpec

LEAKY_RELU_SLOPE = 0.2


def _glorot(key: PRNGKeyArray, shape: tuple[int, ...], fan_in: int, fan_out: int) -> Array:
    limit = math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return jax.random.uniform(key, shape, minval=-limit, maxval=limit)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _gat_parameters(
    key: PRNGKeyArray, in_features: int, out_features: int, heads: int
) -> tuple[Array, Array, Array]:
    """Glorot-uniform weight and attention vectors (per head), drawn in one compiled call."""
    w_key, r_key, s_key = jax.random.split(key, 3)
    return (
        _glorot(w_key, (in_features, heads * out_features), in_features, out_features),
        _glorot(r_key, (heads, out_features), out_features, 1),
        _glorot(s_key, (heads, out_features), out_features, 1),
    )


def gcn_propagate(
    h: Float[Array, "n_nodes features"],
    senders: Int[Array, " n_edges"],
    receivers: Int[Array, " n_edges"],
    weights: Float[Array, " n_edges"],
) -> Float[Array, "n_nodes features"]:
    """`D^-1/2 (A + I) D^-1/2 h` with `D` the row sums of `A + I` (weighted in-degree plus 1).

    For a symmetric graph this is Kipf & Welling's normalisation; for a directed one it is
    PyTorch Geometric's `gcn_norm` (both ends scaled by their in-degree).
    """
    n = h.shape[0]
    weights = weights.astype(h.dtype)
    degree = 1.0 + jax.ops.segment_sum(weights, receivers, num_segments=n)
    scale = jax.lax.rsqrt(degree)
    edge = scale[senders] * weights * scale[receivers]
    messages = jax.ops.segment_sum(edge[:, None] * h[senders], receivers, num_segments=n)
    return messages + (scale**2)[:, None] * h


class GcnLayer(eqx.Module):
    """Kipf & Welling's graph convolution: `act(D^-1/2 (A + I) D^-1/2 dropout(x) W + b)`.

    Dropout (inverted) applies to the input features, and only when a `key` is given.
    Init: Glorot-uniform `weight`, bias 0.
    """

    weight: Float[Array, "in_features out_features"]
    bias: Float[Array, " out_features"] | None
    activation: str = eqx.field(static=True)
    dropout: float = eqx.field(static=True)
    name: str = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: str = "relu",
        bias: bool = True,
        dropout: float = 0.0,
        name: str = "gcn",
        key: PRNGKeyArray,
    ):
        self.weight = _glorot(key, (in_features, out_features), in_features, out_features)
        self.bias = jnp.asarray(np.zeros(out_features, self.weight.dtype)) if bias else None
        self.activation = activation
        self.dropout = dropout
        self.name = name

    def __check_init__(self) -> None:
        check_activation_and_dropout(self.activation, self.dropout)

    @property
    def in_features(self) -> int:
        return self.weight.shape[-2]

    @property
    def out_features(self) -> int:
        return self.weight.shape[-1]

    @property
    def n_parameters(self) -> int:
        """Trainable scalars: `in_features * out_features` weights plus `out_features` biases."""
        return self.weight.size + (0 if self.bias is None else self.bias.size)

    def __call__(
        self,
        x: Float[Array, "n_nodes in_features"],
        senders: Int[Array, " n_edges"],
        receivers: Int[Array, " n_edges"],
        weights: Float[Array, " n_edges"],
        *,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "n_nodes out_features"]:
        return self.on(x, lambda h: gcn_propagate(h, senders, receivers, weights), key=key)

    def on(
        self,
        x: Float[Array, "n_nodes in_features"],
        propagate: Callable[[Array], Array],
        *,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "n_nodes out_features"]:
        """The layer with the normalised propagation given as `propagate` (e.g. a fixed graph's
        `GcnOperator`); `x` may carry examples on an axis between the nodes and the features. It
        propagates the narrower of `x` and `x W`: both give `A_hat x W`."""
        x = inverted_dropout(jnp.asarray(x, self.weight.dtype), self.dropout, key)
        if self.in_features < self.out_features:
            z = propagate(x) @ self.weight
        else:
            z = propagate(x @ self.weight)
        if self.bias is not None:
            z = z + self.bias.reshape(*(1,) * (z.ndim - 1), -1)
        return ACTIVATIONS[self.activation](z)


class GatLayer(eqx.Module):
    """Veličković et al.'s graph attention with `heads` heads.

    Per head, `h = x W`; edge `j -> i` (and each node's self-loop) gets the logit
    `LeakyReLU_0.2(a_receiver . h_i + a_sender . h_j)`, softmax-normalised over the edges into
    `i`; node `i` outputs `sum_j alpha_ij h_j`. The heads are concatenated (`concat`) or averaged,
    then bias and activation apply. Edge weights only mark edges as present (non-zero) or padding
    (zero); the graph's own self-loops are ignored (every node has one already).

    Dropout (inverted) applies to the input features, and only when a `key` is given.
    Init: Glorot-uniform `weight` and attention vectors (per head), bias 0.
    """

    weight: Float[Array, "in_features heads_x_out"]
    attention_receiver: Float[Array, "heads out_features"]
    attention_sender: Float[Array, "heads out_features"]
    bias: Float[Array, " n_out"] | None
    heads: int = eqx.field(static=True)
    concat: bool = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    dropout: float = eqx.field(static=True)
    name: str = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        heads: int = 1,
        concat: bool = True,
        activation: str = "relu",
        bias: bool = True,
        dropout: float = 0.0,
        name: str = "gat",
        key: PRNGKeyArray,
    ):
        if heads < 1:
            raise ValueError(f"a gat layer needs at least one head; got heads={heads}")
        self.weight, self.attention_receiver, self.attention_sender = _gat_parameters(
            key, in_features, out_features, heads
        )
        n_out = heads * out_features if concat else out_features
        self.bias = jnp.asarray(np.zeros(n_out, self.weight.dtype)) if bias else None
        self.heads = heads
        self.concat = concat
        self.activation = activation
        self.dropout = dropout
        self.name = name

    def __check_init__(self) -> None:
        check_activation_and_dropout(self.activation, self.dropout)

    @property
    def in_features(self) -> int:
        return self.weight.shape[-2]

    @property
    def out_features(self) -> int:
        """Features per head."""
        return self.attention_sender.shape[-1]

    @property
    def n_out(self) -> int:
        """Output features per node: `heads * out_features` when concatenating, else
        `out_features`."""
        return self.heads * self.out_features if self.concat else self.out_features

    @property
    def n_parameters(self) -> int:
        """Trainable scalars: weight, both attention vectors and the bias."""
        sizes = (self.weight, self.attention_receiver, self.attention_sender, self.bias)
        return sum(a.size for a in sizes if a is not None)

    def __call__(
        self,
        x: Float[Array, "n_nodes in_features"],
        senders: Int[Array, " n_edges"],
        receivers: Int[Array, " n_edges"],
        weights: Float[Array, " n_edges"],
        *,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "n_nodes n_out"]:
        x = inverted_dropout(jnp.asarray(x, self.weight.dtype), self.dropout, key)
        n = x.shape[0]
        h = (x @ self.weight).reshape(n, self.heads, self.out_features)
        loops = jnp.arange(n, dtype=senders.dtype)
        src = jnp.concatenate([senders, loops])
        dst = jnp.concatenate([receivers, loops])
        present = jnp.concatenate([(weights != 0) & (senders != receivers), jnp.ones(n, bool)])

        score_receiver = jnp.einsum("nhf,hf->nh", h, self.attention_receiver)
        score_sender = jnp.einsum("nhf,hf->nh", h, self.attention_sender)
        logits = jax.nn.leaky_relu(score_receiver[dst] + score_sender[src], LEAKY_RELU_SLOPE)
        logits = jnp.where(present[:, None], logits, -jnp.inf)
        # The softmax is shift-invariant: the per-node max only keeps exp() in range. Every node
        # has its self-loop, so the max is finite and exp(-inf - max) = 0 for padding.
        top = jax.lax.stop_gradient(jax.ops.segment_max(logits, dst, num_segments=n))
        unnormalised = jnp.exp(logits - top[dst])
        alpha = unnormalised / jax.ops.segment_sum(unnormalised, dst, num_segments=n)[dst]
        z = jax.ops.segment_sum(alpha[:, :, None] * h[src], dst, num_segments=n)
        z = z.reshape(n, self.heads * self.out_features) if self.concat else z.mean(axis=1)
        if self.bias is not None:
            z = z + self.bias[None, :]
        return ACTIVATIONS[self.activation](z)


@builds(GcnLayerSpec)
def build_gcn(
    spec: GcnLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[GcnLayer, int]:
    layer = GcnLayer(
        width,
        spec.units,
        activation=output_activation(spec.activation, last),
        bias=spec.bias,
        dropout=spec.dropout,
        name=spec.name,
        key=key,
    )
    return layer, spec.units


@builds(GatLayerSpec)
def build_gat(
    spec: GatLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[GatLayer, int]:
    layer = GatLayer(
        width,
        spec.units,
        heads=spec.heads,
        concat=spec.concat,
        activation=output_activation(spec.activation, last),
        bias=spec.bias,
        dropout=spec.dropout,
        name=spec.name,
        key=key,
    )
    return layer, layer.n_out
