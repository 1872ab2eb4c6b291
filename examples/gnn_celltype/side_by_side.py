"""Two runs' training curves side by side, as one small PNG.

    python examples/gnn_celltype/side_by_side.py RUN_A RUN_B OUT.png [--titles A B]

Reads `figures/training.png` of each run directory (written by `pknet run`) and puts them next
to each other, e.g. the MLP (`dense.yaml`) and the feature-graph GCN (`feature_gcn.yaml`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs=2, type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--titles", nargs=2, default=None)
    args = parser.parse_args()
    titles = args.titles or [run.name for run in args.runs]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=90)
    for ax, run, title in zip(axes, args.runs, titles, strict=True):
        ax.imshow(plt.imread(run / "figures" / "training.png"))
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)


if __name__ == "__main__":
    main()
