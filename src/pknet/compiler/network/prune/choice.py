"""Which MILP formulation to emit: the one asked for, or `auto`'s pick from the presolved cycles.

Both cyclic-prior formulations are exact on any prior with non-negative costs (their module
docstrings; `tests/compiler/test_prune_bruteforce.py` checks both against enumeration), so `auto`
may choose either on speed alone:

- no cycle left after presolve (presolve keeps only nodes on input → output paths, so cycles off
  every such path do not count): `arborescence`, which needs no ordering rows;
- otherwise `ordered_arborescence`: the arborescence rows plus node-order potentials on the
  edges inside cyclic strongly connected components.

`ordered_arborescence` replaces the flow form's flow columns, conservation rows and f ≤ K·x rows
by one potential column per node and one row per edge inside cyclic components, a smaller model.
On every cyclic instance of `benchmarks/prune_formulations.py` (DoRothEA, seeded OmniPath-like
signed priors, layered priors with up to half their hidden edges reversed, a uniform random
digraph) it was the faster of the two or close behind; no cycle measure (number or size of
cyclic components, terminals, share of edges in cycles) singled out an instance where `flow` was
clearly faster, so `auto` never picks `flow`; it stays available by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pknet.compiler.network.prune.formulation import cyclic_components
from pknet.compiler.network.prune.presolve import Presolved, PruneTask
from pknet.compiler.network.prune.report import CycleStructure
from pknet.errors import CompileError, Problem

MSG_NOT_DAG = (
    "the arborescence formulation needs an acyclic prior, but after presolve it has "
    "{count} strongly connected component(s) with a cycle"
)
HINT_NOT_DAG = "use formulation 'ordered_arborescence', 'flow' or 'auto'"
REASON_ASKED = "asked for by name"
REASON_DAG = "the presolved prior is acyclic: no ordering rows are needed"
REASON_CYCLIC = (
    "the presolved prior has {components} cyclic strongly connected component(s) (largest "
    "{largest} nodes; {edges} edges inside them): arborescence rows with node-order potentials "
    "inside those components, exact and smaller than the flow form"
)


@dataclass(frozen=True)
class FormulationChoice:
    """The formulation to emit, why, and the presolved prior's cycles it was chosen from."""

    name: str
    reason: str
    cycles: CycleStructure


def cycle_structure(task: PruneTask, pre: Presolved) -> CycleStructure:
    """Count the cyclic strongly connected components of the presolved (active) prior."""
    labels, size = cyclic_components(task, pre)
    cyclic = size > 0
    active = pre.active_edges()
    src, dst = task.net.src[active], task.net.dst[active]
    inside = cyclic[src] & (labels[src] == labels[dst])
    return CycleStructure(
        components=len(np.unique(labels[cyclic])),
        largest=int(size.max(initial=0)),
        nodes=int(cyclic.sum()),
        edges=int(inside.sum()),
    )


def choose_formulation(requested: str, task: PruneTask, pre: Presolved) -> FormulationChoice:
    """Resolve `requested` (a formulation name or "auto") as in the module docstring.

    Raises `CompileError` when `arborescence` is asked for on a prior that keeps a cycle.
    """
    cycles = cycle_structure(task, pre)
    if requested == "arborescence" and cycles.components:
        raise CompileError(
            Problem(
                MSG_NOT_DAG.format(count=cycles.components),
                path="prune.formulation",
                hint=HINT_NOT_DAG,
            )
        )
    if requested != "auto":
        return FormulationChoice(requested, REASON_ASKED, cycles)
    if not cycles.components:
        return FormulationChoice("arborescence", REASON_DAG, cycles)
    reason = REASON_CYCLIC.format(
        components=cycles.components, largest=cycles.largest, edges=cycles.edges
    )
    return FormulationChoice("ordered_arborescence", reason, cycles)
