"""The malformed-spec corpus: every case fails with exit code 2 and a located, readable message.

Each `tests/specs/malformed/<case>.yaml` starts with comment lines:

    # expect: 14:5 train.batch_size   `line:col` and/or dotted path that must be reported (both on
                                      one problem line when both are given); `file:line:col`
                                      names another file (a base in `extends`)
    # expect: --set train.lrr=1       a problem located at that command-line override
    # args: --set train.lrr=1         extra command-line arguments
    # message: did you mean           text that must appear in the output
    # marker: some_file               a file that must NOT appear in the working directory

Files named `_*.yaml` are helpers (bases for `extends`), not cases.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pknet import SpecError, load_spec
from pknet.cli import app

MALFORMED_DIR = Path(__file__).parent / "malformed"
CASES = sorted(p for p in MALFORMED_DIR.glob("*.yaml") if not p.name.startswith("_"))
_LOCATION = re.compile(r"(?:(?P<file>[^\s:]+):)?(?P<line>\d+):(?P<col>\d+)")


@dataclass
class Expect:
    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: str | None = None
    override: str | None = None

    def pattern(self) -> re.Pattern[str]:
        if self.override is not None:
            return re.compile(rf"(?m)^error: {re.escape(self.override)}: ")
        parts = []
        if self.line is not None:
            parts.append(rf"(?<![\w.-]){re.escape(self.file or '')}:{self.line}:{self.col}(?!\d)")
        if self.path is not None:
            parts.append(rf"(?<![\w.\[\]]){re.escape(self.path)}: ")
        return re.compile(r": ".join(parts) if self.line is not None else parts[0])

    def __str__(self) -> str:
        if self.override is not None:
            return self.override
        where = f"{self.file}:{self.line}:{self.col}" if self.line is not None else ""
        return " ".join(p for p in (where, self.path) if p)


@dataclass
class Case:
    path: Path
    expects: list[Expect] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)

    @property
    def overrides(self) -> list[str]:
        """The `--set` values among the args, as `load_spec` takes them."""
        return [v for flag, v in zip(self.args, self.args[1:], strict=False) if flag == "--set"]


def read_case(path: Path) -> Case:
    case = Case(path)
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(":")
        value = value.strip()
        if not sep:
            continue
        if key == "expect":
            case.expects.append(_parse_expect(value, path.name))
        elif key == "args":
            case.args += shlex.split(value)
        elif key == "message":
            case.messages.append(value)
        elif key == "marker":
            case.markers.append(value)
    return case


def _parse_expect(value: str, default_file: str) -> Expect:
    if value.startswith("--set "):
        return Expect(override=value)
    expect = Expect()
    for token in value.split():
        found = _LOCATION.fullmatch(token)
        if found:
            expect.file = found["file"] or default_file
            expect.line, expect.col = int(found["line"]), int(found["col"])
        else:
            expect.path = token
    return expect


def run_validate(case: Case) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, ["validate", str(case.path), *case.args])
    exception = None if isinstance(result.exception, SystemExit) else result.exception
    return result.exit_code, result.output, exception


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 45
    for path in CASES:
        assert read_case(path).expects, f"{path.name} has no `# expect:` line"


def test_base_of_the_corpus_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cases are small edits of `_valid.yaml`, so that file itself must validate."""
    monkeypatch.chdir(tmp_path)  # relative data paths resolve against the spec, not the cwd
    result = CliRunner().invoke(app, ["validate", str(MALFORMED_DIR / "_valid.yaml")])
    assert result.exit_code == 0, result.output
    load_spec(MALFORMED_DIR / "_base_ok.yaml")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_malformed_spec(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = read_case(path)
    monkeypatch.chdir(tmp_path)
    code, output, exception = run_validate(case)

    assert exception is None, f"{type(exception).__name__}: {exception}\n{output}"
    assert "Traceback" not in output
    assert code == 2, output
    assert output.startswith("error: "), output
    for expect in case.expects:
        assert expect.pattern().search(output), f"`{expect}` not reported:\n{output}"
    for message in case.messages:
        assert message in output, f"`{message}` not in:\n{output}"
    for marker in case.markers:
        assert not (tmp_path / marker).exists(), f"{marker} was created: the spec ran a command"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_malformed_spec_api(path: Path) -> None:
    """The Python API raises `SpecError` whose every problem is located."""
    case = read_case(path)
    with pytest.raises(SpecError) as info:
        load_spec(path, case.overrides)
    assert info.value.problems
    for problem in info.value.problems:
        assert problem.location is not None, problem
        if not problem.location.source.startswith("--set"):
            assert problem.location.line is not None and problem.location.line >= 1, problem
            assert problem.location.column is not None and problem.location.column >= 1, problem


def _console_script() -> str:
    beside = Path(sys.executable).with_name("pknet")
    found = str(beside) if beside.exists() else shutil.which("pknet")
    if found is None:
        pytest.skip("the `pknet` console script is not installed")
    return found


@pytest.mark.parametrize(
    "name", ["yaml_python_tag", "unknown_key_batchsize", "set_unknown_key", "extends_cycle"]
)
def test_console_script(name: str, tmp_path: Path) -> None:
    """The installed `pknet` command: exit code 2, message on stderr, no traceback."""
    case = read_case(MALFORMED_DIR / f"{name}.yaml")
    proc = subprocess.run(
        [_console_script(), "validate", str(case.path), *case.args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ")
    for expect in case.expects:
        assert expect.pattern().search(proc.stderr), f"`{expect}` not in:\n{proc.stderr}"
    for marker in case.markers:
        assert not (tmp_path / marker).exists()
