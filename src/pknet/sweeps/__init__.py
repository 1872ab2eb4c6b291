"""Sweeps: many runs of one base spec on Ray Tune (grid, random, Optuna)."""

from pknet.sweeps.run import SweepResult, run_sweep

__all__ = ["SweepResult", "run_sweep"]
