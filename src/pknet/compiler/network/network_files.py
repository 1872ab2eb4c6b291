"""Write what `compile` produced: pruned edges, the report, the MILP (MPS), and the network for
other tools (SIF, and GraphML with node attributes, for Cytoscape)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pknet.compiler.network.compile_network import CompiledNetwork
from pknet.io.network_export import write_graphml, write_sif

EDGES_FILE = "edges.pruned.tsv"
REPORT_FILE = "report.json"
MILP_FILE = "prune.mps"
SIF_FILE = "network.sif"
GRAPHML_FILE = "network.graphml"
IMPORTANCE_STATISTICS = ("mean", "sd", "above_control")


def node_table(compiled: CompiledNetwork, importances: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per node of the pruned network: `node`, `kind` (input, output, hidden or term),
    `measured` (its name, after `network.features`, is a data column); with a run's importance
    table, `<method>_mean`, `<method>_sd` (and `<method>_above_control` with a control) per
    method (NaN, or absent, for nodes the method does not score)."""
    net = compiled.network
    kind = np.full(net.n_nodes, compiled.hidden_kind, dtype=object)
    kind[compiled.outputs] = "output"
    kind[compiled.inputs] = "input"
    table = pd.DataFrame({"node": net.nodes, "kind": kind, "measured": compiled.measured})
    if importances is None or not len(importances):
        return table
    for method, rows in importances.groupby("method", sort=False):
        scored = rows.drop_duplicates("node").set_index("node")
        for statistic in IMPORTANCE_STATISTICS:
            if statistic in scored:
                column = scored[statistic].reindex(table["node"])
                kept = column.astype(object).where(column.notna(), None)
                table[f"{method}_{statistic}"] = (
                    column.to_numpy(float) if statistic != "above_control" else kept.to_numpy()
                )
    return table


def write_network_files(
    compiled: CompiledNetwork, folder: Path, importances: pd.DataFrame | None = None
) -> list[Path]:
    """Write `edges.pruned.tsv` (from, to, sign, weight), `report.json`, `prune.mps` (when
    pruned), `network.sif` and `network.graphml` (node attributes from `node_table`)."""
    folder.mkdir(parents=True, exist_ok=True)
    edges = folder / EDGES_FILE
    frame = compiled.network.to_frame()
    frame.to_csv(edges, sep="\t", index=False)
    report = folder / REPORT_FILE
    report.write_text(json.dumps(compiled.report(), indent=2) + "\n", encoding="utf-8")
    written = [edges, report]
    if compiled.pruning is not None:
        from pknet.compiler.network.prune import write_mps

        written.append(write_mps(compiled.pruning.problem, folder / MILP_FILE))
    written.append(write_sif(folder / SIF_FILE, frame))
    written.append(write_graphml(folder / GRAPHML_FILE, frame, node_table(compiled, importances)))
    return written
