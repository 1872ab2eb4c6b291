"""A Program: everything the runtime needs to train a spec, built once by the compiler.

The runtime gets a model factory (key -> `Model`), the compiled loss, the parameter groups and
an optimiser factory; it never reads YAML or builds a MILP.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from pknet.compiler.located import locate
from pknet.compiler.model.graph_model import SampleGraphModel
from pknet.compiler.model.graphs import Graph
from pknet.compiler.model.losses import CompiledLoss, compile_loss
from pknet.compiler.model.model import AuxOutput, Model, build_model, count_parameters
from pknet.compiler.model.multitask import MultitaskModel
from pknet.compiler.model.optimizers import build_optimizer
from pknet.compiler.model.vae import Vae, VaeOutput
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
    shapes: eqx.Module | None = None

    def init_model(self, key: jax.Array) -> Model | Vae | MultitaskModel:
        """A freshly initialised model."""
        net = self.network
        return build_model(
            self.spec.model,
            net.network if net else None,
            net.inputs if net else None,
            net.outputs if net else None,
            self.n_features,
            key=key,
            n_tasks=self.n_tasks,
            feature_graph=self.feature_graph,
        )

    def optimizer(self, steps_per_epoch: int) -> optax.GradientTransformation:
        return build_optimizer(self.spec.train, steps_per_epoch)


def output_width(model: Model | Vae, n_features: int) -> int:
    """How many values the model gives per example (a VAE: its reconstruction's width)."""
    if isinstance(model, SampleGraphModel):
        return model.output_width(n_features)
    # a lambda: JAX names a non-function callable by str(), which pretty-prints the whole model
    out = jax.eval_shape(lambda x: model(x), jnp.zeros(n_features, jnp.float32))
    if isinstance(out, VaeOutput):
        return int(out.reconstruction.shape[-1])
    return int((out.logits if isinstance(out, AuxOutput) else out).shape[-1])


def build_program(
    spec: Spec,
    network: CompiledNetwork | None,
    n_features: int,
    task: str,
    n_classes: int,
    n_targets: int = 1,
    feature_graph: Graph | None = None,
) -> Program:
    """Build a probe model to learn the output width, then check the loss against it
    (`n_targets` values per sample for a regression; `feature_graph`: the edges of a graph over
    the input features)."""
    draft = Program(
        spec, network, CompiledLoss("mse", 1.0, ()), n_features, 0, 0, n_targets, feature_graph
    )

    def probe() -> tuple[eqx.Module, int, int]:
        model = draft.init_model(jax.random.key(0))
        return model, output_width(model, n_features), count_parameters(model)

    try:
        # abstractly: building a concrete probe compiled its random draws op by op (0.3 s)
        shapes, n_outputs, n_parameters = eqx.filter_eval_shape(probe)
    except CompileError as exc:
        raise locate(spec, exc) from None
    loss = compile_loss(spec, task, n_outputs, n_classes, n_targets)
    return Program(
        spec, network, loss, n_features, n_outputs, n_parameters, n_targets, feature_graph, shapes
    )
