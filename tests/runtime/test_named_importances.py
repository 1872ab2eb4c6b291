"""A `hierarchy` run with `network.names`: readable names in importances.csv and report.md, and
copy and feature nodes folded into their pathway or protein in the top lists."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pknet

pytestmark = pytest.mark.slow  # an end-to-end run

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data"
NAMES = ROOT / "examples" / "pathway_proteomics" / "data" / "pathway_names.tsv"
SPEC = f"""\
version: 1
name: named-plasma
data:
  expression: {{file: {DATA}/matrices/plasma_proteomics_20x30.csv, orientation: samples_as_columns}}
  target: {{file: {DATA}/matrices/plasma_proteomics_design_30.tsv, index: sample, column: group}}
  missing: mean
network:
  edges:
    - {{kind: hierarchy, file: {DATA}/networks/reactome_plasma20_hierarchy.tsv}}
    - {{kind: annotation_table, file: {DATA}/networks/reactome_plasma20_uniprot_to_pathway.tsv,
       member: uniprot, term: pathway}}
  names: {{file: {NAMES}, id: pathway, name: name}}
model:
  layers: [{{kind: hierarchy, min_genes: 2, padding: copy}}, {{kind: dense, units: 1}}]
loss: bce
train: {{epochs: 2, batch_size: 8}}
evaluate: {{cv: {{kind: kfold, folds: 2}}, metrics: [roc_auc]}}
explain: [gradient_x_input]
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("named")
    (folder / "spec.yaml").write_text(SPEC)
    return pknet.run(folder / "spec.yaml", out=folder / "run").run_dir


def test_importances_name_every_pathway_and_mark_folded_nodes(run_dir: Path) -> None:
    table = pd.read_csv(run_dir / "importances.csv", keep_default_na=False)
    names = pd.read_csv(NAMES, sep="\t").drop_duplicates("pathway")
    known = dict(zip(names["pathway"], names["name"].str.strip(), strict=True))
    bases = np.where(table["folded_into"] != "", table["folded_into"], table["node"])
    for node, base, name in zip(table["node"], bases, table["name"], strict=True):
        assert name == known.get(base, node)
    assert table["name"].str.len().max() > 30  # real pathway names
    copies = table[table["kind"] == "copy"]
    terms = copies["node"].str.replace(r"~copy\d+$", "", regex=True)
    assert len(copies) and (copies["folded_into"] == terms).all()
    inputs = table[table["kind"] == "input"]
    assert (inputs["folded_into"] + "~input" == inputs["node"]).all()
    assert (table.loc[~table["kind"].isin(["copy", "input"]), "folded_into"] == "").all()


def reported_top(report: str, method: str) -> list[tuple[str, float]]:
    """(node label, mean) of the report's top list of `method`."""
    section = report.split(f"nodes by {method}\n")[1].split("\n\n")[0].strip()
    rows = [line.split(" | ") for line in section.splitlines()[2:]]
    return [(row[0].removeprefix("| "), float(row[3])) for row in rows]


def test_the_report_lists_folded_pathways_by_name(run_dir: Path) -> None:
    report = (run_dir / "report.md").read_text()
    table = pd.read_csv(run_dir / "importances.csv", keep_default_na=False)
    folds = [c for c in table.columns if re.fullmatch(r"fold_\d+", c)]
    # brute force: per folded node and fold, the member of largest magnitude; mean over folds
    table["base"] = np.where(table["folded_into"] != "", table["folded_into"], table["node"])
    expected = {}
    for base, rows in table.groupby("base"):
        values = rows[folds].apply(pd.to_numeric).to_numpy()
        picked = values[np.abs(values).argmax(axis=0), np.arange(len(folds))]
        own = rows[rows["node"] == base]
        name = (own if len(own) else rows)["name"].iloc[0]
        label = base if name == base else f"{name} ({base})"
        expected[label] = picked.mean()
    top = reported_top(report, "gradient_x_input")
    assert len(top) == 10
    ranked = sorted(expected.items(), key=lambda item: -item[1])[:10]
    assert [label for label, _ in top] == [label for label, _ in ranked]
    for (_, mean), (_, reference) in zip(top, ranked, strict=True):
        assert mean == pytest.approx(reference, rel=1e-3)
    assert not any("~copy" in label or "~input" in label for label, _ in top)
    assert "are folded into the term or gene they stand for" in report
    assert re.search(r"\| [^|]+ \(R-HSA-\d+\) \| term \|", report)  # `name (id)` rows
    assert (run_dir / "figures" / "importances_gradient_x_input.png").is_file()
