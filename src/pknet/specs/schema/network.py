"""`network:` — the prior-knowledge network, node-to-feature mapping, inputs and outputs.

`network.edges` is one source or a list of sources whose edges are merged (e.g. a GO hierarchy
plus gene annotations). Each source kind is one class, joined on `kind`; `kind` defaults to
`edge_list`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from pknet.rules import rule_error
from pknet.specs.schema.base import SpecModel
from pknet.specs.schema.types import DuplicatePolicy, SelectorExpr, SpecPath

Separator = Literal["auto", ",", "\t", "whitespace"]
_SEPARATOR = Field("auto", description="Column separator; `auto` decides from the file suffix.")
UnknownTerms = Literal["error", "drop"]
_UNKNOWN_TERMS = Field(
    "error",
    description="Annotations to a term that no `obo` source of this network defines (obsolete, "
    "another namespace, another release): `error`, or `drop` those rows (counted in the compile "
    "report). Not checked without an `obo` source: a hierarchy table does not list every term.",
)


class SourceSpecBase(SpecModel):
    """Fields every network source has."""

    kind: str = Field(description="Network source kind.")
    file: SpecPath = Field(description="The network file.")


class EdgeListSpec(SourceSpecBase):
    """A CSV/TSV edge list with a header; each row is one edge."""

    kind: Literal["edge_list"] = Field(
        "edge_list", description="Network source kind (the default)."
    )
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
    separator: Separator = _SEPARATOR

    @model_validator(mode="after")
    def check_columns(self) -> EdgeListSpec:
        if self.from_ == self.to:
            raise rule_error(("to",), f"`from` and `to` name the same column `{self.to}`")
        return self


class SifSpec(SourceSpecBase):
    """Simple Interaction Format: `A relation B [C ...]` per line."""

    kind: Literal["sif"] = Field(description="Network source kind.")


class GmtSpec(SourceSpecBase):
    """Gene sets (`set<TAB>description<TAB>genes...`): edges gene -> set."""

    kind: Literal["gmt"] = Field(description="Network source kind.")


class OboSpec(SourceSpecBase):
    """An OBO ontology: edges child term -> parent term."""

    kind: Literal["obo"] = Field(description="Network source kind.")
    relations: list[str] = Field(
        default_factory=lambda: ["is_a"],
        min_length=1,
        description="Relations that make edges (`is_a`, `part_of`, `regulates`, ...).",
    )
    namespace: str | None = Field(
        None, min_length=1, description="Keep terms of this namespace only."
    )


class GafSpec(SourceSpecBase):
    """GO annotations in GAF 2.x: edges gene symbol -> GO term (`NOT` rows skipped)."""

    kind: Literal["gaf"] = Field(description="Network source kind.")
    evidence: list[str] | None = Field(
        None, min_length=1, description="Keep these evidence codes only (e.g. [IDA, IMP])."
    )
    aspect: Literal["P", "F", "C"] | None = Field(
        None, description="Keep this GO aspect only: P process, F function, C component."
    )
    unknown_terms: UnknownTerms = _UNKNOWN_TERMS


class AnnotationTableSpec(SourceSpecBase):
    """A member -> term table (e.g. gene -> GO term, UniProt -> pathway)."""

    kind: Literal["annotation_table"] = Field(description="Network source kind.")
    member: str = Field(min_length=1, description="Column of members (genes, proteins).")
    term: str = Field(min_length=1, description="Column of terms (pathways, GO terms).")
    evidence_column: str | None = Field(None, min_length=1, description="Column of evidence codes.")
    evidence: list[str] | None = Field(
        None, min_length=1, description="Keep these evidence codes only."
    )
    unknown_terms: UnknownTerms = _UNKNOWN_TERMS
    separator: Separator = _SEPARATOR


class HierarchySpec(SourceSpecBase):
    """A parent/child table (Reactome, GO.db): edges child -> parent."""

    kind: Literal["hierarchy"] = Field(description="Network source kind.")
    parent: str = Field("parent", min_length=1, description="Column of parent terms.")
    child: str = Field("child", min_length=1, description="Column of child terms.")
    relation: str | None = Field(None, min_length=1, description="Column of relation types.")
    relations: list[str] | None = Field(
        None, min_length=1, description="Keep rows with these relation values only."
    )
    separator: Separator = _SEPARATOR


class DrugCellSpec(SourceSpecBase):
    """DrugCell's ontology file (`parent child type`): term -> parent term, gene -> term."""

    kind: Literal["drugcell"] = Field(description="Network source kind.")


class ScoredLinksSpec(SourceSpecBase):
    """STRING-style undirected scored links; each kept link gives edges both ways."""

    kind: Literal["scored_links"] = Field(description="Network source kind.")
    a: str = Field("proteinA", min_length=1, description="Column of the first protein.")
    b: str = Field("proteinB", min_length=1, description="Column of the second protein.")
    score: str = Field("score", min_length=1, description="Column of link scores.")
    min_score: float | None = Field(None, description="Keep links scoring at least this.")
    weight: Literal["score", "one"] = Field(
        "score",
        description="Edge weight: the link's `score` divided by `score_max` (weights in 0-1; "
        "a diffusion walks strong links more often), or `one` for every link.",
    )
    score_max: float = Field(
        1.0,
        gt=0,
        description="The highest score the file can hold: 1 for scores in 0-1, 1000 for "
        "STRING's own files (`combined_score` 0-1000). A larger score is an error.",
    )
    strip_species_prefix: bool = Field(
        False, description="Drop a taxon prefix such as `9606.` from protein ids."
    )
    separator: Separator = _SEPARATOR


class RegulonsSpec(SourceSpecBase):
    """TF -> target regulons with a mode of regulation (DoRothEA): signed edges."""

    kind: Literal["regulons"] = Field(description="Network source kind.")
    tf: str = Field("tf", min_length=1, description="Column of transcription factors.")
    target: str = Field("target", min_length=1, description="Column of target genes.")
    mor: str = Field("mor", min_length=1, description="Column of modes of regulation (±1).")
    confidence: str = Field("confidence", min_length=1, description="Column of confidence levels.")
    levels: list[str] | None = Field(
        None, min_length=1, description="Keep these confidence levels only (e.g. [A, B, C])."
    )
    separator: Separator = _SEPARATOR


NetworkSourceSpec = Annotated[
    EdgeListSpec
    | SifSpec
    | GmtSpec
    | OboSpec
    | GafSpec
    | AnnotationTableSpec
    | HierarchySpec
    | DrugCellSpec
    | ScoredLinksSpec
    | RegulonsSpec,
    Field(discriminator="kind"),
]


class MappingTableSpec(SpecModel):
    """A two-column table that renames node names to data feature names."""

    file: SpecPath = Field(description="CSV/TSV table with a node-name and a feature-name column.")
    from_: str = Field(alias="from", min_length=1, description="Column holding node names.")
    to: str = Field(min_length=1, description="Column holding data feature names.")
    duplicates: DuplicatePolicy = Field(
        "error",
        description="A node name mapped to several feature names: stop with an `error`, keep "
        "the `first` row, or feed the node the `sum` or `mean` of those features' columns.",
    )


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


class NameTableSpec(SpecModel):
    """A table of readable node names (GO term names, Reactome pathway names)."""

    file: SpecPath = Field(description="CSV/TSV table with a node-id and a name column.")
    id: str = Field(min_length=1, description="Column holding node ids (as in the network).")
    name: str = Field(min_length=1, description="Column holding the readable names.")
    separator: Separator = _SEPARATOR

    @model_validator(mode="after")
    def check_columns(self) -> NameTableSpec:
        if self.id == self.name:
            raise rule_error(("name",), f"`id` and `name` name the same column `{self.name}`")
        return self


class NetworkSpec(SpecModel):
    """The prior-knowledge network and which of its nodes are inputs and outputs."""

    edges: list[NetworkSourceSpec] = Field(
        min_length=1,
        description="Network source(s); edges of several sources are merged.",
    )
    features: FeatureMapSpec = Field(
        default_factory=FeatureMapSpec, description="Node name -> data feature name mapping."
    )
    inputs: SelectorExpr = Field(
        "leaves & measured", description="Input nodes: a selector expression or a list of names."
    )
    outputs: SelectorExpr = Field(
        "roots", description="Output nodes: a selector expression or a list of names."
    )
    unconnected: Literal["drop", "error"] = Field(
        "drop",
        description="Inputs that reach no output (and outputs no input reaches): drop or error.",
    )
    report_names: bool = Field(
        False, description="List node and edge names (not only counts) in the compile report."
    )
    names: list[NameTableSpec] = Field(
        default_factory=list,
        description="Readable node names for importances, reports and figures: one table or a "
        "list (the first table naming an id wins); ids without a name keep the id.",
    )

    @field_validator(
        "edges",
        mode="before",
        json_schema_input_type=NetworkSourceSpec
        | Annotated[list[NetworkSourceSpec], Field(min_length=1)],
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """Accept one source or a list; a source without `kind` is an `edge_list`."""
        items = value if isinstance(value, list) else [value]
        return [
            {"kind": "edge_list", **item} if isinstance(item, dict) and "kind" not in item else item
            for item in items
        ]

    @field_validator("names", mode="before")
    @classmethod
    def _one_or_many_names(cls, value: Any) -> Any:
        """Accept one name table or a list."""
        return value if isinstance(value, list) else [value]
