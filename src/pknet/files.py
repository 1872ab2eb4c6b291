"""Files a user names: what keeps a path from being read as a file, and reads with a size cap.

Every check runs `os.stat` before the file is opened: opening a FIFO blocks until something
writes to it, and a device such as `/dev/zero` never ends.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pknet.errors import FileProblem

MAX_TEXT_BYTES = 10_000_000  # spec files, their bases and `file(...)` node lists
MISSING = "not found"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def file_problem(path: Path, max_bytes: int | None = None) -> str | None:
    """Why `path` is not a readable regular file (of at most `max_bytes`), or None.

    The reason reads after the name: `MISSING`, "is a folder, not a file", "is not a regular
    file (...)", "is larger than 10 MB".
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    except ValueError:  # a NUL byte in the path
        return "is not a valid path (it contains a NUL character)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a device, pipe or socket)"
    if max_bytes is not None and info.st_size > max_bytes:
        return f"is larger than {_megabytes(max_bytes)}"
    return None


def read_capped(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file `path`; raise `FileProblem` when it is none or too large.

    Reads at most `max_bytes + 1` bytes, so a file that grows after `stat` (or a file system
    that reports no size) still cannot exhaust memory. OSError passes through.
    """
    reason = file_problem(path, max_bytes)
    if reason is not None:
        raise FileProblem(reason)
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileProblem(f"is larger than {_megabytes(max_bytes)}")
    return data
