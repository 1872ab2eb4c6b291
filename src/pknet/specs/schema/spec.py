"""The whole spec: one immutable, fully defaulted object per YAML file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from pknet.rules import rule_error
from pknet.specs.dsl import DATA_TERMS, VAE_TERMS, Measured, linear_terms, loss_groups, walk
from pknet.specs.schema.base import SpecModel
from pknet.specs.schema.data import DataSpec
from pknet.specs.schema.evaluate import (
    REGRESSION_METRICS,
    EvaluateSpec,
    ExplainMethod,
    ExplainSpec,
)
from pknet.specs.schema.model import (
    RESERVED_GROUPS,
    MultitaskModelSpec,
    OptionalModelSpec,
    VaeModelSpec,
)
from pknet.specs.schema.network import NetworkSpec
from pknet.specs.schema.prune import PruneSpec
from pknet.specs.schema.train import TrainSpec
from pknet.specs.schema.types import LossExpression, Name

if TYPE_CHECKING:
    from pknet.specs.sources import SourceMap

SUPPORTED_VERSIONS = (1,)
TRAINED_SECTIONS = ("data", "model", "loss")  # all or (but for `data`) none
RECONSTRUCTION_METRICS = REGRESSION_METRICS
VAE_EXPLAIN_METHODS = ("activation_auc", "bias")


class Spec(SpecModel):
    """A validated pknet spec. Build it with `pknet.load_spec`, not directly."""

    model_config = ConfigDict(
        json_schema_extra={
            "dependentRequired": {"model": list(TRAINED_SECTIONS), "loss": list(TRAINED_SECTIONS)}
        }
    )

    version: int = Field(
        description="Spec format version; this pknet reads version 1.",
        json_schema_extra={"enum": list(SUPPORTED_VERSIONS)},
    )
    name: Name = Field(description="Run name; used for the run directory.")
    description: str | None = Field(None, description="Free text about the experiment.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="The one seed every random stream uses.")
    data: DataSpec | None = Field(
        None, description="Samples, target and transforms (needed by `run`, not by `compile`)."
    )
    network: NetworkSpec | None = Field(None, description="The prior-knowledge network.")
    prune: PruneSpec | None = Field(
        None, description="MILP pruning of the network; leave out to keep the whole network."
    )
    model: OptionalModelSpec = Field(
        None,
        description="The model: its kind (`stack`, `vae`, `multitask`) and layers (needed by "
        "`run`; a spec without it prunes its network only).",
    )
    loss: LossExpression | None = Field(
        None,
        description="Loss expression, e.g. `bce + 1e-3 * l1(bias) + 1e-2 * l2(bias)` (needed by "
        "`run`).",
    )
    train: TrainSpec = Field(default_factory=TrainSpec, description="Optimisation settings.")
    evaluate: EvaluateSpec = Field(
        default_factory=EvaluateSpec, description="Cross-validation and metrics."
    )
    explain: ExplainSpec = Field(
        default_factory=ExplainSpec,
        description="Importances written after training (a list of methods, or a mapping).",
    )

    _sources: SourceMap | None = PrivateAttr(None)

    @field_validator(
        "explain", mode="before", json_schema_input_type=ExplainSpec | list[ExplainMethod]
    )
    @classmethod
    def _explain_list(cls, value: object) -> object:
        """Accept `explain: [bias, node_weights]` for `explain: {methods: [...]}`."""
        return {"methods": value} if isinstance(value, list) else value

    @field_validator("version")
    @classmethod
    def _supported_version(cls, value: int) -> int:
        if value not in SUPPORTED_VERSIONS:
            supported = ", ".join(map(str, SUPPORTED_VERSIONS))
            raise rule_error(
                (),
                f"unsupported spec version {value}; this pknet reads version {supported}",
                "upgrade pknet, or write the spec for a supported version",
            )
        return value

    @model_validator(mode="after")
    def check_trained_sections(self) -> Spec:
        """A spec trains a model (`data`, `model` and `loss`) or only prunes its network
        (neither `model` nor `loss`; `data` then maps nodes to columns for `measured`)."""
        if self.model is None and self.loss is None:
            return self
        for key in TRAINED_SECTIONS:
            if getattr(self, key) is None:
                given = next(k for k in ("model", "loss") if getattr(self, k) is not None)
                raise rule_error(
                    (key,),
                    f"missing required key `{key}`: a spec with a `{given}` is trained, which "
                    "needs `data`, a `model` and a `loss`",
                    f"add `{key}`, or leave out `model` and `loss` to prune the network only",
                )
        return self

    @model_validator(mode="after")
    def check_network_present(self) -> Spec:
        if self.prune is not None and self.network is None:
            raise rule_error(("prune",), "`prune` needs a `network` section to prune")
        if self.network is not None or self.model is None:
            return self
        for i, layer in enumerate(self.model.layers):
            if layer.network_wired:
                raise rule_error(
                    ("model", "layers", i, "kind"),
                    f"a `{layer.kind}` layer is wired by the network, but the spec has no "
                    "`network` section",
                    "add `network: {edges: {file: ..., from: ..., to: ...}}`",
                )
        if self.model.network_graph() is not None:
            raise rule_error(
                ("model", "graph", "kind"),
                "a `network` graph (`model.graph.kind`) passes messages over the network, but "
                "the spec has no `network` section",
                "add `network: {edges: {file: ..., from: ..., to: ...}}`",
            )
        return self

    @model_validator(mode="after")
    def check_measured_needs_data(self) -> Spec:
        """`measured` nodes are those named like a data column: without `data`, none is."""
        if self.data is not None or self.network is None:
            return self
        selectors = [(("network", "inputs"), self.network.inputs)]
        selectors.append((("network", "outputs"), self.network.outputs))
        if self.prune is not None and self.prune.required is not None:
            selectors.append((("prune", "required"), self.prune.required))
        for path, selector in selectors:
            if any(isinstance(node, Measured) for node in walk(selector)):
                raise rule_error(
                    path,
                    f"`{'.'.join(path)}: {selector}` selects `measured` nodes, those named like "
                    "a column of the data, but the spec has no `data` section",
                    f"select the nodes by the network alone, e.g. `{path[-1]}: leaves`, "
                    f"`{path[-1]}: file(nodes.txt)` or a list of names; or add `data`",
                )
        return self

    @model_validator(mode="after")
    def check_kpnn_first(self) -> Spec:
        """`kpnn` and `hierarchy` layers read the network's input nodes: first layer only."""
        for i, layer in enumerate(self.model.layers[1:] if self.model else (), start=1):
            if layer.network_wired:
                raise rule_error(
                    ("model", "layers", i, "kind"),
                    f"a `{layer.kind}` layer reads the network's input nodes, so it must be the "
                    "first layer",
                    f"move the {layer.kind} layer to `model.layers[0]`",
                )
        return self

    @model_validator(mode="after")
    def check_loss_groups(self) -> Spec:
        if self.model is None or self.loss is None:
            return self
        known = (*RESERVED_GROUPS, *self.model.layer_names())
        for group in loss_groups(self.loss):
            if group not in known:
                raise rule_error(
                    ("loss",),
                    f"unknown parameter group `{group}` in the loss",
                    f"groups are {', '.join(f'`{g}`' for g in known)}",
                )
        return self

    @model_validator(mode="after")
    def check_loss_terms(self) -> Spec:
        """The loss's terms fit the model kind: a `vae` has one `recon(...)`, at most one `kl`
        and no data term; any other model one data term and no VAE term; `trace_norm` needs a
        `multitask` model."""
        if self.model is None or self.loss is None:
            return self
        names = [term.name for _, term in linear_terms(self.loss)]
        if "trace_norm" in names and not isinstance(self.model, MultitaskModelSpec):
            raise rule_error(
                ("loss",),
                "`trace_norm` needs weights stacked across tasks, which only a `multitask` "
                "model has",
                "use `model.kind: multitask`, or an `l1`/`l2` penalty",
            )
        if isinstance(self.model, VaeModelSpec):
            supervised = sorted(set(names) & set(DATA_TERMS))
            if supervised:
                raise rule_error(
                    ("loss",),
                    f"`{supervised[0]}` compares outputs with the target, but a `vae` model "
                    "reconstructs its input",
                    "use `recon(mse|poisson|nb) + kl`; for a supervised model use `kind: stack`",
                )
            if names.count("recon") != 1:
                raise rule_error(
                    ("loss",),
                    f"a `vae` loss needs exactly one `recon(...)` term; found "
                    f"{names.count('recon')}",
                    "e.g. `loss: recon(nb) + kl`",
                )
            if names.count("kl") > 1:
                raise rule_error(
                    ("loss",), "`kl` appears more than once", "write it once, with one weight"
                )
            return self
        unsupervised = sorted(set(names) & set(VAE_TERMS))
        if unsupervised:
            raise rule_error(
                ("loss",),
                f"`{unsupervised[0]}` needs a `vae` model, which this spec does not have",
                "set `model.kind: vae`, or use a data term (bce, ce or mse)",
            )
        data = [name for name in names if name in DATA_TERMS]
        if len(data) != 1:
            raise rule_error(
                ("loss",),
                "a loss needs exactly one data term (bce, ce or mse); found "
                + (", ".join(f"`{name}`" for name in data) or "none"),
                "`bce` for a binary target, `ce` for classes, `mse` for values",
            )
        return self

    @model_validator(mode="after")
    def check_group_source(self) -> Spec:
        """Groups come from a sample table: an AnnData `obs` or the label file."""
        groups = getattr(self.evaluate.cv, "groups", None)
        data = self.data
        if groups is None or data is None or data.expression.is_h5ad or data.target.file:
            return self
        raise rule_error(
            ("evaluate", "cv", "groups"),
            f"`groups: {groups}` names a sample-table column, but this data has no sample "
            "table: the matrix is not an AnnData file and the target has no label `file`",
            "put the groups in a label file beside the target: "
            "`target: {file: labels.csv, column: ...}`",
        )

    @model_validator(mode="after")
    def check_monitor(self) -> Spec:
        stopping = self.train.early_stopping
        if stopping is None:
            return self
        field = ("train", "early_stopping", "monitor")
        split, _, quantity = stopping.monitor.partition("_")
        names = self.evaluate.metric_names
        if split == "train" and quantity != "loss":
            raise rule_error(
                field,
                f"cannot monitor `{stopping.monitor}`: metrics are scored on the validation "
                "rows each epoch, not on the training rows",
                f"monitor `val_{quantity}` or `train_loss`",
            )
        if quantity != "loss" and quantity not in names:
            allowed = ["val_loss", "train_loss", *(f"val_{m}" for m in names)]
            raise rule_error(
                field,
                f"cannot monitor `{stopping.monitor}`: `{quantity}` is not a computed metric",
                f"monitor one of {', '.join(f'`{a}`' for a in allowed)}",
            )
        if split == "val" and self.train.validation_fraction == 0:
            raise rule_error(
                field,
                f"`{stopping.monitor}` needs validation data, but `train.validation_fraction` is 0",
                "set `train.validation_fraction` (e.g. 0.1) or monitor `train_loss`",
            )
        return self

    @model_validator(mode="after")
    def check_explain_needs_network_layer(self) -> Spec:
        if self.explain.methods and self.model and not self.model.layers[0].explained:
            raise rule_error(
                ("explain",),
                "importances are computed per network node: the first layer must be `kpnn` or "
                "`hierarchy`",
                "remove `explain`, or start the model with a network layer",
            )
        return self

    @model_validator(mode="after")
    def check_vae_evaluation(self) -> Spec:
        """A VAE is scored on its reconstruction and explained through its encoder's nodes."""
        if not isinstance(self.model, VaeModelSpec):
            return self
        for i, metric in enumerate(self.evaluate.metrics):
            if not isinstance(metric, str) or metric not in RECONSTRUCTION_METRICS:
                raise rule_error(
                    ("evaluate", "metrics", i),
                    f"a `vae` model is scored on how well it reconstructs held-out inputs, "
                    f"which `{self.evaluate.metric_names[i]}` does not measure",
                    f"use metrics from {', '.join(f'`{m}`' for m in RECONSTRUCTION_METRICS)}",
                )
        stopping = self.train.early_stopping
        if stopping is not None and not stopping.monitor.endswith("_loss"):
            raise rule_error(
                ("train", "early_stopping", "monitor"),
                f"a `vae` model's early stopping watches its loss, not `{stopping.monitor}`",
                "monitor `val_loss` or `train_loss`",
            )
        for i, method in enumerate(self.explain.methods):
            if method not in VAE_EXPLAIN_METHODS:
                raise rule_error(
                    ("explain", "methods", i),
                    f"`{method}` explains a predicted score, which a `vae` model does not give",
                    f"use {' or '.join(f'`{m}`' for m in VAE_EXPLAIN_METHODS)}",
                )
        return self

    @model_validator(mode="after")
    def check_ridge_head(self) -> Spec:
        """A `ridge` head is solved in closed form: last, on untrained (or closed-form fitted)
        layers, for `mse`; a `pca` layer only comes before one."""
        if self.model is None or self.loss is None:
            return self
        layers = self.model.layers
        ridge_model = self.model.kind == "stack" and layers[-1].solved_head
        for i, layer in enumerate(layers):
            if layer.fitted and not ridge_model:
                raise rule_error(
                    ("model", "layers", i, "kind"),
                    f"a `{layer.kind}` layer is fitted in closed form on each training fold, so "
                    "it only comes before a `ridge` head",
                    "end `model.layers` with a `{kind: ridge, units: ...}` head",
                )
            if not layer.solved_head:
                continue
            field = ("model", "layers", i, "kind")
            if self.model.kind != "stack":
                raise rule_error(
                    field, f"a `ridge` head needs a `stack` model, not `{self.model.kind}`"
                )
            if i != len(layers) - 1:
                raise rule_error(
                    field,
                    "a `ridge` layer is the model's head, so it must be the last layer",
                    "move it to the end of `model.layers`",
                )
            trained = [
                j for j, before in enumerate(layers[:i]) if not (before.untrained or before.fitted)
            ]
            if trained:
                raise rule_error(
                    ("model", "layers", trained[0], "kind"),
                    f"a `ridge` head is solved exactly on fixed features, but the "
                    f"`{layers[trained[0]].kind}` layer before it has trained parameters",
                    "keep only `diffusion` and `pca` layers before it, or use a `dense` head with "
                    "`loss: mse + 1e-2 * l2(weights)`",
                )
            if [term.name for _, term in linear_terms(self.loss)] != ["mse"]:
                raise rule_error(
                    ("loss",),
                    "a `ridge` head minimises `mse` plus its own penalty, so the loss must be "
                    "`mse` alone",
                    "write `loss: mse` and set the penalty with the ridge layer's `alpha`",
                )
            if self.train.early_stopping is not None:
                raise rule_error(
                    ("train", "early_stopping"),
                    "a `ridge` head is solved exactly, without epochs to stop early",
                    "remove `train.early_stopping`",
                )
        return self

    @model_validator(mode="after")
    def check_select_measured(self) -> Spec:
        """`select_measured` keeps the features mapped to network inputs: it needs a network."""
        for i, transform in enumerate(self.data.transform if self.data else ()):
            if transform.kind == "select_measured" and self.network is None:
                raise rule_error(
                    ("data", "transform", i),
                    "`select_measured` keeps the features that map to network inputs, but the "
                    "spec has no `network` section",
                    "remove it (without a network every feature is an input)",
                )
        return self

    @model_validator(mode="after")
    def check_multi_output(self) -> Spec:
        """Several targets: regression metrics per task; `network_outputs` needs a network."""
        if self.data is None:
            return self
        target = self.data.target
        if target.features == "network_outputs" and self.network is None:
            raise rule_error(
                ("data", "target", "features"),
                "`network_outputs` names the network's output nodes, but the spec has no "
                "`network` section",
                "list the target columns, e.g. `features: [GATA3, TBX21]`",
            )
        if not target.multi_output:
            return self
        for i, metric in enumerate(self.evaluate.metrics):
            if isinstance(metric, str) and metric not in REGRESSION_METRICS:
                raise rule_error(
                    ("evaluate", "metrics", i),
                    f"several targets are scored task by task as regressions, which `{metric}` "
                    "does not measure",
                    f"use metrics from {', '.join(f'`{m}`' for m in REGRESSION_METRICS)}",
                )
        return self

    @property
    def sources(self) -> SourceMap | None:
        """Where each field was written (for error messages after validation)."""
        return self._sources
