"""`model:` — the model kind and its layers. One spec class per layer kind, joined on `kind`.

Model kinds: `stack` (the default: layers applied in order, the last gives the outputs) and `vae`
(the layers are the encoder of a variational autoencoder with a Gaussian latent and a dense
decoder back to the input features).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from pknet.rules import check_listed_once, rule_error
from pknet.specs.schema.base import SpecModel
from pknet.specs.schema.graph import GraphSpec, NetworkGraphSpec, SampleGraphSpec
from pknet.specs.schema.types import Name

RESERVED_GROUPS = ("weights", "bias")  # loss groups over every layer
Activation = Literal["sigmoid", "tanh", "relu", "gelu", "softplus", "linear"]


def _name_optional(schema: dict[str, Any]) -> None:
    """A spec may leave `name` out: the model's layer lists fill it in (`_name_layers`)."""
    schema["required"] = [key for key in schema.get("required", ()) if key != "name"]


class LayerSpecBase(SpecModel):
    """Fields every layer kind has, and what the kind can do (class flags, not fields)."""

    model_config = ConfigDict(json_schema_extra=_name_optional)

    network_wired: ClassVar[bool] = False  # wired by `network`: reads its input nodes, first only
    explained: ClassVar[bool] = False  # gives importances per network node
    untrained: ClassVar[bool] = False  # no parameters: may come before a `ridge` head
    fitted: ClassVar[bool] = False  # fitted in closed form per fold: only before a `ridge` head
    solved_head: ClassVar[bool] = False  # solved in closed form per fold: the model's last layer
    passes_messages: ClassVar[bool] = False  # passes messages over `model.graph`

    kind: str = Field(description="Layer kind.")
    name: Name = Field(
        description="Layer name, usable as a parameter group in the loss (default `<kind>_<n>`)."
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout rate during training.")


class KpnnLayerSpec(LayerSpecBase):
    """One neuron (or `units_per_node`) per network node, wired only along network edges.

    Output nodes give one value each; in the last layer these are the logits the loss reads.
    """

    network_wired: ClassVar[bool] = True
    explained: ClassVar[bool] = True

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

    network_wired: ClassVar[bool] = True
    explained: ClassVar[bool] = True

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
    aux_heads: Annotated[float, Field(ge=0)] | list[Annotated[float, Field(ge=0)]] | None = Field(
        None,
        description="P-NET deep supervision: a linear head on every level below the top (genes "
        "first) predicts the target too, and its data term joins the loss with this weight "
        "(one number for every level, or one per level). Predictions use the model's output.",
    )

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


class GcnLayerSpec(LayerSpecBase):
    """Kipf & Welling's graph convolution over `model.graph`: each node mixes its own features
    with its neighbours' (symmetric degree normalisation, self-loops), then a linear map."""

    passes_messages: ClassVar[bool] = True

    kind: Literal["gcn"] = Field(description="Layer kind.")
    units: int = Field(ge=1, description="Output features per node.")
    activation: Activation = Field("relu", description="Activation (the last layer: none).")
    bias: bool = Field(True, description="Add a bias.")


class GatLayerSpec(LayerSpecBase):
    """Veličković et al.'s graph attention over `model.graph`: each node averages its own and
    its neighbours' transformed features with learned attention weights, per head."""

    passes_messages: ClassVar[bool] = True

    kind: Literal["gat"] = Field(description="Layer kind.")
    units: int = Field(ge=1, description="Output features per node and head.")
    heads: int = Field(1, ge=1, le=64, description="Attention heads.")
    concat: bool = Field(
        True,
        description="Concatenate the heads (`heads x units` outputs) or average them (`units`); "
        "average them in a last layer that gives the logits.",
    )
    activation: Activation = Field("relu", description="Activation (the last layer: none).")
    bias: bool = Field(True, description="Add a bias.")


def _check_no_dropout(layer: LayerSpecBase) -> None:
    if layer.dropout:
        raise rule_error(
            ("dropout",),
            f"a `{layer.kind}` layer is not trained by gradient steps, so dropout does not apply",
            "leave `dropout` out",
        )


RestartProbability = Annotated[float, Field(gt=0, lt=1)]


class DiffusionLayerSpec(LayerSpecBase):
    """Random walk with restart over the network (no trained parameters).

    The values of the input nodes (`network.inputs`, e.g. a perturbation's doses) are the
    restart distribution; the walk steps along the network's edges with probability `alpha`
    and restarts otherwise. The layer gives the walk's stationary values at the output nodes
    (`network.outputs`) for each `alpha`, alpha by alpha: `(1 - a) (I - a W)^-1 x0` with
    `W = A D^-1` the degree-normalised (weighted) adjacency. Follow it with a head, e.g. a
    `ridge` layer.
    """

    network_wired: ClassVar[bool] = True
    untrained: ClassVar[bool] = True

    kind: Literal["diffusion"] = Field(description="Layer kind.")
    alpha: list[RestartProbability] = Field(
        min_length=1,
        description="Probability of stepping on rather than restarting, strictly between 0 and "
        "1; one value or a list (the outputs of each are concatenated).",
    )
    graph: Literal["network"] = Field(
        "network", description="The graph walked on: the spec's `network`."
    )
    symmetric: bool = Field(
        True,
        description="Walk each edge both ways (an undirected prior such as a protein "
        "interaction network); `false`: only in the edge's direction.",
    )

    @field_validator(
        "alpha",
        mode="before",
        json_schema_input_type=RestartProbability
        | Annotated[list[RestartProbability], Field(min_length=1)],
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return value if isinstance(value, list) else [value]

    @model_validator(mode="after")
    def check_alphas(self) -> DiffusionLayerSpec:
        _check_no_dropout(self)
        check_listed_once(self.alpha, "alpha", "alpha")
        return self


class RidgeLayerSpec(LayerSpecBase):
    """A linear head solved exactly on each training fold (ridge regression), not by gradient.

    Minimises `sum((y - x W - b)^2) + alpha * sum(W^2)` over the fold's training samples, as
    scikit-learn's `Ridge(alpha)` does; the intercept `b` is not penalised. The layers before it
    must have no trained parameters (e.g. a `diffusion` layer, or none); the loss is `mse`.
    """

    solved_head: ClassVar[bool] = True

    kind: Literal["ridge"] = Field(description="Layer kind.")
    units: int = Field(ge=1, description="Number of outputs (one per target).")
    alpha: float = Field(1.0, gt=0, description="L2 penalty on the weights (scikit-learn's alpha).")
    bias: bool = Field(True, description="Fit an unpenalised intercept.")

    @model_validator(mode="after")
    def check_dropout(self) -> RidgeLayerSpec:
        _check_no_dropout(self)
        return self


class PcaLayerSpec(LayerSpecBase):
    """Principal components of the previous layer's outputs, fitted on each training fold.

    Centres the features on the fold's training mean and projects them on the fold's first
    `components` principal axes, as scikit-learn's `PCA(components, whiten=whiten)` does. It is
    fitted in closed form, not by gradient, so it comes before a `ridge` head (principal
    component regression), e.g. on the outputs of a `diffusion` layer.
    """

    fitted: ClassVar[bool] = True

    kind: Literal["pca"] = Field(description="Layer kind.")
    components: int = Field(ge=1, description="Number of principal components kept.")
    whiten: bool = Field(
        False, description="Scale each component to unit variance on the fold's training samples."
    )

    @model_validator(mode="after")
    def check_dropout(self) -> PcaLayerSpec:
        _check_no_dropout(self)
        return self


class Node2vecLayerSpec(LayerSpecBase):
    """Grover & Leskovec's node2vec: each sample's embedding in `model.graph` (over samples).

    Second-order biased random walks (return parameter `p`, in-out parameter `q`) start
    `walks_per_node` times from every node; skip-gram with negative sampling, trained by Adam on
    all pairs at once (`epochs` steps), embeds the nodes that co-occur within `window` steps
    close together. The layer comes first and gives `dimensions` values per sample to the
    layers after it (e.g. `dense`). A walker steps from a node to the nodes it receives edges
    from, so a held-out sample (which only receives edges) is embedded from its walks into the
    training samples, without moving their embeddings.
    """

    passes_messages: ClassVar[bool] = True

    kind: Literal["node2vec"] = Field(description="Layer kind.")
    dimensions: int = Field(64, ge=1, le=4096, description="Embedding size per node.")
    walk_length: int = Field(40, ge=2, description="Nodes per walk, the start included.")
    walks_per_node: int = Field(10, ge=1, description="Walks started from every node.")
    window: int = Field(5, ge=1, description="Skip-gram context: nodes up to this many steps away.")
    p: float = Field(1.0, gt=0, description="Return parameter: a step back weighs `1/p`.")
    q: float = Field(
        1.0,
        gt=0,
        description="In-out parameter: a step away from the previous node's neighbours weighs "
        "`1/q` (q < 1: explore outwards, q > 1: stay local).",
    )
    negatives: float = Field(
        5.0, gt=0, description="Negative samples per positive pair (in expectation)."
    )
    epochs: int = Field(200, ge=1, description="Full-batch Adam steps on the skip-gram loss.")
    lr: float = Field(0.05, gt=0, description="Adam's learning rate for the skip-gram loss.")

    @model_validator(mode="after")
    def check_walks(self) -> Node2vecLayerSpec:
        _check_no_dropout(self)
        if self.window >= self.walk_length:
            raise rule_error(
                ("window",),
                f"a window of {self.window} steps is as long as the walks ({self.walk_length} "
                "nodes), so nodes farther than the walk were asked for",
                f"set `window` below {self.walk_length}, or lengthen `walk_length`",
            )
        return self


LayerSpec = Annotated[
    KpnnLayerSpec
    | HierarchyLayerSpec
    | DenseLayerSpec
    | GcnLayerSpec
    | GatLayerSpec
    | DiffusionLayerSpec
    | PcaLayerSpec
    | RidgeLayerSpec
    | Node2vecLayerSpec,
    Field(discriminator="kind"),
]


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

    @field_validator(
        "layers",
        mode="before",
        json_schema_input_type=Annotated[list[LayerSpec], Field(min_length=1)],
    )
    @classmethod
    def _default_names(cls, value: Any) -> Any:
        return _name_layers(value)

    def named_layers(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(field path, name) of every declared layer, in model order."""
        return [(("layers", i, "name"), layer.name) for i, layer in enumerate(self.layers)]

    def built_in_layers(self) -> tuple[str, ...]:
        """Names of layers the model kind adds itself (reserved, and usable as groups)."""
        return ()

    def sample_graph(self) -> SampleGraphSpec | None:
        """The graph over samples `gcn` and `gat` layers pass messages over (None: none)."""
        return None

    def network_graph(self) -> NetworkGraphSpec | None:
        """`model.graph` when it is the spec's network (None: no such graph)."""
        return None

    def feature_graph(self) -> SampleGraphSpec | None:
        """`model.graph` when it is over the input features (None: no such graph)."""
        return None

    @model_validator(mode="after")
    def check_node2vec(self) -> ModelSpecBase:
        """A `node2vec` layer embeds the nodes of a graph over samples: it comes first (it
        reads no inputs) and layers after it map the embedding to the outputs."""
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Node2vecLayerSpec):
                continue
            if self.network_graph() is not None or self.feature_graph() is not None:
                raise rule_error(
                    ("layers", i, "kind"),
                    "a `node2vec` layer embeds the samples as nodes of a graph over samples; "
                    "over network nodes or features it is not supported",
                    "use `graph: {kind: knn, over: samples, k: 15}`",
                )
            if i > 0:
                raise rule_error(
                    ("layers", i, "kind"),
                    "a `node2vec` layer embeds the graph's nodes from the graph alone, so it must "
                    "be the first layer",
                    f"move it to `layers[0]`, before the `{self.layers[0].kind}` layer",
                )
            if i == len(self.layers) - 1:
                raise rule_error(
                    ("layers", i, "kind"),
                    "a `node2vec` layer gives embeddings, not the model's outputs",
                    "add a head after it, e.g. `{kind: dense, units: 10}`",
                )
        return self

    @model_validator(mode="after")
    def check_graph_layers(self) -> ModelSpecBase:
        """`gcn`/`gat` layers need `model.graph`, and then act on all samples at once, which a
        network layer (one sample at a time) cannot join."""
        graph_layers = [i for i, layer in enumerate(self.layers) if layer.passes_messages]
        if not graph_layers:
            return self
        first = graph_layers[0]
        kind = self.layers[first].kind
        if "graph" not in type(self).model_fields:
            raise rule_error(
                ("layers", first, "kind"),
                f"a `{kind}` layer passes messages over `model.graph`, which only a `stack` "
                "model has",
                "use `kind: stack` with `graph: {kind: knn, k: 15}`",
            )
        if self.network_graph() is not None or self.feature_graph() is not None:
            return self._check_network_graph_layers()
        if self.sample_graph() is None:
            raise rule_error(
                ("layers", first, "kind"),
                f"a `{kind}` layer passes messages over a graph, but `model.graph` is not set",
                "add e.g. `graph: {kind: knn, over: samples, k: 15}` under `model`",
            )
        for i, layer in enumerate(self.layers):
            if layer.network_wired:
                raise rule_error(
                    ("layers", i, "kind"),
                    f"a `{layer.kind}` layer reads one sample at a time, but with `model.graph` "
                    "the model reads all samples at once",
                    "use `gcn`, `gat` and `dense` layers only",
                )
        return self

    def _check_network_graph_layers(self) -> ModelSpecBase:
        """Over the network or the features, graph layers come first (they read the nodes'
        values) and only `dense` layers follow the readout."""
        kinds = [layer.passes_messages for layer in self.layers]
        readout = kinds.index(False) if False in kinds else len(kinds)
        for i, layer in enumerate(self.layers[readout:], start=readout):
            if not (isinstance(layer, DenseLayerSpec) or layer.passes_messages):
                raise rule_error(
                    ("layers", i, "kind"),
                    f"over a graph of network nodes or features, a `{layer.kind}` layer cannot "
                    "join the graph layers",
                    "use `gcn`/`gat` layers, then `dense` layers",
                )
            if layer.passes_messages:
                raise rule_error(
                    ("layers", i, "kind"),
                    f"a `{layer.kind}` layer over network nodes or features must come before "
                    "every `dense` layer (the readout pools the nodes before the first one)",
                    "put the `gcn`/`gat` layers first",
                )
        return self

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
    graph: GraphSpec | None = Field(
        None,
        description="The graph `gcn` and `gat` layers pass messages over: a graph over samples "
        "(one node per sample, built per fold from the inputs), a graph over features "
        "(`over: features`: one node per input feature, built once from all samples' inputs, "
        "one sample at a time) or `{kind: network}`, the spec's network (one node per network "
        "node, one sample at a time).",
    )

    def sample_graph(self) -> SampleGraphSpec | None:
        graph = self.graph
        return None if isinstance(graph, NetworkGraphSpec) or self.feature_graph() else graph

    def network_graph(self) -> NetworkGraphSpec | None:
        return self.graph if isinstance(self.graph, NetworkGraphSpec) else None

    def feature_graph(self) -> SampleGraphSpec | None:
        graph = self.graph
        over_features = not isinstance(graph, NetworkGraphSpec | None) and graph.over == "features"
        return graph if over_features else None

    @model_validator(mode="after")
    def check_graph_used(self) -> StackModelSpec:
        if self.graph is not None and not any(x.passes_messages for x in self.layers):
            raise rule_error(
                ("graph",),
                "`model.graph` is set, but no `gcn` or `gat` layer passes messages over it",
                "add a `gcn` or `gat` layer, or remove `graph`",
            )
        return self

    def built_in_layers(self) -> tuple[str, ...]:
        first = self.layers[0]
        return (AUX_HEADS,) if getattr(first, "aux_heads", None) is not None else ()


AUX_HEADS = "aux"  # the group of a hierarchy layer's auxiliary heads
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

    @field_validator("decoder", mode="before", json_schema_input_type=list[DenseLayerSpec])
    @classmethod
    def _default_decoder_names(cls, value: Any) -> Any:
        return _name_layers(value, prefix="decoder")

    @model_validator(mode="after")
    def check_no_aux_heads(self) -> VaeModelSpec:
        for i, layer in enumerate(self.layers):
            if getattr(layer, "aux_heads", None) is not None:
                raise rule_error(
                    ("layers", i, "aux_heads"),
                    "auxiliary heads predict the target, which a `vae` model does not",
                    "remove `aux_heads`, or use `kind: stack`",
                )
        return self

    def named_layers(self) -> list[tuple[tuple[str | int, ...], str]]:
        decoder = [(("decoder", i, "name"), layer.name) for i, layer in enumerate(self.decoder)]
        return [*super().named_layers(), *decoder]

    def built_in_layers(self) -> tuple[str, ...]:
        return (LATENT_LAYER, RECONSTRUCTION_LAYER)


TaskFeature = Literal["expression", "mor", "expression_x_mor"]


class MultitaskModelSpec(ModelSpecBase):
    """One tower of `layers` (dense) per task, stored stacked and evaluated with `vmap`.

    A task is one target column (e.g. one gene). With `task_inputs: network` the tasks are the
    network's outputs in order and task `t` reads only its parents among the network's inputs
    (e.g. a gene's TFs in a regulon), each parent giving the `task_features` (its value, the
    edge's signed weight `mor`, or their product), zero-padded to the largest fan-in. With `all`
    every task reads every input. The towers' outputs are concatenated, task by task.
    """

    kind: Literal["multitask"] = Field(description="Model kind.")
    task_inputs: Literal["network", "all"] = Field(
        "network",
        description="`network`: each task reads its parents among the network's inputs; "
        "`all`: every task reads every input feature.",
    )
    task_features: list[TaskFeature] = Field(
        default_factory=lambda: ["expression"],
        min_length=1,
        description="What each input gives a task: `expression` (its value), `mor` (the edge's "
        "signed weight, e.g. DoRothEA's mode of regulation) and `expression_x_mor`.",
    )
    groups: dict[Name, list[Name]] = Field(
        default_factory=dict,
        description="Named parameter groups of several layers for the loss, e.g. "
        "`{shared: [dense_1, dense_2]}` for `trace_norm(shared, mode=all)`.",
    )

    @model_validator(mode="after")
    def check_towers(self) -> MultitaskModelSpec:
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, DenseLayerSpec):
                raise rule_error(
                    ("layers", i, "kind"),
                    f"a multitask tower is built of `dense` layers, not `{layer.kind}`",
                    "per-task inputs come from the network through `task_inputs: network`",
                )
        if self.task_inputs == "all" and self.task_features != ["expression"]:
            raise rule_error(
                ("task_features",),
                "edge features (`mor`) need per-task inputs from the network",
                "set `task_inputs: network`, or `task_features: [expression]`",
            )
        layers = {layer.name for layer in self.layers}
        for name, members in self.groups.items():
            for j, member in enumerate(members):
                if member not in layers:
                    raise rule_error(
                        ("groups", name, j),
                        f"group `{name}` names `{member}`, which is not a layer",
                        f"layers are {', '.join(f'`{n}`' for n in sorted(layers))}",
                    )
        return self

    def built_in_layers(self) -> tuple[str, ...]:
        return tuple(self.groups)


MODEL_KIND_ERROR = "model_kind_invalid"  # reported like an unknown `kind` tag


def _model_kind(value: Any) -> str:
    """The tag of a model mapping; `stack` when `kind` is left out."""
    if value is None:
        return "none"
    if isinstance(value, dict):
        kind = value.get("kind", "stack")
        return kind if isinstance(kind, str) else "stack"
    return getattr(value, "kind", "stack")


_MODEL_KINDS = (
    Annotated[StackModelSpec, Tag("stack")]
    | Annotated[VaeModelSpec, Tag("vae")]
    | Annotated[MultitaskModelSpec, Tag("multitask")]
)
_MODEL_DISCRIMINATOR = Discriminator(
    _model_kind,
    custom_error_type=MODEL_KIND_ERROR,
    custom_error_message="unknown model kind",
    custom_error_context={"discriminator": "kind", "expected_tags": "'stack', 'vae', 'multitask'"},
)
ModelSpec = Annotated[_MODEL_KINDS, _MODEL_DISCRIMINATOR]
OptionalModelSpec = Annotated[_MODEL_KINDS | Annotated[None, Tag("none")], _MODEL_DISCRIMINATOR]
"""A model, or none (`model: null`, or left out: a spec that only prunes its network)."""
