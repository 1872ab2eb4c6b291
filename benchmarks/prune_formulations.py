"""Benchmark: `flow`, `ordered_arborescence` and `auto` on the same pruning instances.

Not run by CI. Run from the repository root:

    python benchmarks/prune_formulations.py --time-limit 60 [--instances dorothea,omni-3k-a]

Per instance it prints each formulation's status, objective and wall seconds (`prune` from the
network to the pruned result), which formulation `auto` chose, and auto's time over the better
of the two named formulations (a proven optimum beats an unproven one; then the faster wins).

Instances
- `tcr` (a DAG) and `dorothea` (cyclic): as in `prune_vs_corneto.py`.
- `omni-*`: OmniPath-like signed priors with cycles (`omnipath_like`), seeded.
- `layered-*`: `prune_scale.py`'s layered prior with hidden edges turned around, a sample of its
  leaves as inputs.
- `random-200`: a small uniform random digraph (one large cyclic component).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from time import perf_counter

import numpy as np

from pknet.compiler.network.network import Network
from pknet.compiler.network.prune import prune
from pknet.errors import SolverError
from prune_scale import random_network
from prune_vs_corneto import dorothea_instance, tcr_instance

Instance = tuple[Network, np.ndarray, np.ndarray]
FORMULATIONS = ("flow", "ordered_arborescence", "auto")
ROLE_SHARES = (0.1, 0.7, 0.2)  # receptors, signalling intermediates, transcription factors
ACTIVATING = 0.7  # share of edges with sign +1


def omnipath_like(
    n_nodes: int,
    edges_per_node: float,
    n_inputs: int,
    n_outputs: int,
    *,
    feedback: float = 0.05,
    seed: int = 0,
) -> Instance:
    """A signed signalling prior shaped like OmniPath: receptors → intermediates → TFs.

    Edges join receptors to intermediates, intermediates among themselves (both ways, so large
    cycles form), intermediates to TFs, TFs to TFs, and, a share `feedback` of them, TFs back to
    intermediates (transcriptional feedback). Endpoints are drawn in proportion to heavy-tailed
    node weights, giving hubs. Inputs are random receptors, outputs random TFs, each kept only
    when connected to the other side.
    """
    rng = np.random.default_rng(seed)
    n_rec, n_tf = int(n_nodes * ROLE_SHARES[0]), int(n_nodes * ROLE_SHARES[2])
    role = np.ones(n_nodes, dtype=np.int64)
    role[:n_rec], role[n_nodes - n_tf :] = 0, 2
    weight = rng.pareto(1.5, n_nodes) + 1.0
    n_edges = int(n_nodes * edges_per_node)
    kinds = ((0, 1), (1, 1), (1, 2), (2, 1), (2, 2))
    shares = [0.15, 0.5, 0.2, feedback, 0.15 - feedback]
    kind = rng.choice(len(kinds), n_edges, p=shares)
    src = np.empty(n_edges, dtype=np.int64)
    dst = np.empty(n_edges, dtype=np.int64)

    def draw(of_role: int, size: int) -> np.ndarray:
        nodes = np.flatnonzero(role == of_role)
        return rng.choice(nodes, size, p=weight[nodes] / weight[nodes].sum())

    for k, (tail, head) in enumerate(kinds):
        here = kind == k
        src[here], dst[here] = draw(tail, int(here.sum())), draw(head, int(here.sum()))
    sign = np.where(rng.random(n_edges) < ACTIVATING, 1, -1)
    names = np.array([f"n{i:05d}" for i in range(n_nodes)], dtype=object)
    net = Network.from_edges(names[src], names[dst], sign=sign, extra_nodes=list(names))
    inputs = np.sort(rng.choice(np.flatnonzero(role == 0), n_inputs, replace=False))
    outputs = np.sort(rng.choice(np.flatnonzero(role == 2), n_outputs, replace=False))
    forward = net.reachable(inputs)
    backward = net.reachable(outputs, reverse=True)
    return net, inputs[backward[inputs]], outputs[forward[outputs]]


def layered(n_edges: int, cyclic: float, n_inputs: int, seed: int = 1) -> Instance:
    net, leaves, outputs = random_network(n_edges, cyclic=cyclic, seed=seed)
    rng = np.random.default_rng(seed)
    return net, np.sort(rng.choice(leaves, n_inputs, replace=False)), outputs


def uniform(n_nodes: int, edges_per_node: float, n_terminals: int, seed: int = 0) -> Instance:
    rng = np.random.default_rng(seed)
    n_edges = int(n_nodes * edges_per_node)
    src, dst = rng.integers(0, n_nodes, n_edges), rng.integers(0, n_nodes, n_edges)
    names = np.array([f"n{i:05d}" for i in range(n_nodes)], dtype=object)
    net = Network.from_edges(names[src], names[dst], extra_nodes=list(names))
    order = rng.permutation(n_nodes)
    inputs = np.sort(order[:n_terminals])
    outputs = np.sort(order[n_terminals : 2 * n_terminals])
    forward, backward = net.reachable(inputs), net.reachable(outputs, reverse=True)
    return net, inputs[backward[inputs]], outputs[forward[outputs]]


INSTANCES: dict[str, Callable[[], Instance]] = {
    "tcr": tcr_instance,
    "dorothea": dorothea_instance,
    "omni-1k": lambda: omnipath_like(1000, 5, 10, 10, seed=0),
    "omni-3k-a": lambda: omnipath_like(3000, 5, 20, 30, seed=1),
    "omni-3k-b": lambda: omnipath_like(3000, 8, 50, 50, seed=2),
    "omni-3k-c": lambda: omnipath_like(3000, 6, 1, 1, seed=6),
    "omni-3k-d": lambda: omnipath_like(3000, 6, 2, 10, feedback=0.1, seed=9),
    "omni-5k-a": lambda: omnipath_like(5000, 6, 5, 40, feedback=0.08, seed=3),
    "omni-5k-b": lambda: omnipath_like(5000, 6, 200, 100, seed=5),
    "layered-20k": lambda: layered(20_000, 0.2, 100),
    "layered-20k-half": lambda: layered(20_000, 0.5, 200),
    "random-200": lambda: uniform(200, 4, 5),
}


def run(instance: Instance, formulation: str, time_limit: float) -> dict[str, object]:
    net, inputs, outputs = instance
    start = perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a time-limit warning is in the status column
            result = prune(net, inputs, outputs, formulation=formulation, time_limit_s=time_limit)
    except SolverError:  # out of time before any feasible solution
        return {"status": "no_solution", "objective": np.nan, "seconds": perf_counter() - start}
    report = result.report
    return {
        "status": report.status,
        "objective": report.objective,
        "seconds": perf_counter() - start,
        "chosen": report.formulation,
    }


def better(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    """The proven one, else the one with a solution, else the faster."""
    rank = {"optimal": 0, "time_limit": 1}
    key_a = (rank.get(a["status"], 2), a["seconds"])
    key_b = (rank.get(b["status"], 2), b["seconds"])
    return a if key_a <= key_b else b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per prune")
    parser.add_argument("--instances", default=",".join(INSTANCES), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the fastest counts")
    args = parser.parse_args()

    print(
        f"{'instance':<18}{'nodes':>7}{'edges':>8}{'in':>7}{'out':>5}  "
        + "".join(f"{f + ' s':>24}" for f in FORMULATIONS)
        + f"{'objective':>11}  {'auto chose':<22}{'auto/better':>11}"
    )
    worst = 0.0
    for name in args.instances.split(","):
        instance = INSTANCES[name]()
        net, inputs, outputs = instance
        rows = {}
        for formulation in FORMULATIONS:
            runs = [run(instance, formulation, args.time_limit) for _ in range(args.repeat)]
            rows[formulation] = min(runs, key=lambda r: r["seconds"])
        best = better(rows["flow"], rows["ordered_arborescence"])
        ratio = rows["auto"]["seconds"] / best["seconds"]
        worst = max(worst, ratio)
        cells = "".join(
            f"{rows[f]['seconds']:>10.2f} ({rows[f]['status']:>11})" for f in FORMULATIONS
        )
        objectives = {r["objective"] for r in rows.values() if r["status"] == "optimal"}
        shown = "/".join(f"{o:g}" for o in sorted(objectives)) or "-"
        print(
            f"{name:<18}{net.n_nodes:>7}{net.n_edges:>8}{len(inputs):>7}{len(outputs):>5}  "
            f"{cells}{shown:>11}  {rows['auto'].get('chosen', '-'):<22}{ratio:>10.2f}x"
        )
    print(f"worst auto / better: {worst:.2f}x")


if __name__ == "__main__":
    main()
