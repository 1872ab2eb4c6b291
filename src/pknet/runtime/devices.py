"""Shard the member axis (seeds x folds) of a run across local devices (`train.devices`).

A 1-D `Mesh` over the devices with one axis, `members`: the stacked models, optimiser states,
keys and per-member rows and statistics are split along it (`NamedSharding(mesh, P("members"))`)
and the data are replicated (`P()`), so the jitted, vmapped epoch runs each device's members
there (GSPMD; nothing crosses devices, as no member reads another's arrays). The member axis is
padded to a multiple of the device count with copies of the last member: they never train
(their optimiser steps are masked off) and are dropped from every result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from pknet.errors import Problem, RunError
from pknet.runtime.memory import default_device

AXIS = "members"


def resolve_devices(setting: str | int, members: int) -> list[jax.Device]:
    """The local devices of the current device's platform that `train.devices` asks for:
    `auto`, all of them but no more than `members` (so one member keeps one device); `all`,
    every one; `N`, the first N (a located error when there are fewer)."""
    chosen = default_device()
    local = jax.local_devices(backend=chosen.platform)
    available = [chosen, *(d for d in local if d != chosen)]
    if setting == "auto":
        return available[: max(min(len(available), members), 1)]
    if setting == "all":
        return available
    if int(setting) > len(available):
        raise RunError(
            Problem(
                f"`train.devices: {setting}` asks for {setting} {chosen.platform} devices, but "
                f"JAX sees {len(available)}",
                path="train.devices",
                hint=f"use at most {len(available)}, or `auto` (all of them)",
            )
        )
    return available[: int(setting)]


@dataclass(frozen=True)
class MemberShards:
    """`members` stacked models spread over a mesh of several devices, padded to `padded`."""

    mesh: Mesh
    members: int

    @classmethod
    def over(cls, devices: list[jax.Device], members: int) -> MemberShards | None:
        """The sharding of `members` over `devices`; None on one device (nothing to shard)."""
        if len(devices) < 2:
            return None
        return cls(Mesh(np.asarray(devices), (AXIS,)), members)

    @property
    def padded(self) -> int:
        """The member axis rounded up to a multiple of the device count."""
        return math.ceil(self.members / self.mesh.size) * self.mesh.size

    def place(self, tree: Any) -> Any:
        """Pad every leaf's leading (member) axis with copies of its last entry and split it
        across the devices (one jitted call: padding leaf by leaf compiled an op per leaf)."""
        extra = self.padded - self.members

        def pad(a: jax.Array) -> jax.Array:
            return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)]) if extra else a

        sharding = NamedSharding(self.mesh, P(AXIS))
        return jax.jit(lambda t: jax.tree.map(pad, t), out_shardings=sharding)(tree)

    def replicate(self, tree: Any) -> Any:
        """A copy of every leaf on every device."""
        return jax.device_put(tree, NamedSharding(self.mesh, P()))

    def pad_mask(self, mask: np.ndarray) -> np.ndarray:
        """A per-member mask with the padded members False."""
        return np.concatenate([mask, np.zeros(self.padded - self.members, dtype=mask.dtype)])

    def gather(self, tree: Any) -> Any:
        """The real members' entries of every leaf, back on the current device."""
        return jax.tree.map(lambda a: jnp.asarray(np.asarray(a)[: self.members]), tree)
