"""Every example spec runs end to end (shortened: few epochs, 2 folds, no control); every
example sweep file validates against its base spec."""

from __future__ import annotations

from pathlib import Path

import pytest

import pknet
from pknet.specs.sweep import load_sweep

EXAMPLES = Path(__file__).parents[2] / "examples"
SWEEPS = sorted(EXAMPLES.glob("*/sweep*.yaml"))
SPECS = sorted(set(EXAMPLES.glob("*/*.yaml")) - set(SWEEPS))
SHORT = {"train.epochs": 3, "evaluate.cv.folds": 2}
SHORT_LOO = {"train.epochs": 3, "evaluate.cv": {"kind": "kfold", "folds": 2}}


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_runs(spec: Path, tmp_path: Path) -> None:
    short = SHORT_LOO if pknet.load_spec(spec).evaluate.cv.kind == "leave_one_out" else SHORT
    loaded = pknet.load_spec(spec, short)
    overrides = {**short, "explain.control": "none"} if loaded.explain.methods else short
    result = pknet.run(spec, overrides, out=tmp_path / "run")
    assert (result.run_dir / "metrics.json").is_file()
    assert all(len(fold["metrics"]) for fold in result.metrics["folds"])


@pytest.mark.parametrize("sweep", SWEEPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_sweep_validates(sweep: Path) -> None:
    loaded = load_sweep(sweep)
    assert loaded.base_file.is_file() and loaded.base.name
    assert loaded.settings.metric in loaded.base.evaluate.metrics
