"""The wiring plans at edge shapes: what `plan_kpnn` and `plan_hierarchy` lay out and pack for
`NetworkLayer`, checked by hand (plain NumPy, no module built)."""

from __future__ import annotations

import numpy as np

from pknet.compiler.model.layers import plan_hierarchy, plan_kpnn
from pknet.compiler.model.layers.wiring import input_terms, scan_runs
from pknet.compiler.network.network import Network


def test_one_input_one_output_is_one_level_read_in_place() -> None:
    net = Network.from_edges(["a"], ["T"])
    plan = plan_kpnn(net, net.index_of(["a"]), net.index_of(["T"]), units_per_node=3)
    assert (plan.n_slots, plan.level_bounds, plan.level_connections) == (2, ((1, 2),), ((0, 1),))
    assert plan.node_kinds == ("output", "input") and plan.units_per_node == 3
    assert plan.connection_sign is None and plan.report is None
    (run,) = scan_runs(plan)
    assert (run.starts, run.units, run.from_inputs) == ((0,), (1,), True)
    assert run.connection.shape == (1, 0)  # no connection from a hidden unit
    connection, child, repeat = input_terms(plan, dropped=1)
    np.testing.assert_array_equal(connection, [0])  # input 0's first connection, in place
    np.testing.assert_array_equal(child, [0])
    assert len(repeat) == 0


def test_a_chain_of_small_levels_is_one_padded_run() -> None:
    net = Network.from_edges(["a", "K1", "K2"], ["K1", "K2", "T"])
    plan = plan_kpnn(net, net.index_of(["a"]), net.index_of(["T"]), units_per_node=2)
    (run,) = scan_runs(plan)
    assert (run.starts, run.units, run.from_inputs) == ((0, 2, 4), (2, 2, 1), True)
    # level 1 reads only the input; its row is all padding (child 2: the dropped segment)
    np.testing.assert_array_equal(run.child[0], [2, 2, 2, 2])
    np.testing.assert_array_equal(run.parent[1], [0, 1, 0, 1])  # K1's units into K2's
    np.testing.assert_array_equal(run.child[2, :2], [0, 0])  # K2's two units into T


def test_an_input_without_connections_reads_a_zero_weight_into_the_dropped_segment() -> None:
    net = Network.from_edges(["a"], ["T"], extra_nodes=("b",))
    plan = plan_kpnn(net, net.index_of(["a", "b"]), net.index_of(["T"]))
    connection, child, _ = input_terms(plan, dropped=7)
    np.testing.assert_array_equal(connection, [0, plan.n_connections])
    np.testing.assert_array_equal(child, [0, 7])


def test_the_hierarchy_plan_spares_the_data_and_carries_kinds_and_report() -> None:
    net = Network.from_edges(["a", "b", "T1"], ["T1", "T1", "T2"])
    plan = plan_hierarchy(
        net, net.index_of(["a", "b"]), net.index_of(["T2"]), units_per_gene=2, units_per_term=3
    )
    kinds = dict(zip(plan.node_names, plan.node_kinds, strict=True))
    assert kinds == {
        "T1": "term",
        "T2": "term",
        "a": "gene",
        "b": "gene",
        "a~input": "input",
        "b~input": "input",
    }
    assert plan.units_per_node == 3 and plan.report is not None and plan.report.n_levels == 2
    slot_kind = np.asarray(plan.node_kinds, dtype=object)[plan.unit_node]
    output = np.zeros(plan.n_slots, dtype=bool)
    output[plan.output_slot] = True
    np.testing.assert_array_equal(plan.droppable, (slot_kind != "input") & ~output)
    assert output.sum() == 1 and plan.connection_sign is None
