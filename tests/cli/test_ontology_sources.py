"""OBO + GAF specs: broken ontologies and annotations to unknown terms end in exit code 2 with a
located message and nothing written; `unknown_terms: drop` leaves such annotations out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pknet
from pknet.cli import app

NETWORKS = Path(__file__).parents[1] / "data" / "networks"
OBO = NETWORKS / "goslim_generic.obo"
GAF = NETWORKS / "human_gene_to_go_bp_5genes.gaf"
GENES = ["BAX", "CASP3", "CD3E", "LCK", "ZAP70"]
GAF_FIRST_ROW = 4  # after three `!` comment lines: BAX -> GO:0001541, not a GO-slim term
IN_SLIM = 3  # of 248 rows: CD3E -> GO:0065003, LCK and ZAP70 -> GO:0030154
runner = CliRunner()


def go_edges(obo: Path = OBO, gaf_options: str = "") -> str:
    return f"    - {{kind: obo, file: {obo}}}\n    - {{kind: gaf, file: {GAF}{gaf_options}}}\n"


def write_spec(folder: Path, edges: str) -> Path:
    """A hierarchy spec over `edges` (YAML list items) and random data for the five genes."""
    rng = np.random.default_rng(0)
    samples = [f"s{i}" for i in range(20)]
    matrix = pd.DataFrame(rng.normal(size=(20, 5)), index=samples, columns=GENES)
    matrix.to_csv(folder / "expression.csv")
    pd.DataFrame({"sample": samples, "y": [0, 1] * 10}).to_csv(folder / "labels.csv", index=False)
    spec = folder / "spec.yaml"
    spec.write_text(
        f"""version: 1
name: go-slim
data:
  expression: {{file: expression.csv}}
  target: {{file: labels.csv, index: sample, column: y}}
network:
  edges:
{edges}model:
  layers:
    - {{kind: hierarchy, activation: tanh}}
    - {{kind: dense, units: 1}}
loss: bce
train: {{epochs: 1, batch_size: 8}}
evaluate: {{cv: {{kind: stratified_kfold, folds: 2}}, metrics: [accuracy]}}
"""
    )
    return spec


def broken_obo(folder: Path) -> tuple[Path, int]:
    """GO slim with its first `is_a` line missing the colon; also that line's number."""
    lines = OBO.read_text().splitlines()
    line = next(i for i, text in enumerate(lines) if text.startswith("is_a:")) + 1
    lines[line - 1] = "is_a GO:0008150"
    path = folder / "broken.obo"
    path.write_text("\n".join(lines) + "\n")
    return path, line


@pytest.mark.parametrize("command", ["compile", "run"])
def test_obo_syntax_error_names_the_line_and_writes_nothing(tmp_path: Path, command: str) -> None:
    obo, line = broken_obo(tmp_path)
    spec, out = write_spec(tmp_path, go_edges(obo)), tmp_path / "out"
    result = runner.invoke(app, [command, str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert f"error: {obo}:{line}: network.edges[0]: expected 'tag: value'" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("command", ["compile", "run"])
def test_annotation_to_an_unknown_term_names_the_gaf_line(tmp_path: Path, command: str) -> None:
    spec, out = write_spec(tmp_path, go_edges()), tmp_path / "out"
    result = runner.invoke(app, [command, str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert (
        f"error: {GAF}:{GAF_FIRST_ROW}: network.edges[1]: 'BAX' is annotated to 'GO:0001541', "
        f"which is not a term of goslim_generic.obo ({248 - IN_SLIM} annotation(s) cite"
    ) in result.output
    assert "set `unknown_terms: drop` on this network source" in result.output
    assert not out.exists()


def test_unknown_terms_drop_keeps_the_known_annotations_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    spec = write_spec(tmp_path, go_edges(gaf_options=", unknown_terms: drop"))
    compiled = pknet.compile_spec(spec, out=tmp_path / "out")
    report = json.loads((tmp_path / "out" / "network" / "report.json").read_text())
    assert report["unknown_terms_dropped"] == compiled.unknown_terms_dropped == 248 - IN_SLIM
    assert sorted(compiled.network.nodes[i] for i in compiled.inputs) == ["CD3E", "LCK", "ZAP70"]


def test_hierarchy_tables_do_not_close_the_term_set(tmp_path: Path) -> None:
    """A pathway annotated but absent from the hierarchy table is a pathway, not an error."""
    (tmp_path / "members.tsv").write_text(
        "gene\tpathway\nBAX\tP1\nCASP3\tP1\nCD3E\tP2\nZAP70\tP2\nLCK\tP3\n"
    )
    (tmp_path / "hierarchy.tsv").write_text("parent\tchild\nTOP\tP1\nTOP\tP2\n")
    edges = (
        "    - {kind: annotation_table, file: members.tsv, member: gene, term: pathway}\n"
        "    - {kind: hierarchy, file: hierarchy.tsv}\n"
    )
    compiled = pknet.compile_spec(write_spec(tmp_path, edges))
    assert sorted(compiled.network.nodes[i] for i in compiled.outputs) == ["P3", "TOP"]
    assert compiled.unknown_terms_dropped == 0
