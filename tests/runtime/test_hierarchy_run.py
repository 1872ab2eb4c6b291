"""The pathway example, shortened: its run directory reports the hierarchy filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pknet
from pknet.compiler.model.layers import NetworkLayer

pytestmark = pytest.mark.slow  # end-to-end runs

EXAMPLE = Path(__file__).parents[2] / "examples" / "pathway_proteomics" / "spec.yaml"
QUICK = {
    "train.epochs": 2,
    "evaluate.cv.folds": 2,
    "explain.methods": ["gradient_x_input"],
    "explain.control": "none",
}


@pytest.fixture(scope="module")
def pathway_run(tmp_path_factory: pytest.TempPathFactory) -> pknet.RunResult:
    return pknet.run(EXAMPLE, QUICK, out=tmp_path_factory.mktemp("pathway") / "run")


def test_run_directory_holds_the_hierarchy_report(pathway_run) -> None:
    layer = pathway_run.outcome.trained.model(0).layers[0]
    assert isinstance(layer, NetworkLayer)
    written = json.loads((pathway_run.run_dir / "network" / "hierarchy.json").read_text())
    assert written == layer.report.to_dict()
    assert written["n_too_small"] > 0  # `min_genes: 3` drops pathways
    report = (pathway_run.run_dir / "report.md").read_text()
    assert f"- **hierarchy**: {layer.report.n_terms_kept} of {layer.report.n_terms} terms" in report


def test_pathway_importances_carry_fan_in_and_normalised_values(pathway_run) -> None:
    table = pathway_run.outcome.importances
    layer = pathway_run.outcome.trained.model(0).layers[0]
    fan_in = dict(zip(layer.node_names, layer.node_fan_in, strict=True))
    assert (table["fan_in"] == table["node"].map(fan_in)).all()
    terms = table[table["kind"] == "term"]
    assert terms["normalized"].notna().all() and (terms["normalized"] > 0).all()
