"""`network:` — the prior-knowledge network, node-to-feature mapping, inputs and outputs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pknet.specs.schema.base import SpecModel, rule_error
from pknet.specs.schema.types import SelectorExpr, SpecPath


class EdgeListSpec(SpecModel):
    """A CSV/TSV edge list; each row is one edge."""

    kind: Literal["edge_list"] = Field("edge_list", description="Network source kind.")
    file: SpecPath = Field(description="CSV or TSV file with one edge per row.")
    from_: str = Field(
        alias="from",
        min_length=1,
        description="Column of the node information flows from (e.g. `child` for a gene).",
    )
    to: str = Field(min_length=1, description="Column of the node information flows to.")
    sign: str | None = Field(
        None, min_length=1, description="Optional column of edge signs (+1/-1, +/-)."
    )
    weight: str | None = Field(None, min_length=1, description="Optional column of edge weights.")
    separator: Literal["auto", ",", "\t"] = Field(
        "auto", description="Column separator; `auto` uses `\\t` for .tsv/.txt and `,` otherwise."
    )

    @model_validator(mode="after")
    def check_columns(self) -> EdgeListSpec:
        if self.from_ == self.to:
            raise rule_error(("to",), f"`from` and `to` name the same column `{self.to}`")
        return self


class MappingTableSpec(SpecModel):
    """A two-column table that renames node names to data feature names."""

    file: SpecPath = Field(description="CSV/TSV table with a node-name and a feature-name column.")
    from_: str = Field(alias="from", min_length=1, description="Column holding node names.")
    to: str = Field(min_length=1, description="Column holding data feature names.")


class FeatureMapSpec(SpecModel):
    """How network node names become data feature (column) names."""

    strip_prefix: str | None = Field(None, min_length=1, description="Prefix removed from names.")
    strip_suffix: str | None = Field(
        None, min_length=1, description="Suffix removed from names (e.g. `_gene`)."
    )
    case: Literal["sensitive", "upper", "lower"] = Field(
        "sensitive", description="Compare names as written, or after upper/lower-casing both."
    )
    table: MappingTableSpec | None = Field(
        None, description="Optional renaming table applied after stripping."
    )


class NetworkSpec(SpecModel):
    """The prior-knowledge network and which of its nodes are inputs and outputs."""

    edges: EdgeListSpec = Field(description="Where the edges come from.")
    features: FeatureMapSpec = Field(
        default_factory=FeatureMapSpec, description="Node name -> data feature name mapping."
    )
    inputs: SelectorExpr = Field(
        "leaves & measured", description="Input nodes: a selector expression or a list of names."
    )
    outputs: SelectorExpr = Field(
        "roots", description="Output nodes: a selector expression or a list of names."
    )
    report_names: bool = Field(
        False, description="List node and edge names (not only counts) in the compile report."
    )
