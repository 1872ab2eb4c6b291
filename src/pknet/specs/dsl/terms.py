"""The one registry of loss terms the loss DSL knows.

Adding a term is adding one entry to `LOSS_TERMS`; the parser, its error messages and the
canonical rendering all read it from here. The compiler gives each name its meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class TermSignature:
    """What a loss term accepts.

    `groups`: how many parameter-group names it takes first, positionally (`l1(bias)`).
    `options`: keyword -> allowed values, the first value being the default. Options may also be
    given positionally after the groups, in this order (`trace_norm(shared, all)`); the canonical
    form always writes every option as `keyword=value`.
    """

    doc: str
    groups: int = 0
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def usage(self, name: str) -> str:
        """How the term is written, e.g. `trace_norm(group, mode=task|all|last)`."""
        args = ["group"] * self.groups + [f"{k}={'|'.join(v)}" for k, v in self.options.items()]
        return f"{name}({', '.join(args)})" if args else name


LOSS_TERMS: Mapping[str, TermSignature] = MappingProxyType(
    {
        "bce": TermSignature("binary cross-entropy of the output against the target"),
        "ce": TermSignature("cross-entropy of the output logits against the class target"),
        "mse": TermSignature("mean squared error of the output against the target"),
        "kl": TermSignature("KL divergence of a VAE's latent posterior from its prior"),
        "l1": TermSignature("sum of absolute values of a parameter group", groups=1),
        "l2": TermSignature("sum of squares of a parameter group", groups=1),
        "trace_norm": TermSignature(
            "tensor trace norm (sum of singular values) of a parameter group stacked across tasks",
            groups=1,
            options={"mode": ("task", "all", "last")},
        ),
        "recon": TermSignature(
            "a VAE's reconstruction loss of its input (negative log-likelihood)",
            options={"likelihood": ("mse", "poisson", "nb")},
        ),
    }
)

DATA_TERMS = ("bce", "ce", "mse")  # compare a supervised model's outputs with the target
VAE_TERMS = ("recon", "kl")  # a `vae` model's reconstruction and latent prior
