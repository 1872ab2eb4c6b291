"""The run-directory files: each writer and its reader agree, and a file that breaks the format
is a `RunDirectoryError` naming the file and the field (no run needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pknet.compiler.model.graphs import Graph
from pknet.errors import RunDirectoryError
from pknet.runtime.run_files import (
    ModelInfo,
    read_feature_graph,
    read_graph_inputs,
    read_model_info,
    read_network,
    read_stats,
    write_feature_graph,
    write_graph_inputs,
    write_model_info,
    write_stats,
)
from pknet.runtime.transforms import InputStats

INFO = ModelInfo(
    task="binary",
    classes=("other", "T"),
    features=("CD3E", "LCK", "NA"),
    n_folds=2,
    nodes=("CD3E", "LCK", "NA", "TCR"),
    inputs=("CD3E", "LCK", "NA"),
    outputs=("TCR",),
)
GRAPH = Graph(3, np.array([0, 1, 2]), np.array([1, 2, 0]), np.ones(3))


def problem_of(caught: pytest.ExceptionInfo[RunDirectoryError]) -> tuple[str, str, str]:
    (problem,) = caught.value.problems
    assert problem.hint == (
        "the run directory was edited or damaged; run the spec again with `pknet run`"
    )
    return str(problem.location), problem.path, problem.message


def test_each_writer_and_its_reader_agree(tmp_path: Path) -> None:
    write_model_info(tmp_path / "model.json", INFO)
    assert read_model_info(tmp_path / "model.json") == INFO
    stats = InputStats(*(np.arange(3, dtype=np.float32) + offset for offset in (0, 1, 2)))
    write_stats(tmp_path / "stats.npz", stats)
    back = read_stats(tmp_path / "stats.npz", 3)
    for name in ("fill", "shift", "scale"):
        np.testing.assert_array_equal(getattr(back, name), getattr(stats, name))
    write_feature_graph(tmp_path / "graph.npz", GRAPH)
    graph = read_feature_graph(tmp_path / "graph.npz", 3)
    assert graph.n_nodes == 3
    np.testing.assert_array_equal(graph.senders, GRAPH.senders)
    np.testing.assert_array_equal(graph.receivers, GRAPH.receivers)
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    write_graph_inputs(tmp_path / "inputs.npz", x, [np.array([3, 1]), np.array([0, 2])])
    train = read_graph_inputs(tmp_path / "inputs.npz", 3, 2)
    np.testing.assert_array_equal(train[0], x[[3, 1]])
    np.testing.assert_array_equal(train[1], x[[0, 2]])


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"task": "regression"}, "classes", "a regression task has no classes, not 2"),
        ({"classes": ["T", "T"]}, "classes[1]", "class `T` is listed twice"),
        ({"targets": ["a", "b"]}, "targets", "several targets come with a regression task"),
        ({"targets": []}, "targets", "should have at least 1 item"),
        ({"nodes": None}, "nodes", "`nodes`, `inputs` and `outputs` come together"),
        ({"outputs": []}, "outputs", "a network model has outputs; the list is empty"),
        ({"outputs": ["tcr"]}, "outputs[0]", "`tcr` is not among the network's nodes"),
        ({"features": []}, "features", "should have at least 1 item"),
    ],
)
def test_model_json_rules_name_the_field(
    tmp_path: Path, changes: dict, field: str, message: str
) -> None:
    path = tmp_path / "model.json"
    data = {**INFO.model_dump(mode="json", exclude_none=True), **changes}
    path.write_text(json.dumps(data))
    with pytest.raises(RunDirectoryError) as caught:
        read_model_info(path)
    location, path_field, text = problem_of(caught)
    assert (location, path_field) == (str(path), field) and message in text


@pytest.mark.parametrize(
    "arrays, field, message",
    [
        ({"n_nodes": 4}, "n_nodes", "4 nodes, but the model has 3 features (one node each)"),
        ({"senders": np.array([0, 1, 3])}, "senders", "a node number outside 0..2"),
        ({"receivers": np.array([1, 2])}, "receivers", "2 receivers for 3 senders"),
        ({"senders": np.array([0.0, 1, 2])}, "senders", "expected a 1-d integer array"),
        ({"weights": np.ones(3)}, "weights", "an array `pknet run` does not write"),
    ],
)
def test_a_damaged_feature_graph_names_the_array(
    tmp_path: Path, arrays: dict, field: str, message: str
) -> None:
    path = tmp_path / "feature_graph.npz"
    np.savez(
        path, **{"n_nodes": 3, "senders": GRAPH.senders, "receivers": GRAPH.receivers, **arrays}
    )
    with pytest.raises(RunDirectoryError) as caught:
        read_feature_graph(path, 3)
    location, path_field, text = problem_of(caught)
    assert (location, path_field) == (str(path), field) and message in text


@pytest.mark.parametrize(
    "arrays, field, message",
    [
        ({"x": np.zeros((4, 2), np.float32)}, "x", "2 columns, but the model has 3 features"),
        ({"train_rows_1": np.array([0, 4])}, "train_rows_1", "not row numbers of x (0..3)"),
        ({"train_rows_1": np.array([], np.int64)}, "train_rows_1", "not row numbers of x"),
    ],
)
def test_damaged_graph_inputs_name_the_array(
    tmp_path: Path, arrays: dict, field: str, message: str
) -> None:
    path = tmp_path / "graph_inputs.npz"
    stored = {"x": np.zeros((4, 3), np.float32), "train_rows_0": np.array([0, 1])}
    np.savez(path, **{**stored, "train_rows_1": np.array([2, 3]), **arrays})
    with pytest.raises(RunDirectoryError) as caught:
        read_graph_inputs(path, 3, 2)
    location, path_field, text = problem_of(caught)
    assert (location, path_field) == (str(path), field) and message in text


def test_edges_keep_node_names_that_look_like_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "edges.pruned.tsv"
    path.write_text("from\tto\tsign\tweight\nNA\tTCR\t1\t1.0\nCD3E\tTCR\t-1\t0.5\n")
    network = read_network(path, INFO)
    assert network.nodes == ("CD3E", "LCK", "NA", "TCR")
    assert network.has_node("NA") and network.n_edges == 2


@pytest.mark.parametrize(
    "row, field, message",
    [
        ("LCK\tTCR\t2\t1.0", "sign", "`2` is not -1, 0 or 1"),
        ("LCK\tTCR\t1\tinf", "weight", "`inf` is not a finite number"),
        ("LCK\t\t1\t1.0", "to", "`` is not among model.json's nodes"),
    ],
)
def test_a_damaged_edge_row_is_named_by_line_and_column(
    tmp_path: Path, row: str, field: str, message: str
) -> None:
    path = tmp_path / "edges.pruned.tsv"
    path.write_text(f"from\tto\tsign\tweight\nNA\tTCR\t1\t1.0\n{row}\n")
    with pytest.raises(RunDirectoryError) as caught:
        read_network(path, INFO)
    assert problem_of(caught) == (f"{path}:3", field, message)


def test_graph_inputs_of_fewer_folds_name_the_missing_rows(tmp_path: Path) -> None:
    path = tmp_path / "graph_inputs.npz"
    write_graph_inputs(path, np.zeros((4, 3), np.float32), [np.array([0, 1])])
    with pytest.raises(RunDirectoryError) as caught:
        read_graph_inputs(path, 3, 2)
    assert problem_of(caught) == (
        str(path),
        "train_rows_1",
        "missing array (the file holds train_rows_0, x)",
    )
