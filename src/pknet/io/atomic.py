"""Write a directory atomically: build it under a temporary name, then rename it into place."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `target`; on success it replaces `target`.

    If the block raises, the temporary folder is removed and `target` is left as it was, so an
    interrupted write never looks complete.
    """
    target = Path(target)
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
