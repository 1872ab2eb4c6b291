"""A metric written in Python for `evaluate.metrics`: Spearman's rank correlation of one task."""

import numpy as np
from scipy.stats import spearmanr


def spearman(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
    """Rank correlation of the true and predicted values (NaN when either is constant)."""
    if np.ptp(y_true) == 0 or np.ptp(y_score) == 0:
        return float("nan")
    return float(spearmanr(y_true, y_score).statistic)
