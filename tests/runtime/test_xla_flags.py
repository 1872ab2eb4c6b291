"""XLA's deterministic-ops mode: requested through XLA_FLAGS, recorded in the manifest, and (on a
GPU) giving identical metrics run to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from pknet.runtime.xla_flags import DETERMINISTIC_OPS, deterministic_ops, with_deterministic_ops

EXAMPLE = Path(__file__).parents[2] / "examples" / "pathway_proteomics" / "spec.yaml"


def test_the_flag_is_added_and_a_users_setting_wins() -> None:
    assert with_deterministic_ops("", True) == f"{DETERMINISTIC_OPS}=true"
    added = with_deterministic_ops("--xla_cpu_use_thunk_runtime=false", False)
    assert added == f"--xla_cpu_use_thunk_runtime=false {DETERMINISTIC_OPS}=false"
    mine = f"{DETERMINISTIC_OPS}=false"
    assert with_deterministic_ops(mine, True) == mine


def test_the_last_setting_counts() -> None:
    assert deterministic_ops(f"{DETERMINISTIC_OPS}=true")
    assert deterministic_ops(DETERMINISTIC_OPS)
    assert not deterministic_ops("")
    assert not deterministic_ops(f"{DETERMINISTIC_OPS}=true {DETERMINISTIC_OPS}=false")


def _run(out: Path, *options: str, env: dict[str, str] | None = None) -> dict:
    """`pknet run` of the short example with extra command-line `options`; its manifest."""
    command = [sys.executable, "-m", "pknet", "run", str(EXAMPLE), "--out", str(out)]
    short = ["train.epochs=2", "evaluate.cv.folds=2", "explain=[]"]
    command += [part for setting in short for part in ("--set", setting)] + list(options)
    subprocess.run(command, check=True, capture_output=True, env=env)
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.slow
def test_the_manifest_records_the_mode(tmp_path: Path) -> None:
    env = {**os.environ, "XLA_FLAGS": ""}
    assert _run(tmp_path / "on", env=env)["xla"] == {"gpu_deterministic_ops": True}
    off = _run(tmp_path / "off", "--set", "train.deterministic=false", env=env)
    assert off["xla"] == {"gpu_deterministic_ops": False}


def _has_gpu() -> bool:
    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _has_gpu(), reason="needs a GPU")
def test_two_gpu_runs_give_identical_metrics(tmp_path: Path) -> None:
    env = {**os.environ, "XLA_FLAGS": ""}
    metrics = []
    for name in ("first", "second"):
        _run(tmp_path / name, "--device", "gpu", env=env)
        document = json.loads((tmp_path / name / "metrics.json").read_text())
        metrics.append([fold["metrics"] for fold in document["folds"]])
    assert metrics[0] == metrics[1]
