"""Every example spec runs end to end (shortened: few epochs, 2 folds, no control), or compiles
when it only prunes its network; every example sweep file validates against its base spec."""

from __future__ import annotations

from pathlib import Path

import pytest

import pknet
from pknet.specs.sweep import load_sweep

EXAMPLES = Path(__file__).parents[2] / "examples"
SWEEPS = sorted(EXAMPLES.glob("*/sweep*.yaml"))
PRUNE_ONLY = EXAMPLES / "kpnn_tcr" / "prune_only.yaml"  # no model: compiled, not run
SPECS = sorted(set(EXAMPLES.glob("*/*.yaml")) - set(SWEEPS) - {PRUNE_ONLY})
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


@pytest.mark.slow
def test_the_prune_only_example_compiles_to_the_proven_optimum(tmp_path: Path) -> None:
    compiled = pknet.compile_spec(PRUNE_ONLY, out=tmp_path)
    assert compiled.pruning is not None and compiled.pruning.report.to_dict()["objective"] == 13268
    for name in ("edges.pruned.tsv", "network.sif", "network.graphml", "prune.mps"):
        assert (tmp_path / "network" / name).is_file()


@pytest.mark.parametrize("sweep", SWEEPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_sweep_validates(sweep: Path) -> None:
    loaded = load_sweep(sweep)
    assert loaded.base_file.is_file() and loaded.base.name
    assert loaded.settings.metric in loaded.base.evaluate.metrics
