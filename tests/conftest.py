"""Settings for the whole suite."""

from __future__ import annotations

import os

# Runs in this process and in the `pknet` subprocesses the tests start (they inherit the
# environment) leave the user's JAX compilation cache (~/.cache/pknet/jax) alone; the cache's
# own tests set the variable per subprocess.
os.environ["PKNET_JAX_CACHE"] = "0"
