"""Write one file atomically: a new file beside it, renamed over it when complete."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Let `write` write a new file beside `target`, renamed over `target` when complete, so an
    interrupted write leaves no partial file (and `target` as it was)."""
    target = Path(target)
    staging = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    try:
        write(staging)
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def write_text_atomic(target: Path, text: str) -> None:
    """Write `text` to `target` atomically (see `write_atomic`)."""

    def write(staging: Path) -> None:
        with staging.open("x", encoding="utf-8") as file:  # the umask's permissions, unlike mkstemp
            file.write(text)

    write_atomic(target, write)
