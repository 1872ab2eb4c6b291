"""The work folder that an interrupted sweep keeps for `--resume` (no Ray)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pknet.errors import SweepError
from pknet.sweeps.progress import SWEEP_COPY, move_results, open_work, work_folder


def test_the_work_folder_resumes_only_the_same_sweep(tmp_path: Path) -> None:
    target, sweep_file = tmp_path / "sweep", tmp_path / "sweep.yaml"
    sweep_file.write_text("version: 1\n", encoding="utf-8")
    with pytest.raises(SweepError, match="no interrupted sweep to resume"):
        open_work(target, sweep_file, resume=True, overwrite=False)

    work = open_work(target, sweep_file, resume=False, overwrite=False)
    assert work == work_folder(target) == tmp_path / ".sweep.pknet-sweep"
    (work / "trials").mkdir()
    with pytest.raises(SweepError, match="an interrupted sweep is here") as caught:
        open_work(target, sweep_file, resume=False, overwrite=False)
    assert f"--resume {target}" in caught.value.format()
    assert open_work(target, sweep_file, resume=True, overwrite=False) == work

    sweep_file.write_text("version: 1\nseed: 2\n", encoding="utf-8")
    with pytest.raises(SweepError, match="another version of this file"):
        open_work(target, sweep_file, resume=True, overwrite=False)
    work = open_work(target, sweep_file, resume=False, overwrite=True)  # starts over
    assert not (work / "trials").exists()
    assert (work / SWEEP_COPY).read_text(encoding="utf-8") == "version: 1\nseed: 2\n"


def test_results_move_without_the_leftovers_of_killed_runs(tmp_path: Path) -> None:
    work, staging = tmp_path / ".sweep.pknet-sweep", tmp_path / "staging"
    (work / "trials" / "t0").mkdir(parents=True)
    (work / "trials" / "t0" / "run.json").write_text("{}", encoding="utf-8")
    killed = work / "trials" / ".t1.pknet-tmp-0123abcd"
    killed.mkdir()
    (killed / ".pknet-staging").write_text("1\n", encoding="utf-8")
    (work / "tune").mkdir()
    staging.mkdir()
    move_results(work, staging, ("trials", "outer"))
    assert not work.exists()
    assert sorted(p.name for p in (staging / "trials").iterdir()) == ["t0"]
    assert not (staging / "tune").exists()
