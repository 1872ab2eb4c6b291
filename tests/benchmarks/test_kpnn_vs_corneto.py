"""The machine bound of `benchmarks/machine_bound.py`, and pknet's side of
`benchmarks/kpnn_vs_corneto.py` on a small generated data set (CORNETO is not installed in CI)."""

from __future__ import annotations

import math
import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
machine_bound = pytest.importorskip("machine_bound")


def test_epoch_work_counts_three_multiply_adds_per_weight_and_row() -> None:
    work = machine_bound.network_epoch_work(n_weights=10, training_rows=100, x_bytes=800.0)
    assert work.flops == 2 * 3 * 10 * 100 and work.bytes_read == 800.0
    machine = machine_bound.Machine("cpu", bandwidth=100.0, matmul_rate=1000.0)
    assert work.bound_s(machine) == 8.0  # reading (8 s) takes longer than computing (6 s)
    faster_memory = machine_bound.Machine("cpu", bandwidth=1000.0, matmul_rate=1000.0)
    assert work.bound_s(faster_memory) == 6.0


def test_matrix_bytes_dense_and_csr() -> None:
    sizes = machine_bound.matrix_bytes(n_rows=4, n_columns=5, nonzeros=3)
    assert sizes == {"dense": 80.0, "sparse": 8 * 3 + 4 * 5}


def test_measured_rates_are_finite_and_positive() -> None:
    machine = machine_bound.measure_machine(read_mb=8, matmul_n=128, repeats=2)
    for rate in (machine.bandwidth, machine.matmul_rate):
        assert math.isfinite(rate) and rate > 0
    assert machine.device.startswith("cpu")


@pytest.mark.slow
def test_pknet_side_reports_the_bound_and_the_step_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    main = runpy.run_path(str(BENCHMARKS / "kpnn_vs_corneto.py"))["main"]
    main(
        [
            "--samples=120",
            "--epochs=2",
            "--folds=2",
            "--network=full",
            "--explain=none",
            "--skip-corneto",
            "--skip-node-weights",
            "--no-control",
            "--bandwidth-mb=8",
            "--device=cpu",
            f"--workdir={tmp_path}",
        ]
    )
    printed = capsys.readouterr().out
    assert "ROC-AUC" in printed
    bound_lines = [line for line in printed.splitlines() if "measured epoch / bound" in line]
    assert len(bound_lines) == 2  # inputs read dense, and as CSR
    assert (tmp_path / "pknet_run" / "metrics.json").is_file()
    profile = runpy.run_path(str(BENCHMARKS / "kpnn_step_profile.py"))["main"]
    profile([str(tmp_path / "spec.yaml"), "--folds=2", "--batch-size=8", "--repeats=2"])
    kernel_line = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("kernels:")
    )
    per_step = int(kernel_line.rsplit("per step ", 1)[1])
    assert per_step > 0
