"""`pknet validate`, `render`, `schema` and `compile` never import JAX (nor Ray), and a spec
error from any command is reported before the heavy libraries load.

Each command runs in a child process as `python -m pknet` would run it; at exit the child writes
the names of its loaded modules (`sys.modules`) to a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "kpnn_tcr" / "spec.yaml"
JAX = frozenset({"jax", "jaxlib", "equinox", "optax", "jaxtyping"})
RAY = frozenset({"ray", "optuna"})
HEAVY = (
    JAX | RAY | {"cvxpy", "highspy", "anndata", "h5py", "scipy", "pandas", "matplotlib", "sklearn"}
)
BAD_SPEC = """\
version: 1
name: bad
data: {expression: {file: data.csv}, target: {file: labels.csv, column: y}}
model: {layers: [{kind: dense, unitz: 3}]}
loss: bce
"""
# argv: modules-file pknet-args...
DRIVER = """
import atexit, json, runpy, sys
report = sys.argv.pop(1)
def write_modules():
    with open(report, "w") as f:
        json.dump(sorted(n for n, m in sys.modules.items() if m is not None), f)
atexit.register(write_modules)
runpy.run_module("pknet", run_name="__main__", alter_sys=True)
"""


def pknet(tmp_path: Path, *args: str | Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `pknet args` in `tmp_path`; the result and the top-level packages it loaded."""
    report = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(report), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        cwd=tmp_path,
    )
    loaded = {name.split(".")[0] for name in json.loads(report.read_text(encoding="utf-8"))}
    return result, loaded


def test_the_driver_sees_what_a_command_loads(tmp_path: Path) -> None:
    result, loaded = pknet(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.startswith("pknet ")
    assert {"pknet", "typer", "pydantic"} <= loaded


@pytest.mark.parametrize(
    "args",
    [("validate", EXAMPLE), ("render", EXAMPLE), ("schema",)],
    ids=["validate", "render", "schema"],
)
def test_spec_commands_import_no_heavy_library(args: tuple, tmp_path: Path) -> None:
    result, loaded = pknet(tmp_path, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not loaded & HEAVY


def test_compile_imports_the_solver_but_not_jax(tmp_path: Path) -> None:
    result, loaded = pknet(tmp_path, "compile", EXAMPLE, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "network" / "prune.mps").is_file()
    assert {"cvxpy", "h5py"} <= loaded  # the TCR example prunes and names .h5ad columns
    assert not loaded & (JAX | RAY | {"anndata", "matplotlib"})


@pytest.mark.parametrize("command", ["validate", "render", "compile", "run"])
def test_a_spec_error_comes_before_the_heavy_imports(command: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BAD_SPEC, encoding="utf-8")
    result, loaded = pknet(tmp_path, command, spec)
    assert result.returncode == 2
    assert "unitz" in result.stderr
    assert not loaded & HEAVY
    assert not (tmp_path / "runs").exists()


def test_checking_a_sweep_imports_neither_ray_nor_jax(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    body = "parameters: {train.optimizer.lr: [0.01, 0.1]}\nmetric: roc_auc\nmode: max\n"
    sweep.write_text(f"version: 1\nspec: {EXAMPLE}\n{body}", encoding="utf-8")
    result, loaded = pknet(tmp_path, "sweep", "--check", sweep)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not loaded & HEAVY
    sweep.write_text(f"version: 1\nspec: {EXAMPLE}\n{body.replace('roc_auc', 'auc')}")
    result, loaded = pknet(tmp_path, "sweep", sweep)  # a mistake: reported before Ray starts
    assert result.returncode == 2 and "sweep.yaml:4:9" in result.stderr
    assert not loaded & HEAVY
