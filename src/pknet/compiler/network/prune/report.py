"""Frozen, JSON-ready records of what the pruning pipeline did."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelSize:
    """Size of one MILP: constraint rows, columns (variables) and binary columns."""

    rows: int
    cols: int
    binaries: int


@dataclass(frozen=True)
class PresolveReport:
    """Reductions made before the MILP is built."""

    self_loops: int
    duplicate_edges: int
    dropped_nodes: int
    dropped_edges: int
    forced_edges: int
    fixed_nodes: int
    rounds: int


@dataclass(frozen=True)
class CycleStructure:
    """Cyclic strongly connected components of the presolved prior: how many, the largest's
    node count, and the nodes and edges inside them all."""

    components: int
    largest: int
    nodes: int
    edges: int


@dataclass(frozen=True)
class PruneReport:
    """Formulation, solver outcome, model sizes and presolve reductions of one `prune` call.

    `formulation` is the MILP emitted, `formulation_requested` what the caller asked for (often
    "auto") and `formulation_reason` why that formulation was used, from `cycles`.

    `objective` is the best solution's objective, `best_bound` the proven lower bound and `gap`
    their relative difference (0 when optimal). `stage_seconds` times presolve, formulation,
    canonicalisation (cvxpy down to HiGHS's matrices), solve and extraction; `solve_seconds` is
    HiGHS's own run time and `seconds` the whole call. `trimmed_edges` counts solver-kept edges
    that lay on no needed path (only possible where edges cost nothing) and were dropped.
    """

    formulation: str
    formulation_requested: str
    formulation_reason: str
    cycles: CycleStructure
    objective_kind: str
    potentials: bool
    status: str
    objective: float
    best_bound: float
    gap: float
    stage_seconds: dict[str, float]
    solve_seconds: float
    seconds: float
    size_before: ModelSize
    size_after: ModelSize
    presolve: PresolveReport
    prior_acyclic: bool
    n_nodes_kept: int
    n_edges_kept: int
    trimmed_edges: int
    acyclic: bool
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Plain dict (nested dataclasses as dicts, tuples as lists) for JSON."""
        out = asdict(self)
        out["warnings"] = list(self.warnings)
        return out
