"""Prune a prior-knowledge network with a MILP (cvxpy, HiGHS): presolve, emit, solve, map back."""

from pknet.compiler.network.prune import _cvxpy  # noqa: F401  # first: cvxpy without JAX
from pknet.compiler.network.prune.pipeline import FormulationName, Objective, PruneResult, prune
from pknet.compiler.network.prune.report import (
    CycleStructure,
    ModelSize,
    PresolveReport,
    PruneReport,
)
from pknet.compiler.network.prune.solve import write_mps

__all__ = [
    "CycleStructure",
    "FormulationName",
    "ModelSize",
    "Objective",
    "PresolveReport",
    "PruneReport",
    "PruneResult",
    "prune",
    "write_mps",
]
