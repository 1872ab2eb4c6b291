"""JAX's persistent compilation cache: on by default in the user's cache folder, off or moved by
`PKNET_JAX_CACHE`, and never a reason for a run to fail."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from pknet.runtime import jax_cache
from pknet.runtime.jax_cache import cache_dir, enable_compilation_cache

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "matrices"
TINY = f"""\
version: 1
name: tiny
data:
  expression: {{file: {DATA / "pbmc68k_raw_40x50.csv"}}}
  target: {{file: {DATA / "pbmc68k_tcr_labels.csv"}, index: barcode, column: TCR}}
model:
  layers: [{{kind: dense, units: 1, activation: sigmoid}}]
loss: bce
train: {{optimizer: {{name: adam, lr: 0.01}}, epochs: 2, batch_size: 8}}
evaluate: {{cv: {{kind: kfold, folds: 2}}, metrics: [accuracy]}}
"""


def test_the_default_folder_is_pknet_jax_in_the_user_cache(tmp_path: Path) -> None:
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "pknet" / "jax"
    assert cache_dir({"PKNET_JAX_CACHE": "1"}) == Path.home() / ".cache" / "pknet" / "jax"
    assert cache_dir({"XDG_CACHE_HOME": "relative"}) == Path.home() / ".cache" / "pknet" / "jax"


@pytest.mark.parametrize("value", ["0", "off", "False", "no"])
def test_the_variable_turns_the_cache_off(value: str, tmp_path: Path) -> None:
    environ = {"PKNET_JAX_CACHE": value, "XDG_CACHE_HOME": str(tmp_path)}
    assert cache_dir(environ) is None
    assert enable_compilation_cache(environ) is None
    assert not list(tmp_path.iterdir())


def test_a_path_value_chooses_the_folder(tmp_path: Path) -> None:
    assert cache_dir({"PKNET_JAX_CACHE": str(tmp_path / "jit")}) == tmp_path / "jit"


def test_a_folder_that_cannot_be_made_warns_once_and_leaves_the_cache_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jax_cache, "_warned", False)
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    environ = {"PKNET_JAX_CACHE": str(blocker / "jax")}
    with pytest.warns(RuntimeWarning, match="compilation cache off: cannot use"):
        assert enable_compilation_cache(environ) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert enable_compilation_cache(environ) is None  # said once per process


def run_tiny(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(TINY, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "PKNET_JAX_CACHE"}
    return subprocess.run(
        [sys.executable, "-m", "pknet", "run", str(spec), "-q", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **environ,
            "PYTHONPATH": str(ROOT / "src"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            **env,
        },
        cwd=tmp_path,
    )


def test_a_run_fills_the_cache_in_the_user_cache_folder(tmp_path: Path) -> None:
    result = run_tiny(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert list((tmp_path / "cache" / "pknet" / "jax").iterdir())


def test_a_run_with_the_cache_off_writes_no_cache(tmp_path: Path) -> None:
    result = run_tiny(tmp_path, PKNET_JAX_CACHE="0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (tmp_path / "cache" / "pknet").exists()


def test_a_run_whose_cache_folder_is_unusable_still_runs(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("", encoding="utf-8")  # a file where the folder would go
    result = run_tiny(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("compilation cache off") == 1
    assert (tmp_path / "run" / "metrics.json").is_file()
