"""`network.names`: readable node names read at compile time; bad tables are located errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import pknet
from pknet.cli import app
from pknet.errors import CompileError

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data"
NAMES = ROOT / "examples" / "pathway_proteomics" / "data" / "pathway_names.tsv"
SPEC = f"""\
version: 1
name: names
data:
  expression: {{file: {DATA}/matrices/plasma_proteomics_20x30.csv, orientation: samples_as_columns}}
  target: {{file: {DATA}/matrices/plasma_proteomics_design_30.tsv, index: sample, column: group}}
  missing: mean
network:
  edges:
    - {{kind: hierarchy, file: {DATA}/networks/reactome_plasma20_hierarchy.tsv}}
    - {{kind: annotation_table, file: {DATA}/networks/reactome_plasma20_uniprot_to_pathway.tsv,
       member: uniprot, term: pathway}}
  names:
NAMES
model:
  layers: [{{kind: hierarchy}}, {{kind: dense, units: 1}}]
loss: bce
"""


def spec_file(tmp_path: Path, names: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("NAMES", names))
    return path


def test_names_of_the_network_nodes_first_table_first(tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text("id,label\nR-HSA-168256,my immune system\nR-HSA-1643685,\nP01023,A1AT\n")
    names = (
        f"    - {{file: {mine}, id: id, name: label}}\n"
        f"    - {{file: {NAMES}, id: pathway, name: name}}"
    )
    compiled = pknet.compile_spec(spec_file(tmp_path, names))
    table = (
        pd.read_csv(NAMES, sep="\t")
        .drop_duplicates("pathway")
        .set_index("pathway")["name"]
        .str.strip()
    )
    nodes = set(compiled.network.nodes)
    expected = {node: table[node] for node in nodes if node in table.index}
    expected |= {"R-HSA-168256": "my immune system", "P01023": "A1AT"}  # the first table wins
    assert compiled.names == expected
    assert compiled.names["R-HSA-1643685"] == "Disease"  # an empty name names nothing
    assert set(compiled.names) <= nodes


def test_one_table_without_a_list(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "")
    one = f"  names: {{file: {NAMES}, id: pathway, name: name}}\n"
    path.write_text(path.read_text().replace("  names:\n\n", one))
    assert pknet.compile_spec(path).names["R-HSA-168256"] == "Immune System"


@pytest.mark.parametrize(
    ("names", "where", "message"),
    [
        (
            f"    - {{file: {NAMES}, id: pathway, name: nmae}}",
            "network.names[0].name",
            "column `nmae` not found in pathway_names.tsv (its columns: pathway, name)",
        ),
        (
            f"    - {{file: {NAMES}, id: pathway, name: name}}\n"
            f"    - {{file: {NAMES}, id: id, name: name}}",
            "network.names[1].id",
            "column `id` not found",
        ),
    ],
)
def test_a_missing_column_is_located_at_its_field(
    tmp_path: Path, names: str, where: str, message: str
) -> None:
    with pytest.raises(CompileError) as caught:
        pknet.compile_spec(spec_file(tmp_path, names))
    problem = caught.value.problems[0]
    assert problem.path == where and message in problem.message
    assert problem.location.source.endswith("spec.yaml") and problem.location.line is not None


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (
            "    - {file: nowhere.tsv, id: pathway, name: name}",
            "network.names[0].file: file not found: nowhere.tsv",
        ),
        (
            f"    - {{file: {NAMES}, id: pathway, name: pathway}}",
            "network.names[0].name: `id` and `name` name the same column `pathway`",
        ),
        (f"    - {{file: {NAMES}, id: pathway}}", "network.names[0].name: missing required key"),
        (
            f"    - {{file: {NAMES}, id: pathway, name: name, column: x}}",
            "network.names[0].column: unknown key `column`",
        ),
    ],
)
def test_validate_catches_what_needs_no_reading(tmp_path: Path, names: str, expected: str) -> None:
    result = CliRunner().invoke(app, ["validate", str(spec_file(tmp_path, names))])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert expected in result.output


def test_an_unreadable_table_names_the_file_and_the_field(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n")
    with pytest.raises(CompileError) as caught:
        pknet.compile_spec(spec_file(tmp_path, f"    - {{file: {empty}, id: a, name: b}}"))
    problem = caught.value.problems[0]
    assert problem.path == "network.names[0]" and problem.location.source == str(empty)
