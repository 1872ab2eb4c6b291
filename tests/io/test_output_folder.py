"""Output folders: pknet replaces only what its marker proves it wrote, one writer at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pknet.errors import OutputError
from pknet.io.output_folder import (
    LOCK_SUFFIX,
    STAGING_FILE,
    OutputFolder,
    OutputKind,
    read_marker,
    remove_stale_staging,
    require_complete,
)

KIND = OutputKind(kind="run", marker="run.json")


def write(target: Path, files: dict[str, str], *, overwrite: bool = False) -> Path:
    with OutputFolder(target, KIND, overwrite=overwrite) as folder:
        for name, text in files.items():
            (folder.staging / name).parent.mkdir(parents=True, exist_ok=True)
            (folder.staging / name).write_text(text)
        return folder.commit()


def tree(folder: Path) -> dict[str, str]:
    """Every file below `folder` with its text, hidden ones included."""
    return {
        str(p.relative_to(folder)): p.read_text(errors="replace")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_written_folder_lists_its_files_in_a_marker_written_last(tmp_path: Path) -> None:
    target = write(tmp_path / "out", {"metrics.json": "{}", "folds/0/model.eqx": "w"})
    marker = read_marker(target, KIND)
    assert marker is not None and marker.files == ("folds/0/model.eqx", "metrics.json")
    assert require_complete(target, KIND) == marker
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no lock, no staging left


def test_a_folder_that_merely_holds_a_marker_named_file_is_never_replaced(tmp_path) -> None:
    precious = tmp_path / "project"
    (precious / ".git").mkdir(parents=True)
    (precious / ".git" / "HEAD").write_text("ref: refs/heads/main")
    for name in ("manifest.json", "run.json"):
        (precious / name).write_text('{"files": []}')
        before = tree(precious)
        for overwrite in (False, True):
            with pytest.raises(OutputError, match="a folder pknet did not write"):
                write(precious, {"metrics.json": "{}"}, overwrite=overwrite)
            assert tree(precious) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_an_earlier_run_is_replaced_only_with_overwrite(tmp_path: Path) -> None:
    target = write(tmp_path / "out", {"a.txt": "old", "old_only.txt": "old"})
    with pytest.raises(OutputError, match="holds an earlier pknet run") as caught:
        write(target, {"a.txt": "new"})
    assert "--overwrite" in caught.value.format()
    assert tree(target)["a.txt"] == "old"
    write(target, {"a.txt": "new"}, overwrite=True)
    assert set(tree(target)) == {"a.txt", "run.json"}
    assert tree(target)["a.txt"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_files_a_user_added_to_a_run_block_its_replacement(tmp_path: Path) -> None:
    target = write(tmp_path / "out", {"metrics.json": "{}", "figures/roc.png": "png"})
    (target / "notes.md").write_text("my notes")
    (target / "figures" / "mine.png").write_text("my plot")
    before = tree(target)
    with pytest.raises(OutputError, match="files pknet did not write") as caught:
        write(target, {"metrics.json": "{}"}, overwrite=True)
    assert "figures/mine.png, notes.md" in caught.value.format()
    assert tree(target) == before


def test_a_failure_while_writing_leaves_the_target_and_its_parents_as_they_were(tmp_path):
    target = write(tmp_path / "out", {"a.txt": "old"})
    for out in (target, tmp_path / "new" / "deeper" / "run"):
        with pytest.raises(RuntimeError), OutputFolder(out, KIND, overwrite=True) as folder:
            (folder.staging / "a.txt").write_text("partial")
            raise RuntimeError("training diverged")
    assert tree(target) == {"a.txt": "old", "run.json": tree(target)["run.json"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # `new/deeper` removed too


def test_one_writer_per_target(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with OutputFolder(target, KIND) as first:
        with pytest.raises(OutputError, match="another pknet process is writing"):
            OutputFolder(target, KIND).__enter__()
        (first.staging / "a.txt").write_text("first")
        first.commit()
    assert tree(target)["a.txt"] == "first"
    write(tmp_path / "other", {"a.txt": "x"})  # another target in the same parent is free


def test_stale_staging_is_removed_but_never_a_live_writer_or_a_look_alike(tmp_path) -> None:
    killed = tmp_path / ".old.pknet-tmp-0123abcd"
    killed.mkdir()
    (killed / STAGING_FILE).write_text("4242")
    (killed / "metrics.json").write_text("{}")
    (tmp_path / f".old{LOCK_SUFFIX}").write_text("")  # left by the killed writer
    look_alike = tmp_path / ".mine.pknet-tmp-notes"  # a user's folder, no staging file
    look_alike.mkdir()
    (look_alike / "notes.txt").write_text("keep")
    with OutputFolder(tmp_path / "live", KIND) as live:
        assert not killed.exists()  # removed by the next writer into the same parent
        assert remove_stale_staging(tmp_path) == []
        assert live.staging.exists()  # its writer holds the lock
        live.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mine.pknet-tmp-notes", "live"]


def test_a_staging_folder_is_never_a_complete_run(tmp_path: Path) -> None:
    with OutputFolder(tmp_path / "out", KIND) as folder:
        (folder.staging / "run.json").write_text("{}")
        with pytest.raises(OutputError, match="never finished"):
            require_complete(folder.staging, KIND)


def test_a_run_with_a_listed_file_missing_is_damaged(tmp_path: Path) -> None:
    target = write(tmp_path / "out", {"a.txt": "x", "b.txt": "y"})
    (target / "b.txt").unlink()
    with pytest.raises(OutputError, match=r"b\.txt listed in run\.json is missing"):
        require_complete(target, KIND)
    with pytest.raises(OutputError, match="not a complete pknet run folder"):
        require_complete(tmp_path, KIND)


@pytest.mark.parametrize("target", ["a_file", "a_file/run", "/"])
def test_a_target_that_is_or_is_inside_a_file_is_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "a_file").write_text("keep")
    with pytest.raises(OutputError, match="cannot write"):
        write(tmp_path / target, {"a.txt": "x"})
    assert (tmp_path / "a_file").read_text() == "keep"


def test_folders_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        target = write(tmp_path / "out", {"sub/a.txt": "x"})
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o750
    assert (target / "sub" / "a.txt").stat().st_mode & 0o777 == 0o640


FULL_DISK = """
import resource, signal, sys
from pknet.errors import OutputError
from pknet.io.output_folder import OutputFolder, OutputKind
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
with OutputFolder(sys.argv[1], OutputKind("run", "run.json"), overwrite=True) as folder:
    try:
        with folder.writing() as staging:
            (staging / "big.bin").write_bytes(bytes(10_000))
    except OutputError as exc:
        print(exc.format())
"""


def test_a_file_that_cannot_be_written_in_full_is_a_clean_error(tmp_path: Path) -> None:
    target = write(tmp_path / "out", {"a.txt": "old"})
    before = tree(target)
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(target)], capture_output=True, text=True, check=True
    )
    assert f"cannot write {target}: File too large" in done.stdout
    assert "ulimit -f" in done.stdout
    assert tree(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
