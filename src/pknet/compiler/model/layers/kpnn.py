"""The `kpnn` layer's wiring (Fortelny & Bock 2020): one neuron (or `units_per_node`) per node
of the given network, read from the inputs to the outputs.

`plan_kpnn` is `wiring.plan_network` on the network as given; `NetworkLayer` evaluates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from pknet.compiler.model.layers.wiring import WiringPlan, plan_network
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem


def plan_kpnn(
    network: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    units_per_node: int = 1,
    last: bool = True,
    dropout_rule: Literal["kpnn", "uniform"] = "kpnn",
    signed: bool = False,
) -> WiringPlan:
    """The plan of a `kpnn` layer over `network` (see `wiring.plan_network`).

    With `signed` the weights of edges with sign +-1 follow the sign; the network must have some.
    """
    plan = plan_network(
        network,
        inputs,
        outputs,
        units_per_node=units_per_node,
        last=last,
        dropout_rule=dropout_rule,
        signed=signed,
    )
    if signed and not np.any(network.sign):
        raise CompileError(
            Problem(
                "`signed: true` constrains edge weights to the network's signs, but the "
                "network has none (every edge's sign is 0)",
                hint="give `network.edges` a `sign` column (+1/-1), or drop `signed`",
            )
        )
    return plan
