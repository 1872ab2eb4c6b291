"""The work folder of a sweep in progress, `.<name>.pknet-sweep` beside the sweep folder: the
trials' run directories and Tune's experiment state, kept when the sweep is interrupted (Ctrl-C,
a killed process, a lost cluster) so that `--resume` continues it. When the sweep ends, its
contents move into the sweep folder's staging folder and it is removed.

It is not an `OutputFolder` staging folder: those are removed on an interrupt and by the next
writer into the same parent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pknet.errors import Location, Problem, SweepError
from pknet.io.output_folder import STAGING_INFIX, remove_stale_staging

WORK_SUFFIX = ".pknet-sweep"
SWEEP_COPY = "sweep.yaml"  # the sweep file the work began with
TUNE_DIR = "tune"  # Tune's experiment state


def work_folder(target: Path) -> Path:
    return target.with_name(f".{target.name}{WORK_SUFFIX}")


def open_work(target: Path, sweep_file: Path, *, resume: bool, overwrite: bool) -> Path:
    """The work folder of the sweep at `target`: the interrupted one's with `resume` (checked
    to be the work of the same sweep file), else a new one (`overwrite` discards an interrupted
    one). Call it holding the target's lock (inside its `OutputFolder`)."""
    work = work_folder(target)
    text = sweep_file.read_bytes()
    if resume:
        if not work.is_dir():
            raise SweepError(
                Problem(
                    "no interrupted sweep to resume here",
                    Location(str(target)),
                    hint="pass the folder of a sweep that was interrupted, or leave out --resume",
                )
            )
        if (work / SWEEP_COPY).read_bytes() != text:
            raise SweepError(
                Problem(
                    f"the interrupted sweep at {target} began from another version of this file",
                    Location(str(sweep_file)),
                    hint=f"resume with the sweep file it began with ({work / SWEEP_COPY})",
                )
            )
        return work
    if work.exists():
        if not overwrite:
            raise SweepError(
                Problem(
                    "an interrupted sweep is here",
                    Location(str(target)),
                    hint=f"continue it with `--resume {target}`, or start over with --overwrite",
                )
            )
        shutil.rmtree(work)
    work.mkdir()
    (work / SWEEP_COPY).write_bytes(text)
    return work


def move_results(work: Path, staging: Path, names: tuple[str, ...]) -> None:
    """Move the folders `names` of `work` into `staging` (without the staging folders that
    runs killed by an interrupt left), then remove `work`."""
    for name in names:
        if not (work / name).exists():
            continue
        for parent in {p.parent for p in (work / name).rglob(f".*{STAGING_INFIX}*")}:
            remove_stale_staging(parent)
        (work / name).rename(staging / name)
    shutil.rmtree(work)
