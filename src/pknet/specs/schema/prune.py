"""`prune:` — the MILP that shrinks the prior to the smallest network that keeps it connected."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pknet.rules import rule_error
from pknet.specs.schema.base import SpecModel
from pknet.specs.schema.types import SelectorExpr, SpecPath


class SolverSpec(SpecModel):
    """MILP solver settings."""

    name: Literal["highs"] = Field("highs", description="MILP solver (HiGHS through cvxpy).")
    time_limit_s: float = Field(
        60.0,
        gt=0,
        description=(
            "Seconds for the whole pruning (presolve, building the MILP, solving); HiGHS gets "
            "what is left."
        ),
    )
    mip_rel_gap: float = Field(
        0.0, ge=0, lt=1, description="Accept a solution within this relative gap of the bound."
    )
    threads: int | None = Field(None, ge=1, description="Solver threads (default: solver's).")
    verbose: bool = Field(False, description="Print the solver log (on stderr).")


class WeightsFileSpec(SpecModel):
    """Non-negative costs from a table (e.g. to penalise hubs); unlisted edges/nodes cost 1.

    Rows name edges by `from`/`to` columns (for `min_edges`) or nodes by a `node` column
    (for `min_nodes`).
    """

    file: SpecPath = Field(description="CSV/TSV with name column(s) and a weight column.")
    on: Literal["edges", "nodes"] = Field(description="Whether rows name edges or nodes.")
    column: str = Field("weight", min_length=1, description="Column holding the weights.")


class PruneSpec(SpecModel):
    """Pruning objective and solver; leave the section out to keep the whole network."""

    objective: Literal["min_edges", "min_nodes"] = Field(
        "min_edges", description="Keep the fewest edges, or the fewest nodes."
    )
    formulation: Literal["auto", "arborescence", "ordered_arborescence", "flow"] = Field(
        "auto",
        description=(
            "MILP form. `auto` uses the Steiner arborescence when the prior is acyclic after "
            "presolve and `ordered_arborescence` (arborescence rows plus node-order rows inside "
            "cyclic components; exact on any prior, smaller and in benchmarks faster than the "
            "flow form) otherwise; the prune report says which and why. `flow` (single-commodity "
            "flow, exact on any prior) is used only when named."
        ),
    )
    required: SelectorExpr | None = Field(
        None, description="Nodes that must stay in the pruned network (besides inputs/outputs)."
    )
    weights: WeightsFileSpec | None = Field(None, description="Per-edge or per-node costs.")
    solver: SolverSpec = Field(default_factory=SolverSpec, description="Solver settings.")

    @model_validator(mode="after")
    def check_weights_match_objective(self) -> PruneSpec:
        wanted = "edges" if self.objective == "min_edges" else "nodes"
        if self.weights is not None and self.weights.on != wanted:
            raise rule_error(
                ("weights", "on"),
                f"`{self.objective}` weighs {wanted}, but the weights are on {self.weights.on}",
                f"set `on: {wanted}` or change `objective`",
            )
        return self
