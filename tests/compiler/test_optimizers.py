"""Optimisers and schedules from `train.optimizer`."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pknet.compiler.model.optimizers import build_optimizer, learning_rate
from pknet.specs.schema import TrainSpec
from pknet.specs.schema.train import ScheduleSpec


def rate_at(schedule: dict, step: int, lr: float = 0.1) -> float:
    rate = learning_rate(ScheduleSpec(**schedule), lr, epochs=10, steps_per_epoch=5)
    return float(rate(step)) if callable(rate) else rate


def test_schedules_start_and_end_where_documented() -> None:
    assert rate_at({"kind": "constant"}, 49) == 0.1
    assert rate_at({"kind": "cosine"}, 0) == pytest.approx(0.1)
    assert rate_at({"kind": "cosine", "final_fraction": 0.1}, 50) == pytest.approx(0.01)
    assert rate_at({"kind": "exponential", "decay_rate": 0.5}, 10) == pytest.approx(0.025)
    warm = {"kind": "warmup_cosine", "warmup_epochs": 2}
    assert rate_at(warm, 0) == 0.0
    assert rate_at(warm, 10) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "adam", "lr": 0.1},
        {"name": "adamw", "lr": 0.1, "weight_decay": 0.01},
        {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
        {"name": "sgd", "lr": 0.1, "clip_norm": 1.0},
    ],
)
def test_every_optimizer_minimises_a_quadratic(optimizer: dict) -> None:
    opt = build_optimizer(TrainSpec(optimizer=optimizer, epochs=200), steps_per_epoch=1)
    params = jnp.array([3.0, -2.0])
    state = opt.init(params)
    for _ in range(200):
        grads = 2 * params
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    assert np.all(np.abs(np.asarray(params)) < 0.2)
