"""Time each pruning stage on a synthetic prior of any size (default 2 million edges).

    python benchmarks/prune_scale.py --edges 2000000 [--cyclic 0.01] [--time-limit 600]

The prior is layered like a signalling PKN: half the nodes are leaves (the inputs), the rest
sit on hidden levels, and one root (the output) sits above them all. Every non-root node gets
one edge to a random node on a higher level, so everything reaches the output; the remaining
edges join random node pairs upwards. `--cyclic F` turns a fraction F of those other hidden →
hidden edges around, which closes cycles. The output is deterministic from `--seed`.
"""

from __future__ import annotations

import argparse
import json
import resource
import warnings
from time import perf_counter

import numpy as np

from pknet.compiler.network.network import Network
from pknet.compiler.network.prune import prune
from pknet.errors import SolverError

LEVELS = 6  # hidden levels between the leaves and the root
EDGES_PER_NODE = 4


def random_network(
    n_edges: int, *, cyclic: float = 0.0, seed: int = 0
) -> tuple[Network, np.ndarray, np.ndarray]:
    """A layered random prior with about `n_edges` edges, its inputs (leaves) and output."""
    rng = np.random.default_rng(seed)
    n = max(n_edges // EDGES_PER_NODE, 4)
    level = np.zeros(n, dtype=np.int64)
    level[n // 2 :] = rng.integers(1, LEVELS + 1, n - n // 2)
    level[-1] = LEVELS + 1
    order = np.argsort(level, kind="stable")
    above = np.searchsorted(level[order], level + 1)  # first node of a higher level, per node

    src = np.concatenate([np.arange(n - 1), rng.integers(0, n - 1, max(n_edges - n + 1, 0))])
    span = n - above[src]
    dst = order[above[src] + (rng.random(len(src)) * span).astype(np.int64)]
    hidden = (level[src] > 0) & (level[dst] <= LEVELS)
    hidden[: n - 1] = False  # the first out-edge of each node keeps every node reaching the root
    turn = hidden & (rng.random(len(src)) < cyclic)
    src[turn], dst[turn] = dst[turn], src[turn]

    width = len(str(n))
    nodes = tuple(f"n{i:0{width}d}" for i in range(n))  # sorted names in index order
    edges = np.lexsort((dst, src))
    net = Network(nodes, src[edges], dst[edges], np.zeros(len(src), np.int8), np.ones(len(src)))
    return net, np.flatnonzero(level == 0), np.array([n - 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=2_000_000)
    parser.add_argument("--cyclic", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument(
        "--formulation",
        default="auto",
        choices=["auto", "arborescence", "ordered_arborescence", "flow"],
    )
    args = parser.parse_args()

    start = perf_counter()
    net, inputs, outputs = random_network(args.edges, cyclic=args.cyclic, seed=args.seed)
    print(
        f"generated {net.n_nodes:,} nodes, {net.n_edges:,} edges, {len(inputs):,} inputs "
        f"in {perf_counter() - start:.1f} s"
    )
    start = perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            report = prune(
                net, inputs, outputs, formulation=args.formulation, time_limit_s=args.time_limit
            ).report
    except SolverError as err:  # out of time: the message has the seconds per stage
        print(err.format())
    else:
        for warning in caught:
            print(f"warning: {warning.message}")
        print(json.dumps({name: round(t, 2) for name, t in report.stage_seconds.items()}))
        print(
            f"{report.formulation}: {report.status}, objective {report.objective:g}, gap "
            f"{report.gap:.2%}; {report.size_after.rows:,} rows x {report.size_after.cols:,} "
            "cols after presolve"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"prune {perf_counter() - start:.1f} s wall; peak RSS {rss:.1f} GB")


if __name__ == "__main__":
    main()
