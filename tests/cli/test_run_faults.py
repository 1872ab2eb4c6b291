"""Killed, interrupted and concurrent `pknet run`s: `--out` is absent, the earlier complete run
or a complete new run, never partial, and no file a user wrote is lost.

Each fault is injected into a real `pknet` process at a named point (a training epoch, the
writing of the report, the commit after the marker) by a driver that wraps one pknet function
and then calls the ordinary command-line entry point.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pknet.errors import OutputError
from pknet.io.output_folder import OutputKind, require_complete

pytestmark = pytest.mark.slow  # end-to-end runs

DATA = Path(__file__).parents[2] / "tests" / "data" / "matrices"
RUN = OutputKind(kind="run", marker="run.json")
SPEC = f"""\
version: 1
name: tiny
data:
  expression: {{file: {DATA / "pbmc68k_raw_40x50.csv"}}}
  target: {{file: {DATA / "pbmc68k_tcr_labels.csv"}, index: barcode, column: TCR}}
  transform: [log1p]
model:
  layers: [{{kind: dense, units: 1, activation: sigmoid}}]
loss: bce
train: {{optimizer: {{name: adam, lr: 0.01}}, epochs: 4, batch_size: 8}}
evaluate: {{cv: {{kind: kfold, folds: 2}}, metrics: [accuracy]}}
"""

# argv: point signal pknet-args...  A point is `module:function:call`: the signal is sent on
# that call of the function (the epoch loop and the commit both call raise_if_interrupted).
DRIVER = """
import importlib, os, signal, sys
from pknet.cli import main
module, name, call = sys.argv[1].split(":")
signum, calls = getattr(signal, sys.argv[2]), []
target = importlib.import_module(module)
original = getattr(target, name)
def faulty(*args, **kwargs):
    calls.append(1)
    if len(calls) == int(call):
        os.kill(os.getpid(), signum)
    return original(*args, **kwargs)
setattr(target, name, faulty)
sys.argv = ["pknet", *sys.argv[3:]]
main()
"""

EPOCH = "pknet.interrupts:raise_if_interrupted:3"  # the third epoch
WRITING = "pknet.runtime.artifacts:write_report:1"  # most files written, report.md not yet
COMMIT = "pknet.interrupts:raise_if_interrupted:5"  # marker written, not yet in place


def pknet(tmp_path: Path, *args: str, fault: tuple[str, str] | None = None):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    prefix = [sys.executable, "-c", DRIVER, *fault] if fault else [sys.executable, "-m", "pknet"]
    command = [*prefix, "run", str(spec), "-q", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A parent folder with a user's files beside where the runs go."""
    runs = tmp_path / "runs"
    (runs / "thesis").mkdir(parents=True)
    (runs / "thesis" / "chapter1.tex").write_text("years of work")
    (runs / "notes.md").write_text("keep me")
    return runs


def user_files_intact(runs: Path) -> None:
    assert (runs / "thesis" / "chapter1.tex").read_text() == "years of work"
    assert (runs / "notes.md").read_text() == "keep me"


@pytest.mark.parametrize(
    "point, sig, code",
    [
        pytest.param(EPOCH, "SIGINT", 130, id="sigint-training"),
        pytest.param(WRITING, "SIGTERM", 143, id="sigterm-writing", marks=pytest.mark.slow),
        pytest.param(COMMIT, "SIGINT", 130, id="sigint-commit", marks=pytest.mark.slow),
    ],
)
def test_an_interrupted_run_leaves_nothing(workspace: Path, point: str, sig: str, code: int):
    out = workspace / "out"
    done = pknet(workspace.parent, "--out", str(out), fault=(point, sig))
    assert done.returncode == code, done.stderr
    assert "interrupted: no output was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in workspace.iterdir()) == ["notes.md", "thesis"]
    user_files_intact(workspace)


@pytest.mark.parametrize(
    "point",
    [
        pytest.param(EPOCH, id="training", marks=pytest.mark.slow),
        pytest.param(WRITING, id="writing", marks=pytest.mark.slow),
        pytest.param(COMMIT, id="commit"),
    ],
)
def test_a_killed_overwrite_keeps_the_earlier_run_and_the_next_run_cleans_up(
    workspace: Path, point: str
) -> None:
    out = workspace / "out"
    assert pknet(workspace.parent, "--out", str(out)).returncode == 0
    earlier = snapshot(out)
    killed = pknet(workspace.parent, "--out", str(out), "--overwrite", fault=(point, "SIGKILL"))
    assert killed.returncode == -signal.SIGKILL
    assert snapshot(out) == earlier  # the earlier complete run, untouched
    leftovers = [p for p in workspace.iterdir() if p.name.startswith(".")]
    assert leftovers  # the killed process's staging folder and lock file
    for folder in (p for p in leftovers if p.is_dir()):
        with pytest.raises(OutputError):
            require_complete(folder, RUN)  # `predict` refuses it
    user_files_intact(workspace)

    other = workspace / "other"
    assert pknet(workspace.parent, "--out", str(other)).returncode == 0
    assert sorted(p.name for p in workspace.iterdir()) == ["notes.md", "other", "out", "thesis"]
    require_complete(other, RUN)
    user_files_intact(workspace)


def test_two_runs_into_one_folder(workspace: Path) -> None:
    out = workspace / "out"
    spec_dir = workspace.parent
    (spec_dir / "spec.yaml").write_text(SPEC)
    # The first run stops itself at its third epoch, holding the lock, until SIGCONT.
    command = [sys.executable, "-c", DRIVER, EPOCH, "SIGSTOP", "run", str(spec_dir / "spec.yaml")]
    first = subprocess.Popen([*command, "-q", "--out", str(out)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _state(first.pid) != "T" and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        second = pknet(spec_dir, "--out", str(out), "--overwrite")
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2
    assert f"{out}: another pknet process is writing this folder" in second.stderr
    assert first.wait(timeout=300) == 0, first.stderr.read()
    require_complete(out, RUN)
    assert sorted(p.name for p in workspace.iterdir()) == ["notes.md", "out", "thesis"]


def _state(pid: int) -> str:
    """The process state letter from /proc (`T`: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.slow
def test_many_concurrent_overwrites_leave_one_complete_run(workspace: Path) -> None:
    out = workspace / "out"
    spec = workspace.parent / "spec.yaml"
    spec.write_text(SPEC)
    command = [sys.executable, "-m", "pknet", "run", str(spec), "-q", "--out", str(out)]
    runs = [
        subprocess.Popen([*command, "--overwrite"], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    for code, stderr in results:
        assert code in (0, 2), stderr
        assert "Traceback" not in stderr
        if code == 2:
            assert "another pknet process is writing this folder" in stderr
    assert any(code == 0 for code, _ in results)
    require_complete(out, RUN)
    assert sorted(p.name for p in workspace.iterdir()) == ["notes.md", "out", "thesis"]
