"""The fastest an epoch could run on this machine: bytes it must read and FLOPs it must do,
against a memory bandwidth and a matmul rate measured here with JAX (shared by the benchmarks).

The bound is `max(bytes / bandwidth, flops / matmul rate)`: a roofline lower bound, reached only
by a program that reads its data once at full bandwidth and computes at dense-matmul speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter

import numpy as np


@dataclass(frozen=True)
class Machine:
    """Measured rates of the default JAX device."""

    device: str
    bandwidth: float  # bytes read per second (a jitted sum over a large float32 array)
    matmul_rate: float  # float32 FLOP per second (a jitted square matmul)

    def describe(self) -> str:
        return (
            f"{self.device}: read {self.bandwidth / 1e9:.1f} GB/s, float32 matmul "
            f"{self.matmul_rate / 1e9:.1f} GFLOP/s"
        )


@dataclass(frozen=True)
class EpochWork:
    """What one epoch must do at least."""

    bytes_read: float
    flops: float

    def bound_s(self, machine: Machine) -> float:
        return max(self.bytes_read / machine.bandwidth, self.flops / machine.matmul_rate)

    def describe(self, machine: Machine) -> str:
        return (
            f"{self.bytes_read / 1e6:.1f} MB read ({self.bytes_read / machine.bandwidth:.4f} s), "
            f"{self.flops / 1e9:.2f} GFLOP ({self.flops / machine.matmul_rate:.4f} s)"
        )


def _best_of(function, argument, repeats: int) -> float:
    """The shortest of `repeats` timed calls (after one warm-up call that compiles)."""
    function(argument).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = perf_counter()
        function(argument).block_until_ready()
        best = min(best, perf_counter() - start)
    return best


def measure_machine(
    read_mb: int = 512, matmul_n: int = 2048, repeats: int = 5, platform: str = "auto"
) -> Machine:
    """Bandwidth from summing a `read_mb` MB float32 array; matmul rate from an n x n product;
    on the first device of `platform` (`auto`: JAX's default device)."""
    import jax
    import jax.numpy as jnp

    device = jax.devices()[0] if platform == "auto" else jax.devices(platform)[0]
    with jax.default_device(device):
        big = jnp.asarray(np.random.default_rng(0).random(read_mb * 2**18, np.float32))
        read_s = _best_of(jax.jit(jnp.sum), big, repeats)
        square = jnp.asarray(np.random.default_rng(1).random((matmul_n, matmul_n), np.float32))
        matmul_s = _best_of(jax.jit(lambda a: a @ a), square, repeats)
        del big
    return Machine(
        device=str(device),
        bandwidth=read_mb * 2**20 / read_s,
        matmul_rate=2.0 * matmul_n**3 / matmul_s,
    )


def network_epoch_work(
    n_weights: int, training_rows: int, x_bytes: float, *, forward_backward: int = 3
) -> EpochWork:
    """A sparse network's epoch: every weight does a multiply-add per training row in the
    forward pass and two in the backward pass (the input's and the weight's gradients), summed
    over the folds' training rows (`training_rows`); the inputs are read once (`x_bytes`)."""
    return EpochWork(bytes_read=x_bytes, flops=2.0 * forward_backward * n_weights * training_rows)


def matrix_bytes(n_rows: int, n_columns: int, nonzeros: int) -> dict[str, float]:
    """Bytes of a float32 matrix stored dense, and stored as CSR (value + int32 column per
    non-zero, int32 row pointers)."""
    return {
        "dense": 4.0 * n_rows * n_columns,
        "sparse": 8.0 * nonzeros + 4.0 * (n_rows + 1),
    }
