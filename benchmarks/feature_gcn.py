"""Benchmark: one training step of the feature-graph GCN example, `GcnOperator` vs `segment_sum`.

    python benchmarks/feature_gcn.py [--repeats 8] [--set model.layers=...]

Builds the model of `examples/gnn_celltype/feature_gcn.yaml` (a GCN over the kNN graph of its
765 genes) as the run does, then times one step of 5 folds x 64 cells (`value_and_grad` of the
cross-entropy, vmapped over the folds, jitted, as the trainer does) two ways, alternately: the
model's `GcnOperator` through `model.batched` (the trainer's path), and the same model
propagating by `gcn_propagate` (`segment_sum`) vmapped over the cells (the path before). It
reports each one's compile and first step, minimum and median step. The gradients must agree up
to float32 summation order.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from time import perf_counter

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pknet.compiler.model.layers.graph import gcn_propagate
from step_variants import compare_variants

SPEC = Path(__file__).resolve().parents[1] / "examples" / "gnn_celltype" / "feature_gcn.yaml"


class SegmentSum(eqx.Module):
    """The reference propagation over the model's edge arrays, in place of its operator."""

    senders: jax.Array
    receivers: jax.Array

    def __call__(self, h: jax.Array) -> jax.Array:
        weights = jnp.ones(self.senders.shape, h.dtype)
        return gcn_propagate(h, self.senders, self.receivers, weights)


def program_and_data(overrides: list[str]):
    """The spec's program and dataset (as `pknet.api.train_and_evaluate` builds them)."""
    from pknet.api import load_spec
    from pknet.compiler.dataset import load_dataset
    from pknet.compiler.model.feature_graph import feature_graph
    from pknet.compiler.model.program import build_program

    spec = load_spec(SPEC, overrides)
    data = load_dataset(spec, None, None)
    graph = feature_graph(spec, data.x, data.features)
    program = build_program(spec, None, data.x.shape[1], data.task, len(data.classes), 1, graph)
    return program, data, graph


def step_of(models: list[eqx.Module], x: jax.Array, y: jax.Array, *, batched: bool):
    """The jitted step over the folds' models, and its first result (compiles it): through
    `model.batched` (the trainer's path), or `vmap` over the cells (the path before it)."""
    params = jax.tree.map(
        lambda *a: jnp.stack(a), *(eqx.filter(m, eqx.is_inexact_array) for m in models)
    )
    static = eqx.partition(models[0], eqx.is_inexact_array)[1]

    def loss(p, xb, yb):
        model = eqx.combine(p, static)
        logits = model.batched(xb) if batched else jax.vmap(model)(xb)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], axis=1))

    step = jax.jit(jax.vmap(jax.value_and_grad(loss)))
    return lambda: jax.block_until_ready(step(params, x, y)), step(params, x, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--set", action="append", default=[], help="spec override")
    args = parser.parse_args()
    program, data, graph = program_and_data(args.set)
    degree = np.bincount(graph.receivers, minlength=graph.n_nodes)
    print(
        f"{graph.n_nodes} nodes, {graph.n_edges} edges, in-degree min {degree.min()} "
        f"median {np.median(degree):.0f} max {degree.max()}"
    )
    keys = jax.random.split(jax.random.key(0), 5)
    x = jnp.asarray(data.x[:320], jnp.float32)
    x = ((x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)).reshape(5, 64, -1)
    y = jnp.asarray(data.y[:320], jnp.int32).reshape(5, 64)
    models = [program.init_model(k) for k in keys]
    reference = SegmentSum(models[0].senders, models[0].receivers)
    variants = {}
    for name, fold_models, batched in (
        ("segment_sum", [eqx.tree_at(lambda m: m.operator, m, reference) for m in models], False),
        ("GcnOperator", models, True),
    ):
        start = perf_counter()
        variants[name] = (*step_of(fold_models, x, y, batched=batched), perf_counter() - start)
    compare_variants(variants, args.repeats, milliseconds=True)


if __name__ == "__main__":
    main()
