"""Selector evaluation against a small network with known answers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pknet.compiler.network.network import Network
from pknet.compiler.network.selectors import SelectionContext, select
from pknet.errors import SelectorProblem
from pknet.files import MAX_TEXT_BYTES
from pknet.specs.dsl import parse_selector

# a_gene -> K1 -> TCR, b_gene -> K1, c_gene -> K2 -> TCR, K2 -> OTHER
EDGES = [
    ("a_gene", "K1"),
    ("b_gene", "K1"),
    ("c_gene", "K2"),
    ("K1", "TCR"),
    ("K2", "TCR"),
    ("K2", "OTHER"),
]
MEASURED = {"a_gene", "c_gene", "K2"}


@pytest.fixture
def ctx() -> SelectionContext:
    src, dst = zip(*EDGES, strict=True)
    net = Network.from_edges(list(src), list(dst))
    measured = np.array([n in MEASURED for n in net.nodes])
    return SelectionContext(net, measured)


def names(text: str, ctx: SelectionContext) -> set[str]:
    mask = select(parse_selector(text), ctx)
    return {n for n, m in zip(ctx.network.nodes, mask, strict=True) if m}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("leaves", {"a_gene", "b_gene", "c_gene"}),
        ("roots", {"TCR", "OTHER"}),
        ("measured", MEASURED),
        ("leaves & measured", {"a_gene", "c_gene"}),
        ("leaves - measured", {"b_gene"}),
        ("roots | name(K1)", {"TCR", "OTHER", "K1"}),
        ("all - leaves - roots", {"K1", "K2"}),
        ('match("*_gene")', {"a_gene", "b_gene", "c_gene"}),
        ("match(K?)", {"K1", "K2"}),
        ("degree(in > 1)", {"K1", "TCR"}),
        ("degree(out == 2)", {"K2"}),
        ("degree(total >= 3)", {"K1", "K2"}),
        ("name(TCR, OTHER) & roots", {"TCR", "OTHER"}),
        ("(leaves | roots) & measured", {"a_gene", "c_gene"}),
    ],
)
def test_selectors_pick_the_expected_nodes(text: str, expected: set[str], ctx) -> None:
    assert names(text, ctx) == expected


def test_self_loops_do_not_count_toward_degrees(ctx) -> None:
    """Hygiene drops self-loops, so a gene with one is still a leaf (and TCR still a root)."""
    src, dst = zip(*EDGES, ("a_gene", "a_gene"), ("TCR", "TCR"), strict=True)
    looped = SelectionContext(Network.from_edges(list(src), list(dst)), ctx.measured)
    for text in ("leaves", "roots", "degree(total >= 3)", "degree(in > 1)"):
        assert names(text, looped) == names(text, ctx)


def test_file_selector_reads_one_name_per_line(tmp_path, ctx) -> None:
    listing = tmp_path / "inputs.txt"
    listing.write_text("# inputs\na_gene\n\n  b_gene  \n")
    assert names(f"file({listing})", ctx) == {"a_gene", "b_gene"}


def test_unknown_names_are_errors_with_suggestions(ctx) -> None:
    with pytest.raises(SelectorProblem) as caught:
        names("name(TCRR)", ctx)
    assert "`TCRR`" in caught.value.message
    assert "TCR" in (caught.value.hint or "")


def test_unreadable_file_is_an_error(tmp_path, ctx) -> None:
    with pytest.raises(SelectorProblem, match=r"missing\.txt not found"):
        names(f"file({tmp_path / 'missing.txt'})", ctx)


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_node_list_that_is_no_regular_file_is_an_error(tmp_path, ctx, kind) -> None:
    """Reading /dev/zero never ends and opening a FIFO blocks: both are refused unread."""
    path = Path("/dev/zero") if kind == "device" else tmp_path / "names.fifo"
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(SelectorProblem, match="is not a regular file"):
        names(f"file({path})", ctx)


def test_a_node_list_over_the_size_cap_is_an_error(tmp_path, ctx) -> None:
    listing = tmp_path / "inputs.txt"
    with listing.open("wb") as handle:
        handle.truncate(MAX_TEXT_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(SelectorProblem, match="is larger than 10 MB"):
        names(f"file({listing})", ctx)


def test_unknown_names_from_a_file_are_not_all_echoed(tmp_path, ctx) -> None:
    """A file of other things (`file(/etc/passwd)`) shows five names, each cut short."""
    listing = tmp_path / "passwd"
    listing.write_text("".join(f"user{i}:x:{i}:{i}:{'x' * 200}:/bin/sh\n" for i in range(30)))
    with pytest.raises(SelectorProblem) as caught:
        names(f"file({listing})", ctx)
    message = caught.value.message
    assert message.startswith("30 name(s) in file")
    assert message.endswith(" and 25 more")
    assert message.count("`") == 10 and "user4:" in message and "user5:" not in message
    assert len(message) < 400


def test_a_union_of_a_thousand_names_selects_them_all() -> None:
    nodes = [f"a{i}" for i in range(1000)]
    network = Network.from_edges(nodes, ["root"] * 1000)
    context = SelectionContext(network, np.zeros(network.n_nodes, dtype=bool))
    text = " | ".join(f"name({n})" for n in nodes)
    assert names(text, context) == set(nodes)
    assert names(f"all - ({text})", context) == {"root"}
    assert names(f"all & {text} & all", context) == set(nodes)
