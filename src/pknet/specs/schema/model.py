"""`model:` — the layer stack. One spec class per layer kind, joined on `kind`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from pknet.specs.schema.base import SpecModel, rule_error
from pknet.specs.schema.types import Name

RESERVED_GROUPS = ("weights", "bias")  # loss groups over every layer
Activation = Literal["sigmoid", "tanh", "relu", "gelu", "softplus", "linear"]


class LayerSpecBase(SpecModel):
    """Fields every layer kind has."""

    kind: str = Field(description="Layer kind.")
    name: Name = Field(
        description="Layer name, usable as a parameter group in the loss (default `<kind>_<n>`)."
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout rate during training.")


class KpnnLayerSpec(LayerSpecBase):
    """One neuron (or `units_per_node`) per network node, wired only along network edges.

    Output nodes give one value each; in the last layer these are the logits the loss reads.
    """

    kind: Literal["kpnn"] = Field(description="Layer kind.")
    activation: Activation = Field("sigmoid", description="Activation of hidden nodes.")
    units_per_node: int = Field(1, ge=1, le=64, description="Neurons per network node.")
    dropout_rule: Literal["kpnn", "uniform"] = Field(
        "kpnn",
        description="`kpnn`: no dropout on edges whose parent has a single child; `uniform`: all.",
    )
    input_batchnorm: bool = Field(
        False, description="Batch-normalise inputs with training-data statistics."
    )
    signed: bool = Field(
        False, description="Constrain edge weights to the network's signs (sign x softplus)."
    )
    bias: bool = Field(True, description="Give every node a bias.")


class HierarchyLayerSpec(LayerSpecBase):
    """Layered sparse connections (P-NET / BINN / DrugCell): features -> genes -> terms -> roots.

    Each measured gene (`network.inputs`) gets `units_per_gene` units fed only by its own feature
    column; each term gets `units_per_term` units fed by its annotated genes and child terms; the
    outputs are `network.outputs` (e.g. `roots`) and the tops left by `max_genes`/`max_depth`.
    Filters drop terms with their edges; genes and terms left without a path to an output are
    dropped too. In the last layer the outputs have one unit each and give logits.
    """

    kind: Literal["hierarchy"] = Field(description="Layer kind.")
    activation: Activation = Field("tanh", description="Activation of genes, terms and copies.")
    units_per_gene: int = Field(1, ge=1, le=64, description="Units per gene (the diagonal layer).")
    units_per_term: int = Field(1, ge=1, le=64, description="Units per term and per copy node.")
    min_genes: int = Field(
        1, ge=1, description="Keep terms with at least this many measured genes below them."
    )
    max_genes: int | None = Field(
        None,
        ge=1,
        description="Keep terms with at most this many measured genes below them; the top kept "
        "terms whose parents were cut become outputs.",
    )
    max_depth: int | None = Field(
        None,
        ge=1,
        description="Keep the first `max_depth` term levels above the genes; the top kept "
        "terms whose parents were cut become outputs.",
    )
    padding: Literal["copy", "none"] = Field(
        "copy",
        description="`copy`: copy nodes make every connection span one level (P-NET, BINN); "
        "`none`: connections may skip levels (DrugCell).",
    )
    bias: bool = Field(True, description="Give every gene, term and copy unit a bias.")

    @model_validator(mode="after")
    def check_gene_range(self) -> HierarchyLayerSpec:
        if self.max_genes is not None and self.max_genes < self.min_genes:
            raise rule_error(
                ("max_genes",),
                f"`max_genes` ({self.max_genes}) is below `min_genes` ({self.min_genes}), "
                "so every term would be dropped",
                f"set `max_genes` to at least {self.min_genes}, or leave it out",
            )
        return self


class DenseLayerSpec(LayerSpecBase):
    """A fully connected layer."""

    kind: Literal["dense"] = Field(description="Layer kind.")
    units: int = Field(ge=1, description="Number of output units.")
    activation: Activation = Field("relu", description="Activation.")
    bias: bool = Field(True, description="Add a bias.")


LayerSpec = Annotated[
    KpnnLayerSpec | HierarchyLayerSpec | DenseLayerSpec, Field(discriminator="kind")
]
NETWORK_LAYERS = (KpnnLayerSpec, HierarchyLayerSpec)  # wired by `network`; only first


class ModelSpec(SpecModel):
    """The layers, applied in order."""

    layers: list[LayerSpec] = Field(min_length=1, description="Layers, input side first.")

    @field_validator("layers", mode="before")
    @classmethod
    def _default_names(cls, value: Any) -> Any:
        """Name unnamed layers `<kind>_<n>`, n counting layers of that kind from 1."""
        if not isinstance(value, list):
            return value
        seen: dict[str, int] = {}
        named = []
        for layer in value:
            if isinstance(layer, dict) and isinstance(layer.get("kind"), str):
                seen[layer["kind"]] = seen.get(layer["kind"], 0) + 1
                if "name" not in layer:
                    layer = {**layer, "name": f"{layer['kind']}_{seen[layer['kind']]}"}
            named.append(layer)
        return named

    @model_validator(mode="after")
    def check_names_unique(self) -> ModelSpec:
        first: dict[str, int] = {}
        for i, layer in enumerate(self.layers):
            if layer.name in RESERVED_GROUPS:
                raise rule_error(
                    ("layers", i, "name"),
                    f"the layer name `{layer.name}` is reserved for a parameter group",
                    f"rename the layer, e.g. `{layer.kind}_{i + 1}`",
                )
            if layer.name in first:
                raise rule_error(
                    ("layers", i, "name"),
                    f"layer name `{layer.name}` is already used by layers[{first[layer.name]}]",
                    "give each layer its own `name`",
                )
            first[layer.name] = i
        return self

    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]
