"""The loss DSL compiled to JAX: the weighted sum of the expression's terms.

`bce + 1e-3 * l1(bias) + 1e-2 * l2(bias)` becomes the weighted terms `1 * bce`, `1e-3 * l1(bias)`
and `1e-2 * l2(bias)`; what each term computes is `loss_terms.TERMS[name]`. Terms of the batch are
summed per example and averaged over the batch with the sample weights; terms of a parameter group
(the penalties) are added to that average.

A `kl` term's weight may rise linearly over the first epochs (`model.kl_warmup_epochs`). A model
with auxiliary heads (P-NET) adds each head's data term, times the head's weight, to its own.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from pknet.compiler.located import spec_problem
from pknet.compiler.model.loss_terms import SCORES, TERMS
from pknet.compiler.model.model import AuxOutput
from pknet.errors import CompileError
from pknet.specs import Spec
from pknet.specs.dsl import DATA_TERMS, LossExpr, linear_terms
from pknet.specs.schema.model import VaeModelSpec

TASKS_OF_TERM = {"bce": ("binary",), "ce": ("binary", "multiclass"), "mse": ("regression",)}
TERM_FOR_TASK = {"binary": "bce", "multiclass": "ce", "regression": "mse"}

GroupArrays = Callable[[object, str], Sequence[jax.Array]]


@dataclass(frozen=True)
class WeightedTerm:
    """`coefficient * name(groups, options)`; the weight rises linearly from 0 over the first
    `warmup_epochs` epochs when that is positive."""

    coefficient: float
    name: str
    groups: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    warmup_epochs: int = 0

    def weight(self, epoch: jax.Array | int | None) -> jax.Array | float:
        """The weight at 0-based `epoch` (the full coefficient when `epoch` is None)."""
        if epoch is None or self.warmup_epochs == 0:
            return self.coefficient
        return self.coefficient * jnp.minimum(1.0, epoch / self.warmup_epochs)

    def function(self) -> Callable[..., jax.Array]:
        """The term's function with its options bound."""
        return functools.partial(TERMS[self.name], **dict(self.options))


@dataclass(frozen=True)
class CompiledLoss:
    """The weighted terms of a loss expression; `total` is what training minimises. A model with
    auxiliary heads gives `AuxOutput`s (main logits, each head's logits and weight): each batch
    term then adds the heads' values."""

    terms: tuple[WeightedTerm, ...]

    @classmethod
    def from_expr(cls, expr: LossExpr, *, kl_warmup_epochs: int = 0) -> CompiledLoss:
        """The terms of `expr` in order of appearance; `kl` warms up over `kl_warmup_epochs`."""
        terms = tuple(
            WeightedTerm(c, t.name, t.groups, t.options, kl_warmup_epochs if t.name == "kl" else 0)
            for c, t in linear_terms(expr)
        )
        return cls(terms)

    @property
    def likelihood(self) -> str | None:
        """The `recon` term's likelihood; None without one."""
        return next((dict(t.options)["likelihood"] for t in self.terms if t.name == "recon"), None)

    def per_example(
        self, outputs, x: jax.Array, y: jax.Array, epoch: jax.Array | int | None = None
    ) -> jax.Array:
        """The sum of the batch terms for each example; `outputs` is the vmapped model output."""
        values = [
            term.weight(epoch) * self._values(term.function(), outputs, x, y)
            for term in self.terms
            if not term.groups
        ]
        return functools.reduce(operator.add, values)

    def _values(self, function: Callable[..., jax.Array], outputs, x, y) -> jax.Array:
        """`function` of each example, plus each auxiliary head's, times the head's weight."""
        if not isinstance(outputs, AuxOutput):
            return function(outputs, x, y)
        heads = jax.vmap(lambda logits: function(logits, x, y), in_axes=1, out_axes=1)(
            outputs.aux_logits
        )
        return function(outputs.logits, x, y) + heads @ outputs.aux_weights[0]

    def penalty(self, model: object, group_arrays: GroupArrays) -> jax.Array:
        """The sum of the terms over parameter groups."""
        total = jnp.zeros(())
        for term in self.terms:
            if term.groups:
                total += term.coefficient * term.function()(group_arrays(model, term.groups[0]))
        return total

    def total(
        self,
        model: object,
        outputs,
        x: jax.Array,
        y: jax.Array,
        weight: jax.Array,
        group_arrays: GroupArrays,
        epoch: jax.Array | int | None = None,
    ) -> jax.Array:
        """Weighted mean of the batch terms over the batch, plus penalties."""
        per_example = self.per_example(outputs, x, y, epoch)
        data = jnp.sum(weight * per_example) / jnp.maximum(jnp.sum(weight), 1.0)
        return data + self.penalty(model, group_arrays)

    def predict(self, outputs) -> jax.Array:
        """What the data term predicts (`loss_terms.SCORES`) from the model's outputs."""
        data = next(term for term in self.terms if term.name in SCORES)
        if isinstance(outputs, AuxOutput):  # explain also scores the main head alone
            outputs = outputs.logits
        return SCORES[data.name](outputs, **dict(data.options))


def compile_loss(
    spec: Spec,
    task: str,
    n_outputs: int,
    n_classes: int,
    n_targets: int = 1,
) -> CompiledLoss:
    """Check the loss against the task and outputs (`n_targets` values per sample for a
    regression; the schema checked it against the model); raise located `CompileError`s."""
    warmup = spec.model.kl_warmup_epochs if isinstance(spec.model, VaeModelSpec) else 0
    loss = CompiledLoss.from_expr(spec.loss, kl_warmup_epochs=warmup)
    widths = {"ce": n_classes, "mse": n_targets}
    _check_supervised_term(spec, loss, task, n_outputs, widths)
    return loss


def _check_supervised_term(
    spec: Spec, loss: CompiledLoss, task: str, n_outputs: int, widths: dict[str, int]
) -> None:
    """A supervised data term (the schema checked there is at most one) fits the task and the
    output width (`widths[term]`, else 1)."""
    name = next((t.name for t in loss.terms if t.name in DATA_TERMS), None)
    if name is None:  # a `vae`: its terms reconstruct the input
        return
    if task not in TASKS_OF_TERM[name]:
        raise CompileError(
            spec_problem(
                spec,
                ("loss",),
                f"`{name}` does not fit a {task} target",
                f"use `{TERM_FOR_TASK[task]}`",
            )
        )
    expected = widths.get(name, 1)
    if n_outputs != expected:
        raise CompileError(
            spec_problem(
                spec,
                ("model", "layers", len(spec.model.layers) - 1),
                f"the model gives {n_outputs} output(s) but `{name}` on this target needs "
                f"{expected}",
                "for a kpnn model select that many `network.outputs`; for dense set `units`",
            )
        )
