"""`pknet compile` from the command line: outputs, exit codes, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pknet.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "spec.yaml"
PKNET = Path(sys.executable).with_name("pknet")
runner = CliRunner()


def test_compile_all_leaves_reports_the_proven_optimum(tmp_path: Path) -> None:
    args = ["compile", str(EXAMPLE), "--set", "network.inputs=leaves", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "optimal, objective 13268" in result.output
    report = json.loads((tmp_path / "network" / "report.json").read_text())
    assert report["prune"]["status"] == "optimal"
    assert report["prune"]["objective"] == 13268
    header = (tmp_path / "network" / "edges.pruned.tsv").read_text().splitlines()[0]
    assert header.split("\t")[:2] == ["from", "to"]


@pytest.mark.slow
def test_compile_error_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["compile", str(EXAMPLE), "--set", "network.outputs=name(NOPE)", "--out", str(out)]
    result = subprocess.run([str(PKNET), *args], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "--set network.outputs=name(NOPE): network.outputs:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_pruned_edges_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    outputs = []
    for seed in ("0", "12345"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [str(PKNET), "compile", str(EXAMPLE), "--out", str(out)],
            env=env,
            check=True,
            capture_output=True,
        )
        assert b"HiGHS" not in result.stdout  # nor its banner, printed on the first solve
        outputs.append((out / "network" / "edges.pruned.tsv").read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.slow
def test_time_limit_spent_before_a_solution_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    limit = "prune.solver.time_limit_s=0.000001"
    args = ["compile", str(EXAMPLE), "--set", limit, "--out", str(out)]
    result = subprocess.run([str(PKNET), *args], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert f"--set {limit}: prune.solver.time_limit_s: pruning ran out of its 1e-06 s" in (
        result.stderr
    )
    assert "hint: raise `prune.solver.time_limit_s`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
