"""Folders pknet writes: built in a staging folder, proven complete by a marker written last,
swapped into place under an exclusive lock.

The rules (README, "Run directories"):

- pknet replaces a folder only when its marker proves it is a complete pknet output of the same
  kind, and a run only with `overwrite`; anything else at the target is an `OutputError` raised
  before any work. Files a user added to an old output are never deleted: the replacement is
  refused, naming them.
- One writer per target: an exclusive `flock` on `.<name>.pknet-lock` beside it, held from
  before the work starts until the new folder is in place.
- The new folder is built in `.<name>.pknet-tmp-<random>` beside the target (so a killed run
  never leaves anything that looks complete) and swapped in with one atomic rename. Staging
  folders of killed writers are recognised by their name and their `.pknet-staging` file and
  removed by the next writer into the same parent.
- The marker lists every file pknet wrote; when an old output is replaced, exactly those files
  are deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pknet import __version__, interrupts
from pknet.errors import Location, OutputError, Problem

MARKER_FORMAT = "pknet-output"
STAGING_FILE = ".pknet-staging"
LOCK_SUFFIX = ".pknet-lock"
STAGING_INFIX = ".pknet-tmp-"
LISTED_FILES = 8  # foreign files named in a refusal


@dataclass(frozen=True)
class OutputKind:
    """What kind of folder pknet writes (`run`, `compile`) and the name of its marker file."""

    kind: str
    marker: str


class Marker(BaseModel):
    """The marker file: written last, it proves the folder is a complete pknet output."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    format: str
    kind: str
    id: str
    pknet: str
    created: str
    files: tuple[str, ...]


def read_marker(folder: Path, kind: OutputKind) -> Marker | None:
    """The marker of `folder` if it proves a complete output of `kind`, else None."""
    path = folder / kind.marker
    if not path.is_file():
        return None
    try:
        marker = Marker.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
    if marker.format != MARKER_FORMAT or marker.kind != kind.kind:
        return None
    return marker


def require_complete(folder: Path, kind: OutputKind) -> Marker:
    """The marker of `folder`; an `OutputError` unless it is a complete pknet output of `kind`
    whose listed files are all present."""
    if STAGING_INFIX in folder.name:
        raise OutputError(
            Problem(
                "a temporary folder of a pknet write that never finished (killed, or still "
                "running); the next write into its parent folder removes it",
                Location(str(folder)),
                hint=f"pass the folder `pknet {kind.kind}` printed",
            )
        )
    marker = read_marker(folder, kind)
    if marker is None:
        raise OutputError(
            Problem(
                f"not a complete pknet {kind.kind} folder (no valid {kind.marker}); "
                "a run that was interrupted, killed or is still being written has none",
                Location(str(folder)),
                hint=f"pass a folder that `pknet {kind.kind}` finished writing",
            )
        )
    missing = [name for name in marker.files if not (folder / name).is_file()]
    if missing:
        raise OutputError(
            Problem(
                f"damaged: {_names(missing)} listed in {kind.marker} "
                f"{'is' if len(missing) == 1 else 'are'} missing",
                Location(str(folder / kind.marker)),
                hint=f"run `pknet {kind.kind}` again",
            )
        )
    return marker


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:LISTED_FILES])
    more = len(paths) - LISTED_FILES
    return f"{shown} and {more} more" if more > 0 else shown


def _files_below(folder: Path) -> list[str]:
    """Every file below `folder`, as sorted POSIX paths relative to it."""
    return sorted(
        Path(root, name).relative_to(folder).as_posix()
        for root, _, names in os.walk(folder)
        for name in names
    )


class _Lock:
    """An exclusive, non-blocking `flock` on a lock file; the file is removed on release."""

    def __init__(self, path: Path):
        self.path, self.fd = path, -1

    def acquire(self) -> bool:
        """Take the lock; False when another process holds it."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            # The holder before us may have removed the file after we opened it: then our lock
            # is on an orphan inode and another process could lock a new file. Retry.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self.fd)
        self.fd = -1


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def _remove_listed(folder: Path, files: tuple[str, ...], marker: str) -> list[str]:
    """Delete `files` and `marker` from `folder`, then its empty sub-folders; return what
    remains (files pknet did not write are kept)."""
    for name in (*files, marker):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            (folder / name).unlink()
    for root, _, _ in sorted(os.walk(folder), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):
            os.rmdir(root)
    return _files_below(folder) if folder.exists() else []


def _write_errors(target: Path) -> contextlib.AbstractContextManager[None]:
    return _translate_os_errors(f"cannot write {target}")


@contextlib.contextmanager
def _translate_os_errors(what: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = {
            errno.ENOSPC: "the disk is full: free space or choose `--out` on another disk",
            errno.EDQUOT: "the disk quota is exceeded: free space or choose another `--out`",
            errno.EFBIG: "a file exceeds the size this process may write (ulimit -f)",
            errno.EACCES: "you lack permission there: choose a folder you can write to",
            errno.EPERM: "you lack permission there: choose a folder you can write to",
            errno.EROFS: "the file system is read-only: choose another `--out`",
        }.get(exc.errno, "check that the folder can be created and written")
        raise OutputError(Problem(f"{what}: {reason}", hint=hint)) from None


class OutputFolder:
    """Write `target` atomically under a lock (see the module docstring).

    Entering checks the target, takes the lock and creates the staging folder, so every
    refusal comes before any work; write into `staging`, then call `commit()`. Leaving without
    a commit (an error, an interrupt) removes the staging folder and leaves `target` as it was.
    """

    def __init__(self, target: str | Path, kind: OutputKind, *, overwrite: bool = False):
        self.target = Path(os.path.abspath(target))
        self.kind = kind
        self.overwrite = overwrite
        self._staging: Path | None = None
        self._created: list[Path] = []  # parent folders made here, removed if nothing lands
        self._committed = False

    @property
    def staging(self) -> Path:
        if self._staging is None:
            raise RuntimeError("OutputFolder is not entered")
        return self._staging

    def __enter__(self) -> OutputFolder:
        self._check_path()
        self._lock = _Lock(self.target.with_name(f".{self.target.name}{LOCK_SUFFIX}"))
        with _write_errors(self.target):
            self._make_parents()
            if not self._lock.acquire():
                self._remove_parents()
                raise OutputError(
                    Problem(
                        "another pknet process is writing this folder",
                        Location(str(self.target)),
                        hint="wait for it to finish, or choose another `--out`",
                    )
                )
        try:
            self._check_target()
            with _write_errors(self.target):
                remove_stale_staging(self.target.parent, locked=self.target.name)
                self._staging = self._make_staging()
        except BaseException:
            self._lock.release()
            self._remove_parents()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if not self._committed and self._staging is not None:
                shutil.rmtree(self._staging, ignore_errors=True)
        finally:
            self._lock.release()
            if not self._committed:
                self._remove_parents()

    def _make_parents(self) -> None:
        missing = [p for p in self.target.parents if not p.exists()]
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._created = missing  # innermost first

    def _remove_parents(self) -> None:
        for folder in self._created:
            try:
                folder.rmdir()  # only while empty: another writer may have used it meanwhile
            except OSError:
                break

    def _check_path(self) -> None:
        if not self.target.name or self.target == self.target.parent:
            raise OutputError(
                Problem(f"cannot write to {self.target}", hint="name a folder below it")
            )
        blocker = next(
            (p for p in (self.target, *self.target.parents) if p.exists() and not p.is_dir()),
            None,
        )
        if blocker is not None:
            raise OutputError(
                Problem(
                    f"cannot write {self.target}: {blocker} is a file",
                    hint="choose an output folder path that is not, and is not inside, a file",
                )
            )

    def _check_target(self) -> None:
        """Refuse, before any work, a target that pknet may not replace."""
        target, kind = self.target, self.kind
        if not target.exists() or (target.is_dir() and not any(target.iterdir())):
            return
        marker = read_marker(target, kind)
        if marker is None:
            raise OutputError(
                Problem(
                    f"a folder pknet did not write (it has no valid {kind.marker}); "
                    "pknet never replaces it",
                    Location(str(target)),
                    hint="choose a new output folder with `--out`",
                )
            )
        if not self.overwrite:
            raise OutputError(
                Problem(
                    f"holds an earlier pknet {kind.kind}",
                    Location(str(target)),
                    hint="pass `--overwrite` to replace it, or choose another `--out`",
                )
            )
        foreign = sorted(set(_files_below(target)) - {*marker.files, kind.marker})
        if foreign:
            raise OutputError(
                Problem(
                    f"holds an earlier pknet {kind.kind} and files pknet did not write "
                    f"({_names(foreign)}); replacing it would lose them",
                    Location(str(target)),
                    hint="move those files out of the folder, or choose another `--out`",
                )
            )

    def _staging_name(self) -> Path:
        return self.target.with_name(f".{self.target.name}{STAGING_INFIX}{secrets.token_hex(4)}")

    def _make_staging(self) -> Path:
        staging = self._staging_name()
        staging.mkdir(mode=0o777)  # the user's umask applies, as for any folder they create
        (staging / STAGING_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
        return staging

    @contextlib.contextmanager
    def writing(self) -> Iterator[Path]:
        """Yield the staging folder; an OS error while writing (a full disk, a file-size limit,
        permissions) becomes an `OutputError` naming the target."""
        with _write_errors(self.target):
            yield self.staging

    def commit(self) -> Path:
        """Write the marker (last), then put the staging folder in place of the target."""
        staging = self.staging
        with _write_errors(self.target):
            files = tuple(name for name in _files_below(staging) if name != STAGING_FILE)
            marker = Marker(
                format=MARKER_FORMAT,
                kind=self.kind.kind,
                id=secrets.token_hex(8),
                pknet=__version__,
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                files=files,
            )
            marker_path = staging / self.kind.marker
            with open(marker_path, "w", encoding="utf-8") as f:
                f.write(marker.model_dump_json(indent=2) + "\n")
                f.flush()
                os.fsync(f.fileno())
            (staging / STAGING_FILE).unlink()
            interrupts.raise_if_interrupted()  # an interrupt swallowed earlier stops it here
            self._swap_in(staging)
        self._committed = True
        return self.target

    def _swap_in(self, staging: Path) -> None:
        target = self.target
        if not target.exists():
            staging.rename(target)
            return
        old = read_marker(target, self.kind)
        if old is None:  # an empty folder, checked on entry
            target.rmdir()
            staging.rename(target)
            return
        if _exchange(staging, target):
            retired = staging
        else:
            retired = self._staging_name()
            target.rename(retired)
            staging.rename(target)
        kept = _remove_listed(retired, old.files, self.kind.marker)
        if kept:  # a file appeared after the check on entry: keep it, and say where
            visible = target.with_name(f"{target.name}.kept-{secrets.token_hex(4)}")
            retired.rename(visible)
            warnings.warn(
                f"files added to {target} while pknet was writing it were kept in {visible}",
                RuntimeWarning,
                stacklevel=2,
            )


def remove_stale_staging(parent: Path, *, locked: str | None = None) -> list[Path]:
    """Remove the staging folders that killed writers left in `parent`.

    A staging folder belongs to a live writer while that writer holds its target's lock, so a
    folder is removed only when its target's lock can be taken (or is held by us: `locked`).
    One still being filled (it holds `.pknet-staging`) holds only what pknet wrote; one that
    holds a marker (a finished output, or an old one being retired) loses its listed files.
    """
    removed = []
    for entry in sorted(parent.glob(f".*{STAGING_INFIX}*")):
        if not entry.is_dir() or entry.is_symlink():
            continue
        name = entry.name[1:].rsplit(STAGING_INFIX, 1)[0]
        if name == locked:
            if _remove_staging(entry):
                removed.append(entry)
            continue
        lock = _Lock(parent / f".{name}{LOCK_SUFFIX}")
        if lock.acquire():
            try:
                if _remove_staging(entry):
                    removed.append(entry)
            finally:
                lock.release()
    return removed


def _remove_staging(entry: Path) -> bool:
    """Remove a staging folder pknet can prove it wrote; False if it cannot."""
    if (entry / STAGING_FILE).is_file():
        shutil.rmtree(entry, ignore_errors=True)
        return True
    for candidate in entry.glob("*.json"):
        try:
            marker = Marker.model_validate_json(candidate.read_bytes())
        except (OSError, ValidationError):
            continue
        if marker.format == MARKER_FORMAT:
            return not _remove_listed(entry, marker.files, candidate.name)
    return False
