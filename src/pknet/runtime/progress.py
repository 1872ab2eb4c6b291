"""What a run reports while it works: each epoch of the models trained together, and the stages
around training (scoring, explaining, the control, writing), for progress displays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EpochReport:
    """One epoch of the models trained together: per model the training and validation loss
    (NaN without validation rows), whether it trained this epoch, and the early-stopping
    quantity (`monitor`, None without early stopping) with its values."""

    epoch: int
    train_loss: np.ndarray
    val_loss: np.ndarray
    active: np.ndarray
    monitor: str | None = None
    monitored: np.ndarray | None = None


EpochCallback = Callable[[EpochReport], None]
StageCallback = Callable[[str, int, int | None], None]
"""`(stage, done, total)`: a stage began (`done` 0) or advanced; `total` is None where the
stage has no count (the epochs of a training stage arrive through the `EpochCallback`)."""


def no_stages(stage: str, done: int, total: int | None) -> None:
    """A `StageCallback` that shows nothing."""
