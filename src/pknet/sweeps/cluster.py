"""The Ray session a sweep runs in: embedded in this process by default, or an existing
cluster at `--address`. Everything binds to and connects through 127.0.0.1 unless the address
names another host; no dashboard."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pknet.errors import Location, Problem, SweepError

LOCAL_IP = "127.0.0.1"


@contextlib.contextmanager
def ray_session(address: str | None = None, cpus: int | None = None) -> Iterator[None]:
    """Join the running Ray session if this process has one, else start an embedded one
    (`address` None; `cpus` for it) or connect to the cluster at `address` (`auto` or
    `HOST:PORT`). Shuts down only what it started."""
    import ray

    if ray.is_initialized():
        yield
        return
    try:
        if address is None:
            ray.init(
                _node_ip_address=LOCAL_IP,
                include_dashboard=False,
                num_cpus=cpus,
                log_to_driver=False,
            )
        else:
            ray.init(address=address, _node_ip_address=LOCAL_IP, log_to_driver=False)
    except (ConnectionError, ValueError) as exc:
        raise SweepError(
            Problem(
                f"cannot join the Ray cluster: {exc}",
                Location(f"--address {address}"),
                hint="start one with `ray start --head --node-ip-address 127.0.0.1`, or leave "
                "out --address to run an embedded Ray",
            )
        ) from None
    try:
        yield
    finally:
        ray.shutdown()
