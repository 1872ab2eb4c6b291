"""The progress line: what it says about an epoch."""

from __future__ import annotations

import numpy as np

from pknet.cli import epoch_line
from pknet.runtime.progress import EpochReport


def test_epoch_line_means_over_the_models_still_training() -> None:
    report = EpochReport(
        epoch=3,
        train_loss=np.array([0.5, 0.7, 9.0]),
        val_loss=np.array([0.6, np.nan, 9.0]),
        active=np.array([True, True, False]),
        monitor="val_roc_auc",
        monitored=np.array([0.8, 0.9, 0.1]),
    )
    assert epoch_line(report) == (
        "loss 0.6000, val_loss 0.6000, val_roc_auc 0.8500, 2 of 3 models training"
    )


def test_epoch_line_without_validation_rows_or_early_stopping() -> None:
    report = EpochReport(
        epoch=1,
        train_loss=np.array([0.25, 0.75]),
        val_loss=np.array([np.nan, np.nan]),
        active=np.array([True, True]),
    )
    assert epoch_line(report) == "loss 0.5000, 2 of 2 models training"
