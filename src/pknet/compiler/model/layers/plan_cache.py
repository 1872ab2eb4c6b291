"""Wiring plans kept per network, so that a program plans each network-wired layer once.

A program builds its model several times from the same network (the abstract probe, then every
fold's initial model); the plan does not depend on the key, and planning a GO-sized hierarchy is
costly (benchmarks/README.md, "Hierarchy models at GO scale"). Plans are kept while their
`Network` object lives.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable

import numpy as np

from pknet.compiler.model.layers.wiring import WiringPlan
from pknet.compiler.network.network import Network

_PLANS: weakref.WeakKeyDictionary[Network, dict[Hashable, WiringPlan]] = weakref.WeakKeyDictionary()


def cached_plan(
    network: Network,
    inputs: np.ndarray | list[int] | tuple[int, ...],
    outputs: np.ndarray | list[int] | tuple[int, ...],
    options: Hashable,
    build: Callable[[], WiringPlan],
) -> WiringPlan:
    """`build()`, or the plan it gave for the same network object, nodes and `options`."""
    key = (
        np.asarray(inputs, dtype=np.int64).tobytes(),
        np.asarray(outputs, dtype=np.int64).tobytes(),
        options,
    )
    plans = _PLANS.setdefault(network, {})
    if key not in plans:
        plans[key] = build()
    return plans[key]
