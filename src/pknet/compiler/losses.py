"""The loss DSL compiled to JAX: one data term (bce, ce or mse) plus weighted penalties.

`bce + 1e-3 * l1(bias) + 1e-2 * l2(bias)` becomes `CompiledLoss(data="bce", penalties=((1e-3,
"l1", "bias"), (1e-2, "l2", "bias")))`. Penalties follow Keras's regularisers (used by CORNETO's
KPNN): `l1(g) = Σ|w|`, `l2(g) = Σ w²` over the arrays of group `g`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

from pknet.compiler.located import spec_problem
from pknet.errors import CompileError
from pknet.specs import Spec
from pknet.specs.dsl import linear_terms

DATA_TERMS = ("bce", "ce", "mse")
PENALTIES = ("l1", "l2")
TASKS_OF_TERM = {"bce": ("binary",), "ce": ("binary", "multiclass"), "mse": ("regression",)}
TERM_FOR_TASK = {"binary": "bce", "multiclass": "ce", "regression": "mse"}
LATER_TERMS = {"kl": "a `vae` model", "trace_norm": "a `multitask` model"}

GroupArrays = Callable[[object, str], Sequence[jax.Array]]


@dataclass(frozen=True)
class CompiledLoss:
    """A data term and penalties; `total` is what training minimises."""

    data: str
    data_coefficient: float
    penalties: tuple[tuple[float, str, str], ...]

    def data_loss(self, logits: jax.Array, y: jax.Array, weight: jax.Array) -> jax.Array:
        """Weighted mean of the per-sample data term; `logits` is (batch, outputs)."""
        if self.data == "bce":
            per_sample = optax.sigmoid_binary_cross_entropy(logits[:, 0], y.astype(logits.dtype))
        elif self.data == "ce":
            per_sample = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        else:
            per_sample = jnp.mean((logits - y.reshape(len(y), -1)) ** 2, axis=-1)
        return jnp.sum(weight * per_sample) / jnp.maximum(jnp.sum(weight), 1.0)

    def penalty(self, model: object, group_arrays: GroupArrays) -> jax.Array:
        total = jnp.zeros(())
        for coefficient, kind, group in self.penalties:
            arrays = group_arrays(model, group)
            if kind == "l1":
                total += coefficient * sum(jnp.sum(jnp.abs(a)) for a in arrays)
            else:
                total += coefficient * sum(jnp.sum(a * a) for a in arrays)
        return total

    def total(
        self,
        model: object,
        logits: jax.Array,
        y: jax.Array,
        weight: jax.Array,
        group_arrays: GroupArrays,
    ) -> jax.Array:
        """Coefficient x data term + penalties."""
        data = self.data_coefficient * self.data_loss(logits, y, weight)
        return data + self.penalty(model, group_arrays)

    def predict(self, logits: jax.Array) -> jax.Array:
        """Scores from logits: P(class 1) for bce, class probabilities for ce, values for mse."""
        if self.data == "bce":
            return jax.nn.sigmoid(logits[..., 0])
        if self.data == "ce":
            return jax.nn.softmax(logits, axis=-1)
        return logits[..., 0] if logits.shape[-1] == 1 else logits


def compile_loss(spec: Spec, task: str, n_outputs: int, n_classes: int) -> CompiledLoss:
    """Check the loss against the task and model outputs; raise located `CompileError`s."""
    terms = linear_terms(spec.loss)
    problems = []

    def problem(message: str, hint: str | None = None) -> None:
        problems.append(spec_problem(spec, ("loss",), message, hint))

    data = [(c, t.name) for c, t in terms if t.name in DATA_TERMS]
    for coefficient, term in terms:
        if term.name in LATER_TERMS:
            problem(f"`{term.name}` needs {LATER_TERMS[term.name]}, which this spec does not have")
        elif coefficient <= 0:
            problem(f"the coefficient of `{term}` is {coefficient:g}; coefficients must be > 0")
    if len(data) != 1:
        found = ", ".join(f"`{name}`" for _, name in data) or "none"
        problem(
            f"a loss needs exactly one data term (bce, ce or mse); found {found}",
            f"for a {task} target use `{TERM_FOR_TASK[task]}`",
        )
    elif task not in TASKS_OF_TERM[data[0][1]]:
        problem(f"`{data[0][1]}` does not fit a {task} target", f"use `{TERM_FOR_TASK[task]}`")
    else:
        name = data[0][1]
        expected = n_classes if name == "ce" else 1
        if n_outputs != expected:
            problems.append(
                spec_problem(
                    spec,
                    ("model", "layers", len(spec.model.layers) - 1),
                    f"the model gives {n_outputs} output(s) but `{name}` on this target needs "
                    f"{expected}",
                    "for a kpnn model select that many `network.outputs`; for dense set `units`",
                )
            )
    if problems:
        raise CompileError(problems)
    coefficient, name = data[0]
    penalties = tuple((c, t.name, t.groups[0]) for c, t in terms if t.name in PENALTIES)
    return CompiledLoss(name, coefficient, penalties)
