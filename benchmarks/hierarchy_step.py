"""Benchmark: one training step of the GO-scale `hierarchy` model, padded rows vs `segment_sum`.

    python benchmarks/hierarchy_step.py [--repeats 8]

Builds the model of `hierarchy_scale.py` (the generated GO-BP-size hierarchy) twice in one
process: as the layer builds it, and with `PADDED_ROWS_MIN` above every level, so that every
level is a `segment_sum`. Times one step of 5 folds x 32 cells (`value_and_grad` of the BCE,
vmapped over the folds, jitted), the two alternately, and reports each one's minimum and median.
The gradients must agree up to float32 summation order.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from time import perf_counter

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import go_like
import hierarchy_scale
from pknet.compiler.model.layers import network_layer
from step_variants import compare_variants


def program_and_data(work: Path):
    """The hierarchy spec's program and dataset (as `pknet.api.train_and_evaluate` builds them)."""
    from pknet.api import compile_network
    from pknet.compiler.dataset import load_dataset
    from pknet.compiler.model.feature_graph import feature_graph
    from pknet.compiler.model.program import build_program
    from pknet.specs import load_spec

    paths = go_like.write(go_like.generate(go_like.GoLikeConfig()), work)
    spec = load_spec(hierarchy_scale.write_specs(paths, work, 1, 32)[0])
    network = compile_network(spec)
    data = load_dataset(spec, network.input_columns, network)
    program = build_program(
        spec,
        network,
        data.x.shape[1],
        data.task,
        len(data.classes),
        1,
        feature_graph(spec, data.x, data.features),
    )
    return program, data


def step_of(models: list[eqx.Module], x: jax.Array, y: jax.Array):
    """The jitted step over the folds' models, and its first result (compiles it)."""
    params = jax.tree.map(
        lambda *a: jnp.stack(a), *(eqx.filter(m, eqx.is_inexact_array) for m in models)
    )
    static = eqx.partition(models[0], eqx.is_inexact_array)[1]

    def loss(p, xb, yb):
        out = jax.vmap(eqx.combine(p, static))(xb)[:, 0]
        return jnp.mean(jnp.logaddexp(0.0, out) - yb * out)

    step = jax.jit(jax.vmap(jax.value_and_grad(loss)))
    return lambda: jax.block_until_ready(step(params, x, y)), step(params, x, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        program, data = program_and_data(Path(tmp))
    keys = jax.random.split(jax.random.key(0), 5)
    x = jnp.asarray(data.x[:160], jnp.float32).reshape(5, 32, -1)
    x = (x - x.mean()) / (x.std() + 1e-6)
    y = jnp.asarray(np.arange(160) % 2, jnp.float32).reshape(5, 32)
    variants = {}
    for name, limit in (
        ("segment_sum", sys.maxsize),
        ("padded rows", network_layer.PADDED_ROWS_MIN),
    ):
        saved, network_layer.PADDED_ROWS_MIN = network_layer.PADDED_ROWS_MIN, limit
        models = [program.init_model(k) for k in keys]
        network_layer.PADDED_ROWS_MIN = saved
        start = perf_counter()
        variants[name] = (*step_of(models, x, y), perf_counter() - start)
    compare_variants(variants, args.repeats)


if __name__ == "__main__":
    main()
