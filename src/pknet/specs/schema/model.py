"""`model:` — the model kind and its layers. One spec class per layer kind, joined on `kind`.

Model kinds: `stack` (the default: layers applied in order, the last gives the outputs) and `vae`
(the layers are the encoder of a variational autoencoder with a Gaussian latent and a dense
decoder back to the input features).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

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


def _name_layers(value: Any, prefix: str | None = None) -> Any:
    """Name unnamed layers `<kind>_<n>` (or `<prefix>_<n>`), n counting from 1."""
    if not isinstance(value, list):
        return value
    seen: dict[str, int] = {}
    named = []
    for layer in value:
        if isinstance(layer, dict) and isinstance(layer.get("kind"), str):
            stem = prefix or layer["kind"]
            seen[stem] = seen.get(stem, 0) + 1
            if "name" not in layer:
                layer = {**layer, "name": f"{stem}_{seen[stem]}"}
        named.append(layer)
    return named


class ModelSpecBase(SpecModel):
    """Fields every model kind has: the layers, applied in order."""

    layers: list[LayerSpec] = Field(min_length=1, description="Layers, input side first.")

    @field_validator("layers", mode="before")
    @classmethod
    def _default_names(cls, value: Any) -> Any:
        return _name_layers(value)

    def named_layers(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(field path, name) of every declared layer, in model order."""
        return [(("layers", i, "name"), layer.name) for i, layer in enumerate(self.layers)]

    def built_in_layers(self) -> tuple[str, ...]:
        """Names of layers the model kind adds itself (reserved, and usable as groups)."""
        return ()

    @model_validator(mode="after")
    def check_names_unique(self) -> ModelSpecBase:
        first: dict[str, tuple[str | int, ...]] = {}
        for path, name in self.named_layers():
            if name in (*RESERVED_GROUPS, *self.built_in_layers()):
                raise rule_error(
                    path,
                    f"the layer name `{name}` is reserved for a parameter group",
                    "rename the layer",
                )
            if name in first:
                field, index = first[name][:2]
                where = f"{field}[{index}]"
                raise rule_error(
                    path,
                    f"layer name `{name}` is already used by {where}",
                    "give each layer its own `name`",
                )
            first[name] = path
        return self

    def layer_names(self) -> list[str]:
        """Every layer name usable as a parameter group in the loss."""
        return [*(name for _, name in self.named_layers()), *self.built_in_layers()]


class StackModelSpec(ModelSpecBase):
    """Layers applied in order; the last layer's outputs are what the loss reads."""

    kind: Literal["stack"] = Field("stack", description="Model kind (the default).")


LATENT_LAYER = "latent"
RECONSTRUCTION_LAYER = "reconstruction"


class VaeModelSpec(ModelSpecBase):
    """A variational autoencoder (NetworkVI style): `layers` encode, a Gaussian latent, a decoder.

    The encoder's outputs feed the `latent` layer (mean and log-variance, linear); a sample of the
    latent goes through the `decoder` layers and the `reconstruction` layer, which gives one
    value per input feature (the mean, or the log-rate for `recon(poisson)` / `recon(nb)`).
    The loss must contain `recon(...)` and `kl`; the reconstruction target is the model input.
    """

    kind: Literal["vae"] = Field(description="Model kind.")
    latent: int = Field(ge=1, le=4096, description="Size of the Gaussian latent space.")
    decoder: list[DenseLayerSpec] = Field(
        default_factory=list,
        description="Hidden decoder layers (dense), latent side first; a linear "
        "`reconstruction` layer to the input features follows them.",
    )
    kl_warmup_epochs: int = Field(
        0,
        ge=0,
        description="KL annealing: the weight of `kl` rises linearly from 0 to its coefficient "
        "over this many epochs (0: full weight from the start).",
    )

    @field_validator("decoder", mode="before")
    @classmethod
    def _default_decoder_names(cls, value: Any) -> Any:
        return _name_layers(value, prefix="decoder")

    def named_layers(self) -> list[tuple[tuple[str | int, ...], str]]:
        decoder = [(("decoder", i, "name"), layer.name) for i, layer in enumerate(self.decoder)]
        return [*super().named_layers(), *decoder]

    def built_in_layers(self) -> tuple[str, ...]:
        return (LATENT_LAYER, RECONSTRUCTION_LAYER)


MODEL_KIND_ERROR = "model_kind_invalid"  # reported like an unknown `kind` tag


def _model_kind(value: Any) -> str:
    """The tag of a model mapping; `stack` when `kind` is left out."""
    if isinstance(value, dict):
        kind = value.get("kind", "stack")
        return kind if isinstance(kind, str) else "stack"
    return getattr(value, "kind", "stack")


ModelSpec = Annotated[
    Annotated[StackModelSpec, Tag("stack")] | Annotated[VaeModelSpec, Tag("vae")],
    Discriminator(
        _model_kind,
        custom_error_type=MODEL_KIND_ERROR,
        custom_error_message="unknown model kind",
        custom_error_context={"discriminator": "kind", "expected_tags": "'stack', 'vae'"},
    ),
]
