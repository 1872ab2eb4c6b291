"""`train.optimizer` -> an optax optimiser with its learning-rate schedule."""

from __future__ import annotations

import optax

from pknet.specs.schema import TrainSpec
from pknet.specs.schema.train import AdamSpec, AdamWSpec, ScheduleSpec


def learning_rate(schedule: ScheduleSpec, lr: float, epochs: int, steps_per_epoch: int):
    """A constant or an optax schedule over steps."""
    total = max(epochs * steps_per_epoch, 1)
    end = lr * schedule.final_fraction
    if schedule.kind == "constant":
        return lr
    if schedule.kind == "cosine":
        return optax.cosine_decay_schedule(lr, decay_steps=total, alpha=schedule.final_fraction)
    if schedule.kind == "exponential":
        return optax.exponential_decay(lr, steps_per_epoch, schedule.decay_rate)
    warmup = min(schedule.warmup_epochs * steps_per_epoch, total - 1)
    return optax.warmup_cosine_decay_schedule(0.0, lr, warmup, total, end_value=end)


def build_optimizer(train: TrainSpec, steps_per_epoch: int) -> optax.GradientTransformation:
    """The optimiser of `train.optimizer`, with gradient clipping when `clip_norm` is set."""
    spec = train.optimizer
    rate = learning_rate(spec.schedule, spec.lr, train.epochs, steps_per_epoch)
    if isinstance(spec, AdamSpec):
        optimizer = optax.adam(rate)
    elif isinstance(spec, AdamWSpec):
        optimizer = optax.adamw(rate, weight_decay=spec.weight_decay)
    else:
        optimizer = optax.sgd(rate, momentum=spec.momentum or None, nesterov=spec.nesterov)
    if spec.clip_norm is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(spec.clip_norm), optimizer)
    return optimizer
