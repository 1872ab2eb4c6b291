"""The GO-like generator of `benchmarks/go_like.py` and the quick mode of
`benchmarks/hierarchy_scale.py` (a small hierarchy and its dense baseline, 3 epochs)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
go_like = pytest.importorskip("go_like")


def test_go_like_data_is_seeded_and_shaped_like_an_ontology() -> None:
    config = go_like.GoLikeConfig(n_genes=300, n_terms=200, depth=5, n_cells=40, seed=1)
    data, again = go_like.generate(config), go_like.generate(config)
    assert data.x.shape == (40, 300) and data.x.dtype == np.float32
    np.testing.assert_array_equal(data.x, again.x)
    assert data.hierarchy.equals(again.hierarchy) and data.annotations.equals(again.annotations)
    assert set(data.annotations["gene"]) <= set(data.genes)
    parents, children = set(data.hierarchy["parent"]), set(data.hierarchy["child"])
    assert go_like.ROOT in parents and go_like.ROOT not in children  # one root above all
    assert set(np.unique(data.labels)) == {0, 1}
    assert data.planted_term in set(data.annotations["term"])


@pytest.mark.slow
def test_quick_mode_reports_both_models_and_their_ratios(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    main = runpy.run_path(str(BENCHMARKS / "hierarchy_scale.py"))["main"]
    main(["--quick", "--work", str(tmp_path / "work"), "--json", str(out)])
    figures = json.loads(out.read_text())
    hierarchy, dense = figures["hierarchy"], figures["dense"]
    assert hierarchy["n_features"] == dense["n_features"] == 600
    assert hierarchy["report"]["n_copies"] > 0 and dense["report"] is None
    assert set(figures["ratios"]) == {"to_epoch1_s", "compile_s", "epoch_s", "wall_s"}
    assert all(value > 0 for value in figures["ratios"].values())
