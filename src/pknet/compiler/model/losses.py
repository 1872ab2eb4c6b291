"""The loss DSL compiled to JAX: one data term plus weighted penalties.

`bce + 1e-3 * l1(bias) + 1e-2 * l2(bias)` becomes `CompiledLoss(data="bce", penalties=((1e-3,
"l1", "bias"), (1e-2, "l2", "bias")))`. Penalties follow Keras's regularisers (used by CORNETO's
KPNN): `l1(g) = Σ|w|`, `l2(g) = Σ w²` over the arrays of group `g`. `trace_norm(g, mode=m)` (a
`multitask` model) sums the nuclear norms of the group's task-stacked arrays; its penalty kind is
written `trace_norm:m`.

A `vae` model's data term is `recon(likelihood)` plus `kl`, both per example and averaged over the
batch; the KL weight may rise linearly over the first epochs (`model.kl_warmup_epochs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

from pknet.compiler.located import spec_problem
from pknet.compiler.model.model import AuxOutput
from pknet.compiler.model.trace_norm import trace_norm
from pknet.compiler.model.vae import kl_divergence, reconstruction_mean, reconstruction_nll
from pknet.errors import CompileError
from pknet.specs import Spec
from pknet.specs.dsl import DATA_TERMS, linear_terms
from pknet.specs.schema import VaeModelSpec

PENALTIES = ("l1", "l2", "trace_norm")
TASKS_OF_TERM = {"bce": ("binary",), "ce": ("binary", "multiclass"), "mse": ("regression",)}
TERM_FOR_TASK = {"binary": "bce", "multiclass": "ce", "regression": "mse"}

GroupArrays = Callable[[object, str], Sequence[jax.Array]]


@dataclass(frozen=True)
class CompiledLoss:
    """A data term and penalties; `total` is what training minimises.

    `data` is `bce`, `ce`, `mse` (on the model's outputs against the target) or `recon` (a VAE:
    `likelihood` of the input, plus `kl_coefficient` x KL).
    """

    data: str
    data_coefficient: float
    penalties: tuple[tuple[float, str, str], ...]
    likelihood: str | None = None
    kl_coefficient: float = 0.0
    kl_warmup_epochs: int = 0

    def kl_weight(self, epoch: jax.Array | int | None) -> jax.Array | float:
        """The KL coefficient at 0-based `epoch` (full weight when `epoch` is None)."""
        if epoch is None or self.kl_warmup_epochs == 0:
            return self.kl_coefficient
        return self.kl_coefficient * jnp.minimum(1.0, epoch / self.kl_warmup_epochs)

    def per_example(
        self, outputs, x: jax.Array, y: jax.Array, epoch: jax.Array | int | None = None
    ) -> jax.Array:
        """The data term of each example in the batch; `outputs` is the vmapped model output."""
        if self.data == "recon":
            nll = reconstruction_nll(self.likelihood, x, outputs)
            kl = kl_divergence(outputs.mean, outputs.logvar)
            return self.data_coefficient * nll + self.kl_weight(epoch) * kl
        if isinstance(outputs, AuxOutput):  # P-NET: each head's term, weighted, joins the main one
            heads = jax.vmap(self._supervised, in_axes=(1, None), out_axes=1)(outputs.aux_logits, y)
            total = self._supervised(outputs.logits, y) + heads @ outputs.aux_weights[0]
            return self.data_coefficient * total
        return self.data_coefficient * self._supervised(outputs, y)

    def _supervised(self, logits: jax.Array, y: jax.Array) -> jax.Array:
        """bce, ce or mse of each example's `logits` (batch, outputs) against `y`."""
        if self.data == "bce":
            return optax.sigmoid_binary_cross_entropy(logits[:, 0], y.astype(logits.dtype))
        if self.data == "ce":
            return optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return jnp.mean((logits - y.reshape(len(y), -1)) ** 2, axis=-1)

    def penalty(self, model: object, group_arrays: GroupArrays) -> jax.Array:
        total = jnp.zeros(())
        for coefficient, kind, group in self.penalties:
            arrays = group_arrays(model, group)
            name, _, mode = kind.partition(":")
            if name == "l1":
                total += coefficient * sum(jnp.sum(jnp.abs(a)) for a in arrays)
            elif name == "l2":
                total += coefficient * sum(jnp.sum(a * a) for a in arrays)
            else:
                total += coefficient * trace_norm(arrays, mode)
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
        """Weighted mean of the data term over the batch, plus penalties."""
        per_example = self.per_example(outputs, x, y, epoch)
        data = jnp.sum(weight * per_example) / jnp.maximum(jnp.sum(weight), 1.0)
        return data + self.penalty(model, group_arrays)

    def predict(self, outputs) -> jax.Array:
        """Scores: P(class 1) for bce, class probabilities for ce, values for mse, the expected
        reconstruction for a VAE."""
        if self.data == "recon":
            return reconstruction_mean(self.likelihood, outputs)
        if isinstance(outputs, AuxOutput):
            outputs = outputs.logits
        if self.data == "bce":
            return jax.nn.sigmoid(outputs[..., 0])
        if self.data == "ce":
            return jax.nn.softmax(outputs, axis=-1)
        return outputs[..., 0] if outputs.shape[-1] == 1 else outputs


def compile_loss(
    spec: Spec, task: str, n_outputs: int, n_classes: int, n_targets: int = 1
) -> CompiledLoss:
    """Check the loss against the task and outputs (`n_targets` values per sample for a
    regression; the schema checked it against the model); raise located `CompileError`s."""
    terms = linear_terms(spec.loss)
    if not isinstance(spec.model, VaeModelSpec):
        widths = {"ce": n_classes, "mse": n_targets}
        _check_supervised_terms(spec, terms, task, n_outputs, widths)
    penalties = tuple(
        (c, ":".join([t.name, *(v for _, v in t.options)]), t.groups[0])
        for c, t in terms
        if t.name in PENALTIES
    )
    if isinstance(spec.model, VaeModelSpec):
        (coefficient, recon), *_ = [(c, t) for c, t in terms if t.name == "recon"]
        kl = sum(c for c, t in terms if t.name == "kl")
        likelihood = dict(recon.options)["likelihood"]
        return CompiledLoss(
            "recon", coefficient, penalties, likelihood, kl, spec.model.kl_warmup_epochs
        )
    coefficient, name = next((c, t.name) for c, t in terms if t.name in DATA_TERMS)
    return CompiledLoss(name, coefficient, penalties)


def _check_supervised_terms(
    spec: Spec, terms, task: str, n_outputs: int, widths: dict[str, int]
) -> None:
    """A supervised model's data term (the schema checked there is one) fits the task and the
    output width (`widths[term]`, else 1)."""
    name = next(t.name for _, t in terms if t.name in DATA_TERMS)
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
