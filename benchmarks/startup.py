"""Start-up of the `pknet` commands and the effect of JAX's compilation cache.

    python benchmarks/startup.py [--src DIR] [--repeat N] [--cache]

Each figure is the minimum over `--repeat` fresh processes (the machine is shared). `--src` points
at another checkout's `src/` to measure it the same way. `--cache` adds three short runs of the
TCR example (2 epochs): one that fills an empty cache, then one with the cache and one without.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "kpnn_tcr" / "spec.yaml"
IMPORTS = (
    "pknet.cli",
    "pknet.api",
    "pknet.compiler.network.compile_network",
    "pknet.compiler.network.prune",
    "jax",
)
BAD_SPEC = "version: 1\nname: bad\nmodel: {layers: [{kind: dense, unitz: 3}]}\n"


def seconds(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    return time.perf_counter() - start, done.stdout + done.stderr


def fastest(command: list[str], env: dict[str, str], cwd: Path, repeat: int) -> float:
    return min(seconds(command, env, cwd)[0] for _ in range(repeat))


def import_seconds(module: str, env: dict[str, str], cwd: Path, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd
            ).stdout
        )
        for _ in range(repeat)
    ]
    return min(runs)


def cache_runs(env: dict[str, str], work: Path) -> None:
    pknet = [sys.executable, "-m", "pknet", "run", str(EXAMPLE), "--set", "train.epochs=2", "-q"]
    cache = work / "jax-cache"
    for label, value in (("fill", str(cache)), ("cached", str(cache)), ("uncached", "0")):
        out = work / f"run-{label}"
        wall, text = seconds([*pknet, "--out", str(out)], {**env, "PKNET_JAX_CACHE": value}, work)
        line = re.search(r"seconds +(.*)", text)
        print(f"  run {label:<9} wall {wall:5.2f} s   {line.group(1) if line else text[-300:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve()), "PKNET_JAX_CACHE": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bad.yaml").write_text(BAD_SPEC, encoding="utf-8")
        print(f"src {args.src}, minimum of {args.repeat}, load {os.getloadavg()[0]:.1f}")
        for module in IMPORTS:
            print(f"  import {module:<40} {import_seconds(module, env, work, args.repeat):5.2f} s")
        pknet = [sys.executable, "-m", "pknet"]
        commands = {
            "validate": ["validate", str(EXAMPLE)],
            "compile": ["compile", str(EXAMPLE), "--out", str(work / "compiled")],
            "compile (spec error)": ["compile", "bad.yaml"],
            "run (spec error)": ["run", "bad.yaml"],
        }
        for label, command in commands.items():
            print(
                f"  pknet {label:<41} {fastest([*pknet, *command], env, work, args.repeat):5.2f} s"
            )
        if args.cache:
            cache_runs(env, work)


if __name__ == "__main__":
    main()
