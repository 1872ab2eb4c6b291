"""Readable names and folded copy/feature nodes, against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pknet.runtime.node_names import base_node, folded_importances, node_label, with_names

NODES = ("T", "T~copy1", "T~copy2", "g~input", "g", "h~input", "U", "x_gene")
KINDS = ("term", "copy", "copy", "input", "gene", "input", "term", "input")
MODELS = ["fold_0", "fold_1", "fold_2"]


@pytest.mark.parametrize(
    ("node", "kind", "base"),
    [
        ("GO:1~copy1", "copy", "GO:1"),
        ("GO:1~copy12", "copy", "GO:1"),
        ("CD3E~input", "input", "CD3E"),
        ("CD3E_gene", "input", ""),  # a kpnn input is its own node
        ("T", "term", ""),
        ("a~input", "gene", ""),  # only a feature node folds into its gene
    ],
)
def test_base_node(node: str, kind: str, base: str) -> None:
    assert base_node(node, kind) == base


def long_table(values: np.ndarray, method: str = "gradient_x_input") -> pd.DataFrame:
    table = pd.DataFrame({"node": NODES, "kind": KINDS, "method": method, "mean": 0.0, "sd": 0.0})
    for name, column in zip(MODELS, values.T, strict=True):
        table[name] = column
    return table


def test_names_come_from_the_node_or_the_node_it_stands_for() -> None:
    table = with_names(long_table(np.zeros((len(NODES), 3))), {"T": "apoptosis", "g": "GENE G"})
    assert list(table.columns[:4]) == ["node", "name", "kind", "folded_into"]
    assert dict(zip(table["node"], table["name"], strict=True)) == {
        "T": "apoptosis",
        "T~copy1": "apoptosis",
        "T~copy2": "apoptosis",
        "g~input": "GENE G",
        "g": "GENE G",
        "h~input": "h~input",  # no name known: the id
        "U": "U",
        "x_gene": "x_gene",
    }
    assert list(table["folded_into"]) == ["", "T", "T", "g", "", "h", "", ""]


def brute_force(table: pd.DataFrame) -> dict[str, tuple[float, float, int]]:
    """Per folded node: mean and sd over models of the largest-magnitude member value."""
    groups: dict[str, list[int]] = {}
    for i, (node, into) in enumerate(zip(table["node"], table["folded_into"], strict=True)):
        groups.setdefault(into or node, []).append(i)
    result = {}
    for base, rows in groups.items():
        per_model = []
        for model in MODELS:
            values = [table[model].iloc[i] for i in rows if not np.isnan(table[model].iloc[i])]
            per_model.append(max(values, key=abs) if values else np.nan)
        result[base] = (np.nanmean(per_model), np.nanstd(per_model, ddof=1), len(rows))
    return result


@pytest.mark.parametrize("signed", [False, True])
def test_folding_takes_the_largest_magnitude_per_model(signed: bool) -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(len(NODES), 3))
    values = values if signed else np.abs(values)
    values[0, 1] = np.nan  # T has no value in one model: its copies still count
    table = with_names(long_table(values), {"T": "apoptosis"})
    folded = folded_importances(table, MODELS)
    expected = brute_force(table)
    assert list(folded["node"]) == sorted(expected, key=lambda n: (-expected[n][0], n))
    for row in folded.itertuples():
        mean, sd, members = expected[row.node]
        assert row.mean == pytest.approx(mean) and row.sd == pytest.approx(sd)
        assert row.members == members
    by_node = folded.set_index("node")
    assert by_node.at["T", "name"] == "apoptosis" and by_node.at["T", "kind"] == "term"
    assert by_node.at["g", "kind"] == "gene"
    assert by_node.at["h", "kind"] == "input"  # a gene without its own row: its feature node's


def test_each_method_is_folded_apart() -> None:
    values = np.arange(len(NODES) * 3, dtype=float).reshape(-1, 3)
    table = with_names(
        pd.concat([long_table(values, "a"), long_table(-values, "b")], ignore_index=True), {}
    )
    folded = folded_importances(table, MODELS)
    assert list(dict.fromkeys(folded["method"])) == ["a", "b"]
    a, b = (folded[folded["method"] == m].set_index("node") for m in "ab")
    assert a.at["T", "mean"] == pytest.approx(values[:3].max(axis=0).mean())
    assert b.at["T", "mean"] == pytest.approx(-a.at["T", "mean"])  # sign kept


def test_an_empty_table_stays_empty() -> None:
    assert with_names(pd.DataFrame(), {"a": "b"}).empty
    assert folded_importances(pd.DataFrame(), MODELS).empty


def test_labels() -> None:
    assert node_label("R-HSA-1", "R-HSA-1") == "R-HSA-1"
    assert node_label("R-HSA-1", "Apoptosis") == "Apoptosis (R-HSA-1)"
    label = node_label("GO:1", "x" * 100)
    assert label.endswith("… (GO:1)") and len(label) == 48 + len(" (GO:1)")
