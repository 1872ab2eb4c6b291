"""`pknet sweep --address`: a sweep joins a Ray head started apart from it on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from pknet.sweeps.cluster import LOCAL_ONLY_VARIABLE

pytestmark = pytest.mark.slow  # starts a Ray head and trains in its workers

SRC = Path(__file__).parents[2] / "src"
RAY = Path(sys.executable).with_name("ray")
SWEEP = """\
parameters:
  train.optimizer.lr: [0.01, 0.1]
search: grid
metric: accuracy
mode: max
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path: Path):
    """A Ray head on 127.0.0.1 (no dashboard), stopped with its processes after the test: it
    runs with `--block`, so ending that one process ends the head it started, and nothing else
    (`ray stop` would stop every Ray on the machine)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC), LOCAL_ONLY_VARIABLE: "0"}
    head = subprocess.Popen(
        [
            str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
            "--port", str(port), "--include-dashboard=false", "--num-cpus", "2",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        yield address
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        # `ray start` saves its address for later `ray.init()`s; `ray stop` would remove it
        saved = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if saved.is_file() and saved.read_text(encoding="utf-8").strip() == address:
            saved.unlink()


def test_a_sweep_runs_on_a_ray_cluster_at_an_address(
    ray_head: str, write_sweep, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "pknet", "sweep", str(write_sweep(SWEEP)), "--address", ray_head,
         "--out", str(out)],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(out / "trials.csv", float_precision="round_trip")
    assert sorted(table["train.optimizer.lr"]) == [0.01, 0.1]
    assert (table["status"] == "ok").all()
    assert "best" in result.stdout and (out / "best.yaml").is_file()


def test_no_cluster_at_the_address_is_a_user_error(write_sweep, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pknet", "sweep", str(write_sweep(SWEEP)), "--address",
         f"127.0.0.1:{free_port()}", "--out", str(tmp_path / "sweep")],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "--address 127.0.0.1:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "sweep").exists()
