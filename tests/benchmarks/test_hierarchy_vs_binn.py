"""The pknet-vs-BINN hierarchy benchmark: its size filter against pknet's own, the GO-size
generator, and a quick run (pknet's side only unless `binn` is importable; CI has no binn)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from pknet.api import compile_spec
from pknet.compiler.model.layers.hierarchy import layered_hierarchy

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load() -> ModuleType:
    path = BENCHMARKS / "hierarchy_vs_binn.py"
    spec = importlib.util.spec_from_file_location("hierarchy_vs_binn", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


bench = _load()


def _kept_terms(folder: Path, data: Path, mapping: str, hierarchy: str, min_genes: int) -> set:
    """The terms pknet's `hierarchy` layer keeps over these files with this `min_genes`."""
    spec = folder / f"spec-{min_genes}.yaml"
    spec.write_text(
        bench.SPEC.format(
            name="filter",
            seed=0,
            matrix=data / "matrix.csv",
            design=data / "design.tsv",
            mapping=mapping,
            hierarchy=hierarchy,
            units=1,
            dropout=0.0,
            lr=0.01,
            epochs=1,
            batch=32,
            folds=2,
        )
    )
    compiled = compile_spec(spec)
    layered = layered_hierarchy(
        compiled.network, compiled.inputs, compiled.outputs, min_genes=min_genes
    )
    names = np.asarray(layered.network.nodes, dtype=object)
    return set(names[np.asarray(layered.node_kind) == "term"])


def test_size_filter_is_pknets_rule(tmp_path: Path) -> None:
    """The filtered files hold exactly the terms pknet keeps with `min_genes: 3` on the
    unfiltered files, so pknet with `min_genes: 1` on them (and BINN) see the same network."""
    case = bench.proteomics_case(tmp_path / "data", 3)
    data = case.matrix.parent
    unfiltered = _kept_terms(
        tmp_path,
        data,
        str(bench.EXAMPLE / "uniprot_to_pathway.tsv"),
        str(bench.EXAMPLE / "pathway_hierarchy.tsv"),
        3,
    )
    filtered = _kept_terms(tmp_path, data, str(case.mapping), str(case.hierarchy), 1)
    assert filtered == unfiltered
    assert len(filtered) == case.n_terms


def test_go_case_is_seeded_and_planted(tmp_path: Path) -> None:
    def make(folder: str, seed: int):
        return bench.make_go_case(
            tmp_path / folder, genes=300, samples=80, seed=seed, min_genes=3, scale=0.05
        )

    first, again, other = make("a", 1), make("b", 1), make("c", 2)
    for name in ("matrix", "design", "mapping", "hierarchy"):
        assert getattr(first, name).read_bytes() == getattr(again, name).read_bytes()
    assert first.matrix.read_bytes() != other.matrix.read_bytes()
    matrix = pd.read_csv(first.matrix).set_index("Protein")
    design = pd.read_csv(first.design, sep="\t")
    assert matrix.shape == (300, 80) and sorted(design["group"].unique()) == [1, 2]
    genes = json.loads((tmp_path / "a" / "truth.json").read_text())["genes"]
    assert len(genes) >= 5
    positive = design.set_index("sample")["group"] == 2
    shift = matrix.loc[genes, positive[positive].index].mean(axis=1) - matrix.loc[
        genes, positive[~positive].index
    ].mean(axis=1)
    assert (shift > 0).mean() > 0.8  # the planted genes are up in the positives


@pytest.mark.slow
def test_quick_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--quick` runs end to end; without `binn` installed, pknet's side only."""
    has_binn = importlib.util.find_spec("binn") is not None
    argv = ["--quick", "--size", "go", "--workdir", str(tmp_path)]
    results = bench.main(argv if has_binn else [*argv, "--skip-binn"])
    pk = results["go"]["pknet"]
    assert pk["wall_s"] > 0 and pk["peak_rss_mb"] > 0
    assert len(pk["roc_auc"]) == 3 and len(pk["test_samples"]) == 3
    assert (results["go"]["binn"] is not None) == has_binn
    assert "pknet (" in capsys.readouterr().out
