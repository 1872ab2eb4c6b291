"""The Ray session a sweep runs in: embedded in this process by default, or an existing
cluster at `--address`. Embedded, or joining a cluster at 127.0.0.1, every Ray server binds to
127.0.0.1 and every client connects there; no dashboard."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator

from pknet.errors import Location, Problem, SweepError

LOCAL_IP = "127.0.0.1"
LOOPBACK = (LOCAL_IP, "localhost")
# Ray replaces a node address of 127.0.0.1 by the machine's outward address, and its servers
# then listen on every interface, unless this variable is "0" when `ray` is first imported (and
# in the environment its processes inherit); then they all use 127.0.0.1.
LOCAL_ONLY_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
CONNECT_TIMEOUT_S = 10.0
HINT = (
    "start one with `ray start --head --node-ip-address 127.0.0.1 --port PORT`, or leave out "
    "--address to run an embedded Ray"
)


def _cluster_error(address: str, reason: str) -> SweepError:
    return SweepError(
        Problem(
            f"cannot join the Ray cluster: {reason}", Location(f"--address {address}"), "", HINT
        )
    )


def check_reachable(address: str) -> None:
    """Fail fast when nothing listens at `HOST:PORT` (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise _cluster_error(address, "the address is not `auto` or HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = f"nothing answers at {address} ({exc.strerror or exc})"
        raise _cluster_error(address, reason) from None


def keep_ray_local() -> None:
    """Make the Ray that this process starts or joins, and the processes it starts, use
    127.0.0.1 only (see `LOCAL_ONLY_VARIABLE`)."""
    os.environ[LOCAL_ONLY_VARIABLE] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # read at import: `ray` was imported before this call
        constants.ENABLE_RAY_CLUSTER = False


def _use_saved_token() -> None:
    """Send the token `ray start` saved (~/.ray/auth_token) to a cluster that asks for one.

    `ray.init(address=...)` means to do this itself, but Ray 2.60 turns token mode on only after
    its first call to the cluster, which is then refused.
    """
    from ray._private.authentication.authentication_token_setup import (
        maybe_enable_token_auth_if_token_available,
    )

    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


@contextlib.contextmanager
def ray_session(address: str | None = None, cpus: int | None = None) -> Iterator[None]:
    """Join the running Ray session if this process has one, else start an embedded one
    (`address` None; `cpus` for it) or connect to the cluster at `address` (`auto` or
    `HOST:PORT`; a cluster on another host is joined at the address Ray finds for this
    machine). Shuts down only what it started."""
    if address is not None and cpus is not None:
        raise SweepError(
            Problem(
                "the CPUs of a cluster are set where it is started, not here",
                Location("--cpus"),
                hint="leave out --cpus with --address (`ray start --num-cpus N` sets them)",
            )
        )
    local = address is None or address.rpartition(":")[0] in LOOPBACK
    if local:
        keep_ray_local()
    import ray

    if ray.is_initialized():
        yield
        return
    if address is not None and address != "auto":
        check_reachable(address)
    try:
        if address is None:
            ray.init(
                address="local",  # a new Ray, even where `ray start` left an address behind
                _node_ip_address=LOCAL_IP,
                include_dashboard=False,
                num_cpus=cpus,
                log_to_driver=False,
            )
        else:
            node_ip = {"_node_ip_address": LOCAL_IP} if local else {}
            _use_saved_token()
            ray.init(address=address, log_to_driver=False, **node_ip)
    except (ConnectionError, ValueError) as exc:
        raise _cluster_error(address or "", str(exc)) from None
    try:
        yield
    finally:
        ray.shutdown()
