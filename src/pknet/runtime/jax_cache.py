"""JAX's persistent compilation cache for `pknet run` and `pknet predict`.

On by default, in `$XDG_CACHE_HOME/pknet/jax` (`~/.cache/pknet/jax`). The environment variable
`PKNET_JAX_CACHE` turns it off (`0`, `false`, `no`, `off`) or names the folder (a path). A folder
that cannot be created or written leaves the run uncached, with one warning per process.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "PKNET_JAX_CACHE"
OFF = frozenset({"0", "false", "no", "off"})
ON = frozenset({"", "1", "true", "yes", "on"})
MIN_COMPILE_TIME_S = 0.0

_warned = False


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The cache folder `environ` asks for, or None when the cache is off."""
    value = environ.get(ENV_VAR, "").strip()
    if value.lower() in OFF:
        return None
    if value.lower() not in ON:
        return Path(value).expanduser()
    xdg = environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "pknet" / "jax"


def enable_compilation_cache(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Point JAX's persistent cache at `cache_dir()` before the first compilation; the folder
    used, or None (cache off, JAX's own `JAX_COMPILATION_CACHE_DIR` set, or folder unusable)."""
    folder = cache_dir(environ)
    if folder is None or (ENV_VAR not in environ and environ.get("JAX_COMPILATION_CACHE_DIR")):
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write to {folder}")
    except OSError as exc:
        _warn_once(
            f"JAX compilation cache off: cannot use {folder} ({exc.strerror or exc}); "
            f"set {ENV_VAR} to a writable folder, or to 0 to silence this"
        )
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return folder


def _warn_once(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(message, RuntimeWarning, stacklevel=3)
