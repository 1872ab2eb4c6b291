"""The hierarchy layer: its connections against the annotation files (both ways), the filters
and padding against a plain-Python reference of the documented rules, the forward pass against a
NumPy reference evaluated node by node (under jit and vmap), finite differences, errors, and one
run of a spec through `pknet.run`.

The reference builds the layered network from the given edges with sets and recursion only;
the layer builds it with index arrays. Layers are built once per case and jitted once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import pknet
from pknet.compiler.model.base import count_parameters, group_arrays
from pknet.compiler.model.layers import NetworkLayer, layered_hierarchy, plan_hierarchy
from pknet.compiler.model.model import build_model
from pknet.compiler.network.network import Network
from pknet.errors import CompileError
from pknet.io.networks import load_annotation_table, load_drugcell_ontology, load_hierarchy
from pknet.runtime.explain import bias_importance, gradient_x_input, node_weights
from pknet.specs.schema.model import DenseLayerSpec, HierarchyLayerSpec

DATA = Path(__file__).parents[1] / "data"
NETWORKS = DATA / "networks"
NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}
Edges = frozenset[tuple[str, str]]


# --- cases ----------------------------------------------------------------------------------


@cache
def file_case(name: str) -> tuple[Network, np.ndarray, np.ndarray, Edges]:
    """A real subset: the network, its genes (inputs), roots (outputs) and the files' edges."""
    if name == "reactome":
        genes = load_annotation_table(
            NETWORKS / "reactome_pcd_uniprot_to_pathway.tsv",
            member_col="uniprot",
            term_col="pathway",
        )
        table = pd.concat([genes, load_hierarchy(NETWORKS / "reactome_pcd_hierarchy.tsv")])
    else:
        table = load_drugcell_ontology(NETWORKS / "drugcell_go0002697.tsv")
        genes = table[table["relation"] == "gene"]
    net = Network.from_edges(table["source"].to_numpy(), table["target"].to_numpy())
    inputs = net.index_of(sorted(set(genes["source"])))
    outputs = np.flatnonzero(net.out_degree() == 0)
    return net, inputs, outputs, frozenset(zip(table["source"], table["target"], strict=True))


@cache
def random_case(seed: int) -> tuple[Network, np.ndarray, np.ndarray, Edges]:
    """Genes annotated to random terms, terms to random later terms (names shuffled against
    that order); some terms have no gene below them, some edges skip levels."""
    rng = np.random.default_rng(seed)
    n_genes, n_terms = int(rng.integers(2, 6)), int(rng.integers(3, 8))
    genes = [f"g{i}" for i in rng.permutation(n_genes)]
    terms = [f"T{i}" for i in rng.permutation(n_terms)]
    edges = {(g, terms[int(j)]) for g in genes for j in rng.choice(n_terms - 1, size=2)}
    for i in range(n_terms - 1):
        for j in rng.choice(np.arange(i + 1, n_terms), size=min(2, n_terms - 1 - i)):
            if rng.random() < 0.6:
                edges.add((terms[i], terms[int(j)]))
    source, target = zip(*sorted(edges), strict=True)
    net = Network.from_edges(list(source), list(target))
    inputs = net.index_of(genes)
    outputs = np.flatnonzero((net.out_degree() == 0) & ~np.isin(np.arange(net.n_nodes), inputs))
    return net, inputs, outputs, frozenset(edges)


def build(case, *, last=True, seed=0, **fields) -> NetworkLayer:
    """A layer on `case` with random biases (zeros would hide layout mistakes)."""
    net, inputs, outputs, _ = case
    spec = HierarchyLayerSpec(kind="hierarchy", name="hierarchy_1", **fields)
    plan = plan_hierarchy(
        net,
        inputs,
        outputs,
        min_genes=spec.min_genes,
        max_genes=spec.max_genes,
        max_depth=spec.max_depth,
        padding=spec.padding,
        units_per_gene=spec.units_per_gene,
        units_per_term=spec.units_per_term,
        last=last,
    )
    layer = NetworkLayer(
        plan,
        name=spec.name,
        activation=spec.activation,
        dropout=spec.dropout,
        bias=spec.bias,
        input_batchnorm=False,
        key=jax.random.key(seed),
    )
    if layer.bias is None:
        return layer
    bias = np.random.default_rng(seed).normal(size=layer.bias.shape)
    return eqx.tree_at(lambda m: m.bias, layer, jnp.asarray(bias, layer.bias.dtype))


# --- the plain-Python reference ---------------------------------------------------------------


def longest_levels(edges, genes) -> dict[str, int]:
    """Longest path from the genes (genes 0) of every node of `edges`."""
    children = defaultdict(list)
    for u, v in edges:
        children[v].append(u)

    @cache
    def level(v: str) -> int:
        return 0 if v in genes else 1 + max((level(u) for u in children[v]), default=0)

    return {v: level(v) for edge in edges for v in edge}


def reachable(edges, start, *, reverse=False) -> set[str]:
    step = defaultdict(list)
    for u, v in edges:
        step[v if reverse else u].append(u if reverse else v)
    seen, stack = set(start), list(start)
    while stack:
        for w in step[stack.pop()]:
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def reference_filter(case, min_genes=1, max_genes=None, max_depth=None):
    """The documented filters on name sets: (kept edges, kept genes, outputs, counts)."""
    net, inputs, outputs, edges = case
    genes = {net.nodes[i] for i in inputs}
    terms = set(net.nodes) - genes
    below = {t: reachable(edges, {t}, reverse=True) & genes for t in terms}
    small = {t for t in terms if len(below[t]) < min_genes}
    large = {t for t in terms if max_genes is not None and len(below[t]) > max_genes}
    keep = genes | (terms - small - large)
    kept_edges = {(u, v) for u, v in edges if u in keep and v in keep}
    deep = set()
    if max_depth is not None:
        level = longest_levels(kept_edges, genes)
        deep = {t for t in keep - genes if level.get(t, 1) > max_depth}
        keep -= deep
        kept_edges = {(u, v) for u, v in edges if u in keep and v in keep}
    outs = [net.nodes[i] for i in outputs if net.nodes[i] in keep]
    lost_parent = {u for u, v in edges if u in keep and v in large | deep}
    has_parent = {u for u, _ in kept_edges}
    tops = sorted((lost_parent - has_parent - genes) - set(outs))
    outs += tops
    path = reachable(kept_edges, genes) & reachable(kept_edges, outs, reverse=True)
    counts = {
        "n_too_small": len(small),
        "n_too_large": len(large),
        "n_too_deep": len(deep),
        "n_unconnected": len((keep - genes) - path),
        "n_terms_kept": len((keep - genes) & path),
        "n_new_outputs": len(set(tops) & path),
    }
    kept_edges = {(u, v) for u, v in kept_edges if u in path and v in path}
    return frozenset(kept_edges), genes & path, [o for o in outs if o in path], counts


def reference_layered(case, padding="copy", **filters):
    """(layered edges, kept genes, outputs, levels) by the documented rules."""
    net, inputs, _, _ = case
    edges, genes, outs, _ = reference_filter(case, **filters)
    level = longest_levels(edges, {net.nodes[i] for i in inputs})
    layered = {(f"{g}~input", g) for g in genes}
    for u, v in edges:
        span = level[v] - level[u]
        if padding == "none" or span == 1:
            layered.add((u, v))
            continue
        layered.add((u, f"{v}~copy{span - 1}"))
        for k in range(1, span):
            layered.add((f"{v}~copy{k}", v if k == 1 else f"{v}~copy{k - 1}"))
    return layered, genes, outs, level


def units_by_name(layer: NetworkLayer) -> dict[str, int]:
    node = np.asarray(layer.unit_node)
    return {name: int((node == v).sum()) for v, name in enumerate(layer.node_names)}


def connections_by_name(layer: NetworkLayer) -> set[tuple[str, str]]:
    names = np.asarray(layer.node_names, dtype=object)
    node = np.asarray(layer.unit_node)
    parent, child = np.asarray(layer.connection_parent), np.asarray(layer.connection_child)
    return set(zip(names[node[parent]], names[node[child]], strict=True))


def weights_by_name(layer: NetworkLayer):
    """{(u, v): units(u) x units(v) matrix} and {v: bias vector}, read off the flat arrays."""
    names = layer.node_names
    node, slot = np.asarray(layer.unit_node), np.asarray(layer.node_slot)
    unit = np.arange(layer.n_slots) - slot[node]
    units = units_by_name(layer)
    weights = {}
    for p, c, w in zip(
        np.asarray(layer.connection_parent),
        np.asarray(layer.connection_child),
        np.asarray(layer.weight, np.float64),
        strict=True,
    ):
        u, v = names[node[p]], names[node[c]]
        block = weights.setdefault((u, v), np.zeros((units[u], units[v])))
        block[unit[p], unit[c]] = w
    bias = {}
    if layer.bias is not None:
        values = np.asarray(layer.bias, np.float64)
        for v, name in enumerate(names):
            start = int(slot[v]) - layer.n_inputs
            if start >= 0:
                bias[name] = values[start : start + units[name]]
    return weights, bias


def reference_forward(layer, case, x, padding="copy", **filters):
    """Node by node over the reference's layered edges; returns (outputs, {node: h})."""
    net, inputs, _, _ = case
    layered, _, outs, _ = reference_layered(case, padding, **filters)
    weights, bias = weights_by_name(layer)
    act = NUMPY_ACTIVATIONS[layer.activation]
    parents = defaultdict(list)
    for u, v in layered:
        parents[v].append(u)
    h = {
        f"{net.nodes[g]}~input": np.asarray(x[i : i + 1], np.float64) for i, g in enumerate(inputs)
    }
    z = dict(h)
    for v in TopologicalSorter(parents).static_order():
        if v not in h:
            z[v] = bias.get(v, 0.0) + sum(h[u] @ weights[u, v] for u in parents[v])
            h[v] = act(z[v])
    source = z if layer.last else h
    return np.concatenate([source[o] for o in outs]), h


# --- the layered network against the files ----------------------------------------------------


def strip(name: str) -> str:
    return name.split("~")[0]


@pytest.mark.parametrize("name", ["reactome", "drugcell"])
@pytest.mark.parametrize("padding", ["copy", "none"])
def test_connections_are_the_files_annotations_both_ways(name, padding):
    case = file_case(name)
    layer = build(case, padding=padding, units_per_term=2)
    got = connections_by_name(layer)
    assert got == reference_layered(case, padding)[0]
    # every connection stands for a line of the files (a copy chain for one skipping levels) ...
    real = {(u, strip(v)) for u, v in got if "~" not in u}
    features = {(u, v) for u, v in got if u.endswith("~input")}
    assert all(strip(u) == v for u, v in features)
    assert (real - {(strip(u), v) for u, v in features}) <= case[3]
    # ... and every line of the files is a connection: no filter is on, every term reaches a root
    assert real >= case[3]
    assert layer.report.n_terms_kept == layer.report.n_terms
    chains = {(u, v) for u, v in got if "~copy" in u}
    assert all(strip(u) == strip(v) for u, v in chains)


@pytest.mark.parametrize("name", ["reactome", "drugcell"])
def test_copy_padding_makes_every_connection_span_one_level(name):
    case = file_case(name)
    copy, none = build(case, padding="copy"), build(case, padding="none")
    _, _, _, level = reference_layered(case, "copy")

    def spans(layer):
        slot_level = np.zeros(layer.n_slots, dtype=np.int64)
        for d, (lo, hi) in enumerate(layer.level_bounds, start=1):
            slot_level[lo:hi] = d
        parent, child = np.asarray(layer.connection_parent), np.asarray(layer.connection_child)
        return slot_level[child] - slot_level[parent]

    assert np.all(spans(copy) == 1)
    assert np.any(spans(none) > 1)
    wanted_copies = {f"{v}~copy{k}" for u, v in case[3] for k in range(1, level[v] - level[u])}
    kinds = dict(zip(copy.node_names, copy.node_kinds, strict=True))
    assert {n for n, k in kinds.items() if k == "copy"} == wanted_copies
    assert copy.report.n_copies == len(wanted_copies) > 0
    assert "copy" not in none.node_kinds and none.report.n_copies == 0
    # the levels are the reference's (genes at 1, a term at 1 + its longest path)
    assert len(copy.level_bounds) == len(none.level_bounds) == max(level.values()) + 1
    assert copy.report.n_levels == max(level.values())


FILTERS = [
    dict(min_genes=5),
    dict(min_genes=3, max_genes=40),
    dict(max_genes=20),
    dict(max_depth=1),
    dict(max_depth=3, min_genes=4),
]


@pytest.mark.parametrize("name", ["reactome", "drugcell"])
@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items())
)
def test_filters_keep_what_the_reference_keeps(name, filters):
    case = file_case(name)
    net, inputs, outputs, _ = case
    edges, genes, outs, counts = reference_filter(case, **filters)
    try:
        layered = layered_hierarchy(net, inputs, outputs, **filters)
    except CompileError as exc:
        assert counts["n_terms_kept"] == 0
        assert "leave no term" in str(exc)
        return
    report = layered.report
    assert {k: getattr(report, k) for k in counts} == counts
    assert report.n_genes == len(inputs) and report.n_genes_kept == len(genes)
    names = np.asarray(layered.network.nodes, dtype=object)
    assert list(names[layered.outputs]) == outs
    kept_terms = set(names[layered.node_kind == "term"])
    assert kept_terms == {v for _, v in edges}
    assert set(names[layered.node_kind == "gene"]) == genes
    if "max_depth" in filters:
        level = longest_levels(edges, genes)
        assert report.n_levels == max(level[t] for t in kept_terms) <= filters["max_depth"]


def test_filters_remove_terms_with_their_edges():
    """Terms too small for `min_genes` do not pass their genes on: U keeps 2 genes below it but
    reaches them only through S1 and S2, so it is left unconnected."""
    edges = [("a", "M"), ("M", "R"), ("b", "L"), ("c", "L"), ("L", "R")]
    edges += [("e", "S1"), ("f", "S2"), ("S1", "U"), ("S2", "U"), ("U", "R")]
    net = Network.from_edges([u for u, _ in edges], [v for _, v in edges])
    inputs, outputs = net.index_of(["a", "b", "c", "e", "f"]), net.index_of(["R"])
    layered = layered_hierarchy(net, inputs, outputs, min_genes=2)
    names = set(layered.network.nodes)
    assert names == {"b", "c", "L", "R"} | {f"{g}~input" for g in "abcef"}
    report = layered.report
    assert (report.n_too_small, report.n_unconnected, report.n_terms_kept) == (3, 1, 2)
    assert report.n_genes_kept == 2
    assert len(layered.inputs) == 5  # dropped genes keep their feature nodes (data columns)


def test_size_bounds_are_inclusive():
    # a, b -> L (2 genes); c -> M (1 gene); L, M, d -> R (4 genes)
    net = Network.from_edges(["a", "b", "c", "L", "M", "d"], ["L", "L", "M", "R", "R", "R"])
    inputs, outputs = net.index_of(["a", "b", "c", "d"]), net.index_of(["R"])
    layered = layered_hierarchy(net, inputs, outputs, min_genes=2, max_genes=4)
    names = np.asarray(layered.network.nodes, dtype=object)
    assert set(names[layered.node_kind == "term"]) == {"L", "R"}
    assert (layered.report.n_too_small, layered.report.n_too_large) == (1, 0)
    # R is too large: L and M lose their only parent and become the outputs
    layered = layered_hierarchy(net, inputs, outputs, max_genes=3)
    names = np.asarray(layered.network.nodes, dtype=object)
    assert list(names[layered.outputs]) == ["L", "M"] and "R" not in names
    assert (layered.report.n_too_large, layered.report.n_new_outputs) == (1, 2)
    assert layered.report.n_genes_kept == 3  # d was annotated to R only


def test_max_depth_makes_the_cut_tops_outputs():
    net = Network.from_edges(["a", "b", "T1", "T2"], ["T1", "T2", "T2", "R"])
    inputs, outputs = net.index_of(["a", "b"]), net.index_of(["R"])
    layered = layered_hierarchy(net, inputs, outputs, max_depth=2)
    names = np.asarray(layered.network.nodes, dtype=object)
    assert list(names[layered.outputs]) == ["T2"]
    assert layered.report.n_too_deep == 1 and layered.report.n_new_outputs == 1
    # b -> T2 skips T1's level: one copy of T2 carries it
    assert {"T2~copy1"} == set(names[layered.node_kind == "copy"])


# --- the forward pass -------------------------------------------------------------------------


CONFIGS = [
    dict(activation="tanh"),
    dict(activation="sigmoid", units_per_gene=2, units_per_term=3, padding="none"),
    dict(activation="relu", units_per_term=2, bias=False, last=False),
    dict(activation="tanh", units_per_gene=2, max_depth=2, last=False),
    dict(activation="linear", units_per_term=2, min_genes=2, max_genes=3),
]
FILTER_KEYS = ("min_genes", "max_genes", "max_depth")


@eqx.filter_jit
def batch_forward(layer: NetworkLayer, xs):
    return jax.vmap(layer)(xs), jax.vmap(layer.node_values)(xs), layer(xs[0])


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "case"), [(s, c) for s in range(3) for c in range(len(CONFIGS))])
def test_forward_matches_the_reference_under_jit_and_vmap(seed, case):
    config = dict(CONFIGS[case])
    last = config.pop("last", True)
    data = random_case(seed)
    try:
        layer = build(data, last=last, seed=seed, **config)
    except CompileError:
        pytest.skip("the filters leave no term in this random hierarchy")
    filters = {k: config[k] for k in FILTER_KEYS if k in config}
    xs = np.random.default_rng(case).normal(size=(3, len(data[1]))).astype(np.float32)
    got, buffers, single = batch_forward(layer, xs)
    index = {name: v for v, name in enumerate(layer.node_names)}
    for row, x in enumerate(xs):
        want, h = reference_forward(layer, data, x, config.get("padding", "copy"), **filters)
        np.testing.assert_allclose(got[row], want, rtol=1e-5, atol=1e-5)
        assert set(h) == set(layer.node_names)
        for name, value in h.items():
            start = int(layer.node_slot[index[name]])
            np.testing.assert_allclose(buffers[row, start : start + len(value)], value, atol=1e-5)
    np.testing.assert_allclose(single, got[0], rtol=1e-6, atol=1e-6)


def test_some_random_cases_have_copies_and_dropped_terms():
    """The random hierarchies exercise copies and the size filter (else the test above is weak)."""
    reports = [build(random_case(s)).report for s in range(3)]
    assert any(r.n_copies for r in reports)
    assert any(r.n_too_small for r in reports)


@pytest.mark.slow
def test_gradients_match_finite_differences(assert_gradients_match_finite_differences):
    with jax.enable_x64(True):
        layer = build(random_case(1), seed=3, units_per_gene=2, units_per_term=2)
        assert_gradients_match_finite_differences(layer)


@pytest.mark.parametrize("last", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count(last, bias):
    case = file_case("reactome")
    layer = build(case, last=last, bias=bias, units_per_gene=2, units_per_term=3)
    layered, genes, outs, _ = reference_layered(case)
    units = {u: 2 if u in genes else 3 for edge in layered for u in edge}
    units |= {f"{g}~input": 1 for g in genes} | ({o: 1 for o in outs} if last else {})
    assert units_by_name(layer) == units | {f"{case[0].nodes[g]}~input": 1 for g in case[1]}
    weights = sum(units[u] * units[v] for u, v in layered)
    hidden = sum(n for name, n in units.items() if not name.endswith("~input"))
    assert layer.weight.shape == (weights,)
    assert layer.n_parameters == weights + (hidden if bias else 0)
    leaves = jax.tree.leaves(eqx.filter(layer, eqx.is_inexact_array))
    assert len(leaves) == (2 if bias else 1)


@pytest.mark.slow
def test_last_layer_outputs_are_logits_one_per_root():
    case = file_case("drugcell")
    last, hidden = build(case, units_per_term=2), build(case, units_per_term=2, last=False)
    x = np.linspace(-1, 1, last.n_inputs).astype(np.float32)
    root_count = len(case[2])
    assert last.output_slot.shape == (root_count,) and hidden.output_slot.shape == (2 * root_count,)
    values = eqx.filter_jit(lambda m, x: (m(x), m.node_values(x)))(last, x)
    assert not np.allclose(values[0], values[1][np.asarray(last.output_slot)])  # pre-activation


@pytest.mark.slow
def test_dropout_spares_the_data_and_the_outputs():
    layer = build(random_case(0), dropout=0.5, units_per_term=2)
    droppable = np.asarray(layer.droppable)
    assert not droppable[: layer.n_inputs].any()
    assert not droppable[np.asarray(layer.output_slot)].any()
    assert droppable.sum() == layer.n_slots - layer.n_inputs - layer.output_slot.shape[0]
    x = np.ones(layer.n_inputs, np.float32)
    on = eqx.filter_jit(lambda m, k: m.node_values(x, key=k))(layer, jax.random.key(1))
    np.testing.assert_array_equal(on[: layer.n_inputs], x)


def test_building_is_deterministic_and_does_not_depend_on_edge_order():
    net, inputs, outputs, edges = file_case("reactome")
    shuffled = [sorted(edges)[i] for i in np.random.default_rng(0).permutation(len(edges))]
    net2 = Network.from_edges([u for u, _ in shuffled], [v for _, v in shuffled])
    a = build((net, inputs, outputs, edges))
    b = build((net2, net2.index_of([net.nodes[i] for i in inputs]), outputs, edges))
    assert a.node_names == b.node_names and a.node_kinds == b.node_kinds
    for field in ("connection_parent", "connection_child", "unit_node", "weight"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# --- errors ---------------------------------------------------------------------------------


def test_filters_that_leave_nothing_name_the_layer_and_the_fix():
    net, inputs, outputs, _ = file_case("reactome")
    spec = HierarchyLayerSpec(kind="hierarchy", name="h", min_genes=500)
    head = DenseLayerSpec(kind="dense", name="head", units=1)
    with pytest.raises(CompileError, match="leave no term") as info:
        build_model([spec, head], net, inputs, outputs, len(inputs), key=jax.random.key(0))
    problem = info.value.problems[0]
    assert problem.path == "model.layers[0]"
    assert "lower `min_genes` (now 500" in problem.hint and "42 terms" in problem.message


@pytest.mark.parametrize(
    ("edges", "outputs", "message"),
    [
        ([("a", "T"), ("T", "U"), ("U", "T")], ["U"], "cycle through `T`, `U`"),
        ([("a", "T"), ("b", "T")], ["a"], "genes selected as outputs: `a`"),
        ([("a", "T"), ("a~input", "T")], ["T"], "named like the hierarchy layer's own nodes"),
    ],
)
def test_bad_networks_raise_compile_errors(edges, outputs, message):
    net = Network.from_edges([u for u, _ in edges], [v for _, v in edges])
    with pytest.raises(CompileError, match=message) as info:
        layered_hierarchy(net, net.index_of(["a"]), net.index_of(outputs))
    assert info.value.problems[0].hint


def test_one_gene_one_term():
    net = Network.from_edges(["a"], ["T"])
    layer = build((net, net.index_of(["a"]), net.index_of(["T"]), frozenset({("a", "T")})))
    assert layer.node_names == ("T", "a", "a~input") and layer.node_kinds == (
        "term",
        "gene",
        "input",
    )
    assert layer.n_parameters == 2 + 2 and len(layer.level_bounds) == 2
    assert eqx.filter_jit(lambda m: m(jnp.ones(1)))(layer).shape == (1,)


# --- the model, explain and a whole run -------------------------------------------------------


@pytest.mark.slow
def test_model_groups_and_explain_work_on_the_hierarchy_layer():
    net, inputs, outputs, _ = file_case("drugcell")
    spec = HierarchyLayerSpec(kind="hierarchy", name="go", units_per_term=2)
    head = DenseLayerSpec(kind="dense", name="head", units=1)
    model = build_model([spec, head], net, inputs, outputs, len(inputs), key=jax.random.key(0))
    layer = model.layers[0]
    assert [a.shape for a in group_arrays(model, "go")] == [layer.weight.shape, layer.bias.shape]
    assert group_arrays(model, "weights")[0] is layer.weight
    assert count_parameters(model) == layer.n_parameters + 2 * len(outputs) + 1
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(6, len(inputs))), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, size=6))
    predict = jax.nn.sigmoid
    kinds = np.asarray(layer.node_kinds)
    biases = bias_importance(layer)
    assert np.all(np.isnan(biases[kinds == "input"]))
    assert np.all(np.isfinite(biases[kinds != "input"]))
    grads = np.asarray(gradient_x_input(model, lambda z: predict(z[:, 0]), x, y))
    assert grads.shape == (layer.n_nodes,) and np.all(np.isfinite(grads))
    knocked = node_weights(model, lambda z: predict(z[:, 0]), x, y)
    output_nodes = np.unique(np.asarray(layer.unit_node)[np.asarray(layer.output_slot)])
    hidden = (kinds != "input") & ~np.isin(np.arange(layer.n_nodes), output_nodes)
    assert np.all(np.isfinite(knocked[hidden])) and np.all(np.isnan(knocked[~hidden]))


SPEC = """\
version: 1
name: hierarchy-plasma
seed: 0
data:
  expression: {{file: {data}/matrices/plasma_proteomics_20x30.csv, orientation: samples_as_columns}}
  target: {{file: {data}/matrices/plasma_proteomics_design_30.tsv, index: sample, column: group}}
  missing: mean
network:
  edges:
    - {{kind: hierarchy, file: {data}/networks/reactome_plasma20_hierarchy.tsv}}
    - kind: annotation_table
      file: {data}/networks/reactome_plasma20_uniprot_to_pathway.tsv
      member: uniprot
      term: pathway
  inputs: leaves & measured
  outputs: roots
model:
  layers:
    - {{kind: hierarchy, units_per_term: 2, min_genes: 2, dropout: 0.1}}
    - {{kind: dense, units: 1}}
loss: bce
train: {{epochs: 2, batch_size: 8}}
evaluate:
  cv: {{kind: kfold, folds: 2}}
  metrics: [accuracy, roc_auc]
"""


def test_spec_validates_with_defaults(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        SPEC.format(data=DATA).replace(", units_per_term: 2, min_genes: 2, dropout: 0.1", "")
    )
    layer = pknet.load_spec(path).model.layers[0]
    assert isinstance(layer, HierarchyLayerSpec) and layer.name == "hierarchy_1"
    assert (layer.activation, layer.units_per_gene, layer.units_per_term) == ("tanh", 1, 1)
    assert (layer.min_genes, layer.max_genes, layer.max_depth) == (1, None, None)
    assert (layer.padding, layer.bias, layer.dropout) == ("copy", True, 0.0)


@pytest.mark.slow
def test_a_hierarchy_spec_runs_end_to_end(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(data=DATA))
    result = pknet.run(path, out=tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_features"] == 19 and len(metrics["folds"]) == 2
    assert set(metrics["folds"][0]["metrics"]) == {"accuracy", "roc_auc"}
    layer = result.outcome.program.init_model(jax.random.key(0)).layers[0]
    assert isinstance(layer, NetworkLayer) and layer.report.n_too_small > 0
    assert metrics["n_parameters"] == layer.n_parameters + layer.output_slot.shape[0] + 1


def test_filters_that_leave_nothing_are_located_in_the_spec(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(data=DATA).replace("min_genes: 2", "min_genes: 50"))
    with pytest.raises(CompileError, match="leave no term") as info:
        pknet.run(path, out=tmp_path / "run")
    problem = info.value.problems[0]
    assert problem.path == "model.layers[0]" and problem.location.line == 19
    assert "the largest term has 13 genes" in problem.hint  # Immune System, of 19
    assert not (tmp_path / "run").exists()
