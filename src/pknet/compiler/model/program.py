"""A Program: everything the runtime needs to train a spec, built once by the compiler.

The runtime gets a model factory (key -> an `AbstractModel`), the model kind (`model_kind`: how
it trains, whether it embeds), the compiled loss and an optimiser factory; it never reads YAML or
builds a MILP.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import optax

from pknet.compiler.located import locate
from pknet.compiler.model.base import AbstractModel
from pknet.compiler.model.graphs import Graph
from pknet.compiler.model.layers.registry import Wiring
from pknet.compiler.model.losses import CompiledLoss, compile_loss
from pknet.compiler.model.model import build_model
from pknet.compiler.model.optimizers import build_optimizer
from pknet.compiler.model.size_fields import size_field
from pknet.compiler.network.compile_network import CompiledNetwork
from pknet.errors import CompileError
from pknet.specs import Spec


@dataclass(frozen=True)
class Program:
    """A compiled spec: model factory, loss and optimiser over a fixed network and data shape."""

    spec: Spec
    network: CompiledNetwork | None
    loss: CompiledLoss
    n_features: int
    n_outputs: int
    n_parameters: int
    n_tasks: int = 1  # target columns: the towers of a `multitask` model
    # a graph over the input features (`model.graph.over: features`), built by the runtime
    feature_graph: Graph | None = None
    # the model built abstractly: its arrays are `jax.ShapeDtypeStruct`s, never allocated
    shapes: AbstractModel | None = None
    # what a network-wired layer reads; `network`'s unless given (a stored run's network)
    wiring: Wiring | None = None

    def __post_init__(self) -> None:
        if self.wiring is None and self.network is not None:
            net = self.network
            object.__setattr__(self, "wiring", Wiring(net.network, net.inputs, net.outputs))

    def init_model(self, key: jax.Array) -> AbstractModel:
        """A freshly initialised model."""
        wiring = self.wiring
        return build_model(
            self.spec.model,
            wiring.network if wiring else None,
            wiring.inputs if wiring else None,
            wiring.outputs if wiring else None,
            self.n_features,
            key=key,
            n_tasks=self.n_tasks,
            feature_graph=self.feature_graph,
        )

    @property
    def model_kind(self) -> type[AbstractModel]:
        """The class `init_model` builds: how it trains (`trainer`), whether it `embeds`."""
        return type(self.shapes)

    def size_field(self, part: str) -> str:
        """The path of the spec field that sets the size of a model part (a layer's name, or
        `data` for the data matrix)."""
        return size_field(self.spec, part)

    def optimizer(self, steps_per_epoch: int) -> optax.GradientTransformation:
        return build_optimizer(self.spec.train, steps_per_epoch)


def build_program(
    spec: Spec,
    network: CompiledNetwork | None,
    n_features: int,
    task: str,
    n_classes: int,
    n_targets: int = 1,
    feature_graph: Graph | None = None,
    *,
    wiring: Wiring | None = None,
) -> Program:
    """Build a probe model to learn the output width, then check the loss against it
    (`n_targets` values per sample for a regression; `feature_graph`: the edges of a graph over
    the input features; `wiring`: a stored network to build on instead of `network`'s)."""
    draft = Program(
        spec, network, CompiledLoss(()), n_features, 0, 0, n_targets, feature_graph, None, wiring
    )

    def probe() -> tuple[AbstractModel, int, int]:
        model = draft.init_model(jax.random.key(0))
        return model, model.output_width(n_features), model.n_parameters

    try:
        # abstractly: a concrete probe would compile its random draws op by op
        shapes, n_outputs, n_parameters = eqx.filter_eval_shape(probe)
    except CompileError as exc:
        raise locate(spec, exc) from None
    loss = compile_loss(spec, task, n_outputs, n_classes, n_targets)
    return Program(
        spec,
        network,
        loss,
        n_features,
        n_outputs,
        n_parameters,
        n_targets,
        feature_graph,
        shapes,
        draft.wiring,
    )
