"""Where a KPNN training step's time goes: XLA kernels per step and the step's time.

Builds the model of a spec (e.g. the one `kpnn_vs_corneto.py --workdir DIR` writes), compiles
the gradient of the BCE loss for K folds x one minibatch (vmapped as pknet's trainer does), and
prints how many kernels (XLA fusions and other non-trivial instructions) the compiled step runs:
those of the entry computation plus, for each `while` loop (the scanned levels), its body's
kernels times its trip count. Then it times the step.

    python benchmarks/kpnn_step_profile.py DIR/spec.yaml --folds 5 --batch-size 64
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from time import perf_counter

import numpy as np

TRIVIAL = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}


def kernels(hlo: str, trips: int) -> dict[str, int]:
    """Kernels of the entry computation and of each while body (per trip, and times `trips`)."""
    computations = {
        block.split(" ", 1)[0]: block for block in re.split(r"\n(?=%\S+ \(|ENTRY )", hlo)
    }
    entry = next(block for name, block in computations.items() if name == "ENTRY")

    def count(block: str) -> int:
        ops = Counter(re.findall(r" = \S+ ([\w-]+)\(", block))
        return sum(n for op, n in ops.items() if op not in TRIVIAL and op != "while")

    counts = {"entry": count(entry)}
    bodies = re.findall(r"while\(\S+\), condition=\S+, body=(%[^,\s]+)", hlo)
    for i, body in enumerate(bodies):
        counts[f"loop {i} body"] = count(computations[body])
    counts["per step"] = counts["entry"] + trips * sum(
        n for name, n in counts.items() if name.startswith("loop")
    )
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)

    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from pknet.api import compile_network
    from pknet.compiler.dataset import load_dataset
    from pknet.compiler.model.program import build_program
    from pknet.specs import load_spec

    spec = load_spec(args.spec)
    network = compile_network(spec)
    data = load_dataset(spec, network.input_columns, network)
    program = build_program(spec, network, data.x.shape[1], data.task, len(data.classes), 1)
    rows = args.folds * args.batch_size
    x = jnp.asarray(np.asarray(data.x)[:rows], jnp.float32).reshape(args.folds, args.batch_size, -1)
    y = jnp.asarray(np.asarray(data.y)[:rows], jnp.float32).reshape(args.folds, args.batch_size)
    models = eqx.filter_vmap(program.init_model)(jax.random.split(jax.random.key(0), args.folds))
    arrays, static = eqx.partition(models, eqx.is_array)

    def loss(model, xb, yb):
        logits = jax.vmap(model)(xb).reshape(-1)
        return jnp.mean(jnp.logaddexp(0.0, logits) - yb * logits)

    @jax.jit
    def step(arrays, x, y):
        return eqx.filter_vmap(eqx.filter_grad(loss))(eqx.combine(arrays, static), x, y)

    start = perf_counter()
    compiled = step.lower(arrays, x, y).compile()
    compile_s = perf_counter() - start
    layer = models.layers[0]
    trips = len(layer.level_bounds)
    counts = kernels(compiled.as_text(), trips)
    jax.block_until_ready(compiled(arrays, x, y))
    times = []
    for _ in range(args.repeats):
        start = perf_counter()
        jax.block_until_ready(compiled(arrays, x, y))
        times.append(perf_counter() - start)
    print(
        f"{layer.n_inputs} inputs, {layer.n_slots - layer.n_inputs} hidden units on {trips} "
        f"levels, {layer.weight.shape[-1]} weights; {args.folds} folds x {args.batch_size} rows"
    )
    print("kernels: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    print(
        f"step: compile {compile_s:.2f} s; median {np.median(times) * 1e3:.1f} ms, best "
        f"{min(times) * 1e3:.1f} ms over {args.repeats}; "
        f"{np.median(times) / counts['per step'] * 1e6:.0f} us per kernel"
    )


if __name__ == "__main__":
    main()
