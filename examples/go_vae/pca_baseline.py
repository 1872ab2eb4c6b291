"""A linear baseline for the GO-structured VAE: PCA with as many components as the VAE's latent,
fitted on each training fold (after the same standardisation) and scored by how well it
reconstructs the held-out cells — the same folds, inputs and metric as `pknet run spec.yaml`.

    python examples/go_vae/pca_baseline.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import pknet
from pknet.compiler import compile_network
from pknet.compiler.dataset import load_dataset
from pknet.compiler.model.run_plan import build_run_plan
from pknet.runtime.metrics import compute_metrics, summarize
from pknet.runtime.splits import make_splits

SPEC = Path(__file__).with_name("spec.yaml")


def main() -> None:
    spec = pknet.load_spec(SPEC)
    network = compile_network(spec)
    dataset = load_dataset(spec, network.input_columns, network)
    plan = build_run_plan(spec)
    splits = make_splits(plan.cv, dataset.y, dataset.task, plan.seed)
    n = spec.model.latent
    per_fold = []
    for split in splits:
        train = dataset.x[split.train]
        mean, sd = train.mean(axis=0), train.std(axis=0)
        sd[sd == 0] = 1.0
        fit, test = (train - mean) / sd, (dataset.x[split.test] - mean) / sd
        axes = np.linalg.svd(fit - fit.mean(axis=0), full_matrices=False)[2][:n]
        centre = fit.mean(axis=0)
        recon = (test - centre) @ axes.T @ axes + centre
        per_fold.append(
            compute_metrics(list(spec.evaluate.metrics), test.ravel(), recon.ravel(), "regression")
        )
    for name, value in summarize(per_fold).items():
        print(f"PCA ({n} components)  {name:4s} {value['mean']:.4f} ± {value['sd']:.4f}")


if __name__ == "__main__":
    main()
