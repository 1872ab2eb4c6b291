"""`train.devices`: the members (seeds x folds) trained together, sharded across local devices.

JAX fixes its device count when it starts, so the runs on 4 devices happen in a subprocess
started with `XLA_FLAGS=--xla_force_host_platform_device_count=4` (4 CPU devices)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import pknet
from pknet.api import train_and_evaluate
from pknet.errors import PknetError

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "matrices"
TINY = f"""\
version: 1
name: tiny-devices
data:
  expression: {{file: {DATA / "pbmc68k_raw_40x50.csv"}}}
  target: {{file: {DATA / "pbmc68k_tcr_labels.csv"}, index: barcode, column: TCR}}
model:
  layers: [{{kind: dense, units: 8, activation: relu}}, {{kind: dense, units: 1}}]
loss: bce
train:
  optimizer: {{name: adam, lr: 0.01}}
  epochs: 8
  batch_size: 8
  early_stopping: {{monitor: val_loss, patience: 2}}
evaluate: {{cv: {{kind: kfold, folds: 5}}, metrics: [accuracy, roc_auc]}}
"""

RIDGE = {
    "model.layers": [{"kind": "ridge", "units": 1}],
    "loss": "mse",
    "data.target.task": "regression",
    "evaluate.metrics": ["r2", "mse"],
    "train.early_stopping": None,
}
ON_DEVICES = """
import json, sys
import jax, numpy as np
import pknet
from pknet.api import run, train_and_evaluate
from pknet.runtime.devices import MemberShards, resolve_devices

ASKED = [("auto", 1), ("auto", 3), ("auto", 9), ("all", 1)]
placed = MemberShards.over(jax.devices(), 5).place(np.arange(5))
out = {
    "shards": [np.asarray(s.data).tolist() for s in placed.addressable_shards],
    "resolved": [len(resolve_devices(s, m)) for s, m in ASKED],
    "runs": {},
    "ridge": {},
}
for n in (1, 4):
    result = run(sys.argv[1], {"train.devices": n}, out=f"{sys.argv[2]}/d{n}")
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    out["runs"][n] = {"metrics": result.metrics, "devices": manifest["devices_used"]}
    ridge_spec = pknet.load_spec(sys.argv[1], {**json.loads(sys.argv[3]), "train.devices": n})
    ridge = train_and_evaluate(ridge_spec)
    out["ridge"][n] = [s.tolist() for s in ridge.test_scores]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer dense model on 40 cells, 5 folds with early stopping on validation rows."""
    path = tmp_path_factory.mktemp("devices") / "spec.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.mark.slow
def test_five_folds_on_four_devices_give_the_metrics_of_one(tiny: Path) -> None:
    """5 members padded to 8, two per device: metrics.json identical to one device's (the
    models agree to float rounding, ~1e-7, as XLA batches 2 members unlike 5)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "PKNET_JAX_CACHE": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", ON_DEVICES, str(tiny), str(tiny.parent), json.dumps(RIDGE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    # padding repeats the last member; each device holds two consecutive members
    assert found["shards"] == [[0, 1], [2, 3], [4, 4], [4, 4]]
    assert found["resolved"] == [1, 3, 4, 4]  # auto: no more devices than members
    one, four = found["runs"]["1"], found["runs"]["4"]
    assert len(one["devices"]) == 1
    assert len(four["devices"]) == 4 and len(set(four["devices"])) == 4
    assert [f["fold"] for f in four["metrics"]["folds"]] == [0, 1, 2, 3, 4]
    assert four["metrics"] == one["metrics"]
    for a, b in zip(found["ridge"]["1"], found["ridge"]["4"], strict=True):  # the closed form
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_more_devices_than_there_are_is_a_located_error(tiny: Path) -> None:
    with pytest.raises(PknetError) as caught:
        train_and_evaluate(pknet.load_spec(tiny, {"train.devices": 64}))
    problem = caught.value.problems[0]
    assert problem.path == "train.devices"
    assert f"asks for 64 cpu devices, but JAX sees {jax.device_count()}" in problem.message
    assert problem.location is not None
