"""Write a directory or a file atomically: build it under a temporary name, then rename it into
place.

Only a directory pknet wrote (it holds a marker file) or an empty one is ever replaced: an
existing folder of other files, or a file, at the target is an `OutputError`, never deleted.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pknet.errors import OutputError, Problem


def check_replaceable(target: Path, marker: str) -> None:
    """Fail unless `target` may be written: absent, an empty folder, or a folder holding
    `marker` (one pknet wrote), with no file in the way on its path."""
    target = Path(target)
    blocker = next((p for p in (target, *target.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputError(
            Problem(
                f"cannot write {target}: {blocker} is a file",
                hint="choose an output folder path that is not, and is not inside, a file",
            )
        )
    if target.is_dir() and any(target.iterdir()) and not (target / marker).exists():
        raise OutputError(
            Problem(
                f"{target} is a folder pknet did not write (it has no {marker}); writing there "
                "would replace its contents",
                hint="choose a new output folder, or remove this one first",
            )
        )


@contextmanager
def atomic_directory(target: Path, marker: str) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `target`; on success it replaces `target`, which
    must pass `check_replaceable(target, marker)` (the written folder should hold `marker`).

    If the block raises, the temporary folder is removed and `target` is left as it was, so an
    interrupted write never looks complete.
    """
    target = Path(target)
    check_replaceable(target, marker)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = None
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}")
        target.rename(retired)
    staging.rename(target)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def write_text_atomic(target: Path, text: str) -> None:
    """Write `text` to `target` through a new file beside it, renamed over `target` when
    complete, so an interrupted write leaves no partial file (and `target` as it was)."""
    target = Path(target)
    staging = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    try:
        with staging.open("x", encoding="utf-8") as file:  # the umask's permissions, unlike mkstemp
            file.write(text)
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
