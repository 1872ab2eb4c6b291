"""The GO-VAE example's PCA baseline script runs on the example's data and folds and gives the
figures its README states."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "examples" / "go_vae" / "pca_baseline.py"


@pytest.mark.slow
def test_pca_baseline_reproduces_the_readme(capsys: pytest.CaptureFixture) -> None:
    runpy.run_path(str(SCRIPT), run_name="__main__")
    printed = capsys.readouterr().out
    assert "r2   0.1725 ± 0.0064" in printed  # README: r2 0.173 ± 0.006
    assert "mse  0.8420 ± 0.0107" in printed  # README: mse 0.842 ± 0.011
