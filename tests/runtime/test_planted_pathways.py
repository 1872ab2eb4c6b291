"""A planted problem: labels driven by the genes of two known Reactome terms.

The expression data are synthetic (made here, seeded); the hierarchy is a real Reactome subset.
A hierarchy model should rank the two planted terms above their shuffled-prior controls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pknet

NETWORKS = Path(__file__).parents[1] / "data" / "networks"
PLANTED = ("R-HSA-211733", "R-HSA-5620971")  # PAK-2p34 regulation (37 genes); Pyroptosis (27)


def planted_data(folder: Path, n: int = 240, seed: int = 0) -> None:
    members = pd.read_csv(NETWORKS / "reactome_pcd_uniprot_to_pathway.tsv", sep="\t")
    proteins = sorted(members["uniprot"].unique())
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(proteins)))
    y = rng.integers(0, 2, n)
    for term in PLANTED:
        drivers = set(members.loc[members["pathway"] == term, "uniprot"])
        columns = [i for i, p in enumerate(proteins) if p in drivers]
        x[:, columns] += 0.3 * (2 * y[:, None] - 1)
    samples = [f"s{i:03d}" for i in range(n)]
    pd.DataFrame(x, index=samples, columns=proteins).to_csv(folder / "expression.csv")
    pd.DataFrame({"sample": samples, "label": y}).to_csv(folder / "labels.csv", index=False)


@pytest.mark.slow
def test_hierarchy_ranks_planted_terms_above_their_controls(tmp_path: Path) -> None:
    planted_data(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""version: 1
name: planted
data:
  expression: {{file: expression.csv}}
  target: {{file: labels.csv, index: sample, column: label}}
  transform: [standardize]
network:
  edges:
    - {{kind: annotation_table, file: {NETWORKS / "reactome_pcd_uniprot_to_pathway.tsv"},
       member: uniprot, term: pathway}}
    - {{kind: hierarchy, file: {NETWORKS / "reactome_pcd_hierarchy.tsv"}}}
  inputs: leaves & measured
  outputs: roots
model:
  layers:
    - {{kind: hierarchy, activation: tanh, units_per_term: 4}}
    - {{kind: dense, units: 1}}
loss: bce
train: {{optimizer: {{name: adam, lr: 0.01}}, epochs: 60, batch_size: 32}}
evaluate: {{cv: {{kind: stratified_kfold, folds: 3}}, metrics: [roc_auc]}}
explain: {{methods: [activation_auc], control: shuffled}}
"""
    )
    result = pknet.run(spec, out=tmp_path / "run")
    assert result.metrics["summary"]["roc_auc"]["mean"] > 0.9
    table = result.outcome.importances.set_index("node")
    for term in PLANTED:
        assert table.loc[term, "above_control"], table.loc[term]
