"""The `trace_norm(group, mode=...)` loss term: nuclear norms of task-stacked weights.

A tensor stacks one weight per task along its leading axis, e.g. `(T, d_in, d_out)` or `(T, d)`.
Its trace norm is the nuclear norm (sum of singular values) of a matrix unfolding:

- `task`: the task axis against all the others, `reshape(T, -1)` (low rank across tasks);
- `last`: the last axis against all the others (MTLRANK's unfolding);
- `all`: the sum over the mode-k unfoldings of every axis k (a `(T, d)` tensor counts its one
  nuclear norm twice, once per axis).

The value needs singular values only. The derivative is `trace(U^T dA V)` from the thin SVD
(a custom JVP), so the gradient is `U V^T` and stays finite on zero and repeated singular values
(there it is `U V^T` for the `U`, `V` LAPACK returns: a valid subgradient). Differentiating
through `U` and `V` themselves divides by differences of singular values: NaN there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap
from jax.lax import linalg
from jaxtyping import Array, Float

TraceNormMode = Literal["task", "all", "last"]
MODES: tuple[TraceNormMode, ...] = ("task", "all", "last")
QR = linalg.SvdAlgorithm.QR


def unfold(tensor: Float[Array, "*shape"], axis: int) -> Float[Array, "rows cols"]:
    """The mode-`axis` unfolding: `axis` becomes the rows, the other axes (in order) the columns."""
    moved = jnp.moveaxis(tensor, axis, 0)
    return moved.reshape(moved.shape[0], math.prod(moved.shape[1:]))


def nuclear_norm(matrix: Float[Array, "rows cols"]) -> Float[Array, ""]:
    """Sum of the singular values of a matrix (0 for an empty one)."""
    if matrix.size == 0:
        return jnp.zeros((), matrix.dtype)
    return _nuclear_norm(matrix)


def _one_matrix_at_a_time(fn: Callable[[Array], Any]) -> Callable[[Array], Any]:
    """`fn` of one matrix, vmapped as a sequential `lax.map` instead of a batched LAPACK call.

    jaxlib spreads a batched LAPACK SVD over XLA's intra-op thread pool and waits for the
    pieces; two such calls running at once (the unfoldings of `mode=all`, with the folds
    vmapped) can each hold a pool thread the other waits for. On 2 cores that deadlocked.
    """
    wrapped = custom_vmap(fn)

    @wrapped.def_vmap
    def _rule(axis_size: int, in_batched: list[bool], matrix: Array) -> tuple[Any, Any]:
        if not in_batched[0]:
            out = wrapped(matrix)
            return out, jax.tree.map(lambda _: False, out)
        out = jax.lax.map(wrapped, matrix)
        return out, jax.tree.map(lambda _: True, out)

    return wrapped


_singular_values = _one_matrix_at_a_time(
    lambda matrix: linalg.svd(matrix, full_matrices=False, compute_uv=False, algorithm=QR)
)
_thin_svd = _one_matrix_at_a_time(
    lambda matrix: tuple(linalg.svd(matrix, full_matrices=False, algorithm=QR))
)


@jax.custom_jvp
def _nuclear_norm(matrix: Float[Array, "rows cols"]) -> Float[Array, ""]:
    return _singular_values(matrix).sum()


@_nuclear_norm.defjvp
def _nuclear_norm_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    """d||A||_* = trace(U^T dA V), from one thin SVD.

    The QR algorithm (LAPACK gesvd): the default divide-and-conquer SVD was much slower and
    more erratic on small matrices vmapped over folds (benchmarks/README.md, "Measured choices
    behind the code"); JAX's own rule for `compute_uv=False` also asks for full matrices.
    """
    (matrix,), (tangent,) = primals, tangents
    u, s, vt = _thin_svd(matrix)
    return s.sum(), jnp.sum((u.T @ tangent) * vt)


def _tensor_trace_norm(tensor: Float[Array, " tasks *rest"], mode: TraceNormMode) -> Array:
    if tensor.ndim == 0:
        raise ValueError("trace_norm needs arrays with a leading task axis; got a scalar")
    if mode == "task":
        return nuclear_norm(unfold(tensor, 0))
    if mode == "last":
        return nuclear_norm(unfold(tensor, -1))
    return _total([nuclear_norm(unfold(tensor, k)) for k in range(tensor.ndim)])


def _total(values: list[Array]) -> Array:
    """Sum without an initial value, so no dtype is imposed on it."""
    return sum(values[1:], start=values[0])


def trace_norm(
    stacked: Float[Array, " tasks *rest"] | Sequence[Float[Array, " tasks *rest"]],
    mode: TraceNormMode,
) -> Float[Array, ""]:
    """Trace norm of a task-stacked tensor under `mode`; a list of tensors sums their norms."""
    if mode not in MODES:
        raise ValueError(f"unknown trace_norm mode `{mode}`; use one of {list(MODES)}")
    tensors = list(stacked) if isinstance(stacked, Sequence) else [stacked]
    if not tensors:
        raise ValueError("trace_norm got an empty group; the group must hold at least one array")
    return _total([_tensor_trace_norm(jnp.asarray(t), mode) for t in tensors])
