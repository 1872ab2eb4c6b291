"""Benchmark: pknet's pruning MILP against CORNETO's `AcyclicFlow` on the same instances.

Not run by CI. Needs the `bench` extra (corneto). Run from the repository root:

    python benchmarks/prune_vs_corneto.py --time-limit 60

Instances
- `tcr`: the KPNN TCR network (a DAG), every leaf gene an input, `TCR` the output.
- `dorothea`: DoRothEA A+B regulons (target gene → TF, the direction information flows), cyclic;
  inputs are the target-only genes that reach an output TF, outputs five hub TFs.

Both tools solve `min_edges` (CORNETO's KPNN pruning: boundary edges of inputs and outputs
forced on, minimise edges with flow) with HiGHS under the same time limit. CORNETO's objective
counts its boundary edges; they are subtracted, so both objectives count prior edges.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from time import perf_counter

import numpy as np
import pandas as pd

from pknet.compiler.network.hygiene import clean_network
from pknet.compiler.network.network import Network
from pknet.compiler.network.prune import prune

ROOT = Path(__file__).resolve().parents[1]
TCR_EDGES = ROOT / "examples" / "kpnn_tcr" / "data" / "TCR_Edgelist.csv"
DOROTHEA_EDGES = ROOT / "tests" / "data" / "dorothea_hs_ab.tsv"
DOROTHEA_OUTPUTS = ("HIF1A", "MYC", "NFKB1", "STAT1", "TP53")


def tcr_instance() -> tuple[Network, np.ndarray, np.ndarray]:
    edges = pd.read_csv(TCR_EDGES)
    net = Network.from_edges(edges["child"].to_numpy(), edges["parent"].to_numpy())
    return net, np.flatnonzero(net.in_degree() == 0), net.index_of(["TCR"])


def dorothea_instance() -> tuple[Network, np.ndarray, np.ndarray]:
    edges = pd.read_csv(DOROTHEA_EDGES, sep="\t")
    net = Network.from_edges(edges["target"].to_numpy(), edges["tf"].to_numpy())
    leaves = np.asarray(net.nodes, dtype=object)[net.in_degree() == 0]
    cleaned, _ = clean_network(net, net.index_of(list(leaves)), net.index_of(DOROTHEA_OUTPUTS))
    inputs = cleaned.index_of([n for n in leaves if cleaned.has_node(n)])
    return cleaned, inputs, cleaned.index_of(DOROTHEA_OUTPUTS)


def run_pknet(
    net: Network, inputs: np.ndarray, outputs: np.ndarray, time_limit: float, formulation: str
) -> dict[str, object]:
    start = perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a time-limit warning is in the status column
        result = prune(net, inputs, outputs, formulation=formulation, time_limit_s=time_limit)
    report = result.report
    return {
        "tool": f"pknet/{report.formulation}",
        "status": report.status,
        "objective": report.objective,
        "bound": report.best_bound,
        "gap": report.gap,
        "seconds": perf_counter() - start,
    }


def run_corneto(
    net: Network, inputs: np.ndarray, outputs: np.ndarray, time_limit: float
) -> dict[str, object]:
    """CORNETO's KPNN pruning: AcyclicFlow with forced boundary edges, minimise edges used."""
    import corneto as cn

    start = perf_counter()
    names = np.asarray(net.nodes, dtype=object)
    graph = cn.Graph()
    graph.add_edges(list(zip(names[net.src], names[net.dst], strict=True)))
    boundary = []
    for node in names[inputs]:
        boundary.append(graph.num_edges)
        graph.add_edge((), node)
    for node in names[outputs]:
        boundary.append(graph.num_edges)
        graph.add_edge(node, ())
    problem = cn.opt.AcyclicFlow(graph)
    problem += problem.expr.with_flow[boundary] == 1
    problem.add_objectives(problem.expr.with_flow.sum())
    solved = problem.solve(solver="highs", max_seconds=int(time_limit))
    info = solved.solver_stats.extra_stats
    objective = float(solved.value) - len(boundary)
    bound = float(info.mip_dual_bound) - len(boundary)
    return {
        "tool": "corneto/AcyclicFlow",
        "status": solved.status,
        "objective": objective,
        "bound": bound,
        "gap": (objective - bound) / max(abs(objective), 1e-9),
        "seconds": perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per solve")
    parser.add_argument("--instances", default="tcr,dorothea", help="comma-separated")
    args = parser.parse_args()
    # cvxpy warns on every time-limited solve; the status column says it.
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")

    instances = {"tcr": tcr_instance, "dorothea": dorothea_instance}
    pknet_forms = {"tcr": ["auto"], "dorothea": ["auto", "flow"]}
    header = f"{'instance':<10}{'tool':<34}{'status':<12}{'objective':>10}{'bound':>10}"
    print(header + f"{'gap':>9}{'seconds':>10}{'corneto/pknet':>15}")
    for name in args.instances.split(","):
        net, inputs, outputs = instances[name]()
        print(
            f"# {name}: {net.n_nodes} nodes, {net.n_edges} edges, {len(inputs)} inputs, "
            f"{len(outputs)} outputs, acyclic={net.is_acyclic()}"
        )
        rows = [run_pknet(net, inputs, outputs, args.time_limit, f) for f in pknet_forms[name]]
        corneto = run_corneto(net, inputs, outputs, args.time_limit)
        for row in [*rows, corneto]:
            ratio = corneto["seconds"] / row["seconds"]
            print(
                f"{name:<10}{row['tool']:<34}{row['status']:<12}{row['objective']:>10.0f}"
                f"{row['bound']:>10.1f}{row['gap']:>9.2%}{row['seconds']:>10.2f}{ratio:>14.1f}x"
            )


if __name__ == "__main__":
    main()
