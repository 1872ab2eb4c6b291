"""Write what `compile` produced: pruned edges, the report and the MILP (MPS)."""

from __future__ import annotations

import json
from pathlib import Path

from pknet.compiler.network.compile_network import CompiledNetwork

EDGES_FILE = "edges.pruned.tsv"
REPORT_FILE = "report.json"
MILP_FILE = "prune.mps"


def write_network_files(compiled: CompiledNetwork, folder: Path) -> list[Path]:
    """Write `edges.pruned.tsv` (from, to, sign, weight), `report.json` and `prune.mps`."""
    folder.mkdir(parents=True, exist_ok=True)
    edges = folder / EDGES_FILE
    compiled.network.to_frame().to_csv(edges, sep="\t", index=False)
    report = folder / REPORT_FILE
    report.write_text(json.dumps(compiled.report(), indent=2) + "\n", encoding="utf-8")
    written = [edges, report]
    if compiled.pruning is not None:
        from pknet.compiler.network.prune import write_mps

        written.append(write_mps(compiled.pruning.problem, folder / MILP_FILE))
    return written
