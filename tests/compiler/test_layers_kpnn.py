"""The kpnn layer against a NumPy reference evaluated node by node, finite differences and
statistical checks of dropout; the level plan against a recursive longest-path reference.

Compilation dominates the run time, so layers are built once per (network, options) and each
test jits one function per layer structure.
"""

from __future__ import annotations

from functools import cache
from graphlib import TopologicalSorter

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pknet.compiler.model.layers import NetworkLayer, plan_kpnn
from pknet.compiler.model.layers import wiring as wiring_module
from pknet.compiler.network.network import Network
from pknet.errors import CompileError
from pknet.specs.schema.model import KpnnLayerSpec

NUMPY_ACTIVATIONS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: 0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3))),
    "softplus": lambda z: np.logaddexp(z, 0.0),
    "linear": lambda z: z,
}


@eqx.filter_jit
def run(layer: NetworkLayer, x, key=None):
    return layer(x, key=key)


@eqx.filter_jit
def values(layer: NetworkLayer, x, key=None, gate=None, offset=None):
    return layer.node_values(x, key=key, gate=gate, offset=offset)


@eqx.filter_jit
def values_per_key(layer: NetworkLayer, x, keys):
    return jax.vmap(lambda k: layer.node_values(x, key=k))(keys)


def named_network(edges: list[tuple[str, str]], signs=None, extra=()) -> Network:
    src = [u for u, _ in edges]
    dst = [v for _, v in edges]
    sign = None if signs is None else np.array(signs)
    return Network.from_edges(src, dst, sign, extra_nodes=extra)


@cache
def random_case(seed: int, n_max: int = 14) -> tuple[Network, np.ndarray, np.ndarray]:
    """A random DAG (names shuffled against the topological order) with inputs and outputs.

    Sometimes an input has a parent (an edge the layer ignores) and an output feeds other nodes.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, n_max + 1))
    names = [f"n{i:02d}" for i in rng.permutation(n)]
    edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.3]
    edges = edges or [(names[0], names[-1])]
    net = named_network(edges, rng.choice([-1, 0, 1], size=len(edges)), extra=names)
    has_parent = net.in_degree() > 0
    roots = np.flatnonzero(~has_parent)
    inputs = list(rng.choice(roots, size=max(1, len(roots) - 1), replace=False))
    inner = np.flatnonzero(has_parent)
    if rng.random() < 0.5 and len(inner) > 2:
        inputs.append(int(rng.choice(inner)))  # an input with incoming edges
    others = [i for i in range(net.n_nodes) if i not in inputs]
    outputs = rng.choice(others, size=min(len(others), int(rng.integers(1, 3))), replace=False)
    return net, np.array(inputs), np.array(outputs)


@cache
def layer_for(net_seed: int, *, last: bool = True, **fields) -> NetworkLayer:
    """A layer on `random_case(net_seed)` with random bias/gamma/beta (init would hide layout
    mistakes behind zeros and ones)."""
    net, inputs, outputs = random_case(net_seed)
    return build(net, inputs, outputs, last=last, **fields)


def build(net, inputs, outputs, *, last=True, seed=0, **fields) -> NetworkLayer:
    spec = KpnnLayerSpec(kind="kpnn", name="kpnn_1", **fields)
    plan = plan_kpnn(
        net,
        inputs,
        outputs,
        units_per_node=spec.units_per_node,
        last=last,
        dropout_rule=spec.dropout_rule,
        signed=spec.signed,
    )
    layer = NetworkLayer(
        plan,
        name=spec.name,
        activation=spec.activation,
        dropout=spec.dropout,
        bias=spec.bias,
        input_batchnorm=spec.input_batchnorm,
        key=jax.random.key(seed),
    )
    rng = np.random.default_rng(seed)
    for field in ("bias", "gamma", "beta"):
        value = getattr(layer, field)
        if value is not None:
            new = jnp.asarray(rng.normal(size=value.shape), value.dtype)
            layer = eqx.tree_at(lambda m, f=field: getattr(m, f), layer, new)
    return layer


def units_of(layer: NetworkLayer, net: Network, inputs, outputs) -> np.ndarray:
    units = np.full(net.n_nodes, layer.units_per_node)
    units[np.asarray(inputs)] = 1
    if layer.last:
        units[np.asarray(outputs)] = 1
    return units


def edge_blocks(layer: NetworkLayer, net: Network) -> np.ndarray:
    """(n_edges, U, U) effective weights, built in NumPy from the documented sign rule."""
    theta = np.asarray(layer.weight, np.float64)
    if layer.connection_sign is not None:
        sign = net.sign[np.asarray(layer.connection_edge)]
        theta = np.where(sign == 0, theta, sign * np.logaddexp(theta, 0.0))
    slot = np.asarray(layer.node_slot)
    unit = np.arange(layer.n_slots) - slot[np.asarray(layer.unit_node)]
    u = layer.units_per_node
    blocks = np.zeros((net.n_edges, u, u))
    parent, child = np.asarray(layer.connection_parent), np.asarray(layer.connection_child)
    blocks[np.asarray(layer.connection_edge), unit[parent], unit[child]] = theta
    return blocks


def reference(layer: NetworkLayer, net: Network, inputs, outputs, x, gate=None, offset=None):
    """Node by node in topological order; returns (outputs, {node: h})."""
    act = NUMPY_ACTIVATIONS[layer.activation]
    blocks = edge_blocks(layer, net)
    units = units_of(layer, net, inputs, outputs)
    is_input = np.isin(np.arange(net.n_nodes), inputs)
    slot = np.asarray(layer.node_slot)
    bias = None if layer.bias is None else np.asarray(layer.bias, np.float64)
    gate = np.ones(net.n_nodes) if gate is None else np.asarray(gate, np.float64)
    offset = np.zeros(net.n_nodes) if offset is None else np.asarray(offset, np.float64)
    in_edges = {v: [] for v in range(net.n_nodes)}
    for e, (u, v) in enumerate(zip(net.src, net.dst, strict=True)):
        if not is_input[v]:
            in_edges[v].append((e, u))
    x = np.asarray(x, np.float64)
    if layer.gamma is not None:
        x = np.asarray(layer.gamma, np.float64) * x + np.asarray(layer.beta, np.float64)
    z = {v: x[i : i + 1] for i, v in enumerate(inputs)}
    h = {}
    graph = {v: [u for _, u in in_edges[v]] for v in in_edges}
    for v in TopologicalSorter(graph).static_order():
        if not is_input[v]:
            total = np.zeros(units[v])
            for e, u in in_edges[v]:
                total += h[u] @ blocks[e, : units[u], : units[v]]
            if bias is not None:
                start = slot[v] - layer.n_inputs
                total += bias[start : start + units[v]]
            z[v] = total
        h[v] = (z[v] if is_input[v] else act(z[v])) * gate[v] + offset[v]
    source = z if layer.last else h
    return np.concatenate([source[o] for o in outputs]), h


CONFIGS = [
    dict(units_per_node=1, signed=False, bias=True, input_batchnorm=False, last=True),
    dict(units_per_node=1, signed=True, bias=True, input_batchnorm=True, last=True),
    dict(units_per_node=2, signed=False, bias=False, input_batchnorm=False, last=True),
    dict(units_per_node=2, signed=True, bias=True, input_batchnorm=True, last=False),
    dict(units_per_node=1, signed=False, bias=True, input_batchnorm=True, last=False),
    dict(units_per_node=3, signed=True, bias=True, input_batchnorm=False, last=True),
]


@eqx.filter_jit
def batch_forward(layer: NetworkLayer, xs):
    return jax.vmap(layer)(xs), jax.vmap(layer.node_values)(xs), layer(xs[0])


def config_layer(net_seed: int, case: int, **changes) -> NetworkLayer:
    """`CONFIGS[case]` on `random_case(net_seed)`, with an activation that varies by case."""
    activation = list(NUMPY_ACTIVATIONS)[(case + 3 * net_seed) % len(NUMPY_ACTIVATIONS)]
    return layer_for(net_seed, **{"activation": activation, **CONFIGS[case], **changes})


FORWARD_CASES = [(0, case) for case in range(len(CONFIGS))] + [(1, 3)]


@pytest.mark.slow
@pytest.mark.parametrize(("net_seed", "case"), FORWARD_CASES)
def test_forward_matches_reference_under_jit_and_vmap(net_seed, case):
    net, inputs, outputs = random_case(net_seed)
    layer = config_layer(net_seed, case)
    xs = np.random.default_rng(case).normal(size=(4, len(inputs))).astype(np.float32)
    got, buffers, single = batch_forward(layer, xs)
    for row, x in enumerate(xs):
        want, h = reference(layer, net, inputs, outputs, x)
        np.testing.assert_allclose(got[row], want, rtol=1e-5, atol=1e-5)
        for v, value in h.items():
            start = int(layer.node_slot[v])
            np.testing.assert_allclose(buffers[row, start : start + len(value)], value, atol=1e-5)
            assert np.all(np.asarray(layer.unit_node)[start : start + len(value)] == v)
    np.testing.assert_allclose(single, got[0], rtol=1e-6, atol=1e-6)


def test_edge_weights_are_the_effective_blocks():
    net, _, _ = random_case(0)
    layer = config_layer(0, 3)
    np.testing.assert_allclose(
        eqx.filter_jit(NetworkLayer.edge_weights)(layer), edge_blocks(layer, net), rtol=1e-6
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", [1, 2, 3])
def test_gradients_match_finite_differences(case, assert_gradients_match_finite_differences):
    with jax.enable_x64(True):
        net, inputs, outputs = random_case(11, n_max=8)
        layer = build(net, inputs, outputs, seed=3, activation="tanh", **CONFIGS[case])
        assert_gradients_match_finite_differences(layer)


def test_trainable_leaves_are_exactly_the_parameters():
    layer = config_layer(0, 1)
    leaves = jax.tree.leaves(eqx.filter(layer, eqx.is_inexact_array))
    expected = [layer.weight, layer.bias, layer.gamma, layer.beta]
    assert len(leaves) == len(expected)
    assert all(a is b for a, b in zip(leaves, expected, strict=True))
    grads = eqx.filter_grad(lambda m: m.weight.sum())(layer)
    assert grads.connection_parent is None and grads.unit_node is None


@pytest.mark.parametrize("case", range(len(CONFIGS)))
def test_parameter_count(case):
    net, inputs, outputs = random_case(0)
    config = CONFIGS[case]
    layer = config_layer(0, case)
    units = units_of(layer, net, inputs, outputs)
    used = ~np.isin(net.dst, inputs)
    hidden = ~np.isin(np.arange(net.n_nodes), inputs)
    edges = int((units[net.src] * units[net.dst])[used].sum())
    expected = edges + (units[hidden].sum() if config["bias"] else 0)
    expected += 2 * len(inputs) if config["input_batchnorm"] else 0
    assert layer.n_parameters == expected
    if config["units_per_node"] == 1:
        assert edges == used.sum()


def test_signed_weights_follow_the_network_signs():
    net, _, _ = random_case(1)
    unsigned = config_layer(1, 3, signed=False)
    signed = config_layer(1, 3)
    used = np.isin(np.arange(net.n_edges), np.asarray(signed.connection_edge))
    blocks = edge_blocks(signed, net)
    for e in np.flatnonzero(used & (net.sign != 0)):
        assert np.all(np.sign(blocks[e][blocks[e] != 0]) == net.sign[e])
    theta = np.asarray(unsigned.weight)
    sign = net.sign[np.asarray(signed.connection_edge)]
    same_theta = eqx.tree_at(lambda m: m.weight, signed, unsigned.weight)
    expected = np.where(sign == 0, theta, sign * np.logaddexp(theta, 0))
    np.testing.assert_allclose(same_theta.effective_weight(), expected, rtol=1e-6)


def test_signed_on_a_network_without_signs_is_an_error():
    net = named_network([("a", "K"), ("b", "K"), ("K", "T")])  # no sign column: every sign 0
    with pytest.raises(CompileError, match="`signed: true` constrains edge weights"):
        build(net, net.index_of(["a", "b"]), net.index_of(["T"]), signed=True)


# --- dropout ----------------------------------------------------------------------------------


EXPECTATION = dict(dropout=0.3, dropout_rule="uniform", activation="linear", last=False)


def test_no_key_no_dropout():
    net, inputs, outputs = random_case(2)
    layer = layer_for(2, **EXPECTATION)
    x = jnp.linspace(0.5, 1.5, layer.n_inputs)
    want, _ = reference(layer, net, inputs, outputs, x)
    np.testing.assert_allclose(run(layer, x), want, rtol=1e-5, atol=1e-6)


def assert_dropout_rule(net, inputs, outputs, protected_by_rule):
    x = jnp.linspace(0.5, 1.5, len(inputs))  # nonzero inputs, sigmoid > 0: zero <=> dropped
    keys = jax.random.split(jax.random.key(42), 400)
    for rule in ("kpnn", "uniform"):
        fields = dict(dropout=0.5, dropout_rule=rule, units_per_node=2)
        layer = build(net, inputs, outputs, last=False, **fields)
        ever = np.asarray(values_per_key(layer, x, keys) == 0).any(axis=0)
        for v in range(net.n_nodes):
            slots = np.flatnonzero(np.asarray(layer.unit_node) == v)
            protected = v in outputs or (rule == "kpnn" and v in protected_by_rule)
            assert (not ever[slots].any()) if protected else ever[slots].all(), (rule, v)


@pytest.mark.slow
def test_dropout_rule_keeps_only_parents():
    # K1 is the only parent of K2 and d of K4; every other node has a sibling parent
    edges = [("a", "K1"), ("b", "K1"), ("K1", "K2"), ("K2", "T"), ("a", "T"), ("b", "K3")]
    edges += [("c", "K3"), ("K3", "T"), ("c", "T"), ("d", "K4"), ("K4", "T")]
    net = named_network(edges)
    inputs, outputs = net.index_of(["a", "b", "c", "d"]), net.index_of(["T"])
    assert_dropout_rule(net, inputs, outputs, set(net.index_of(["K1", "d"]).tolist()))


def test_dropout_rule_on_a_random_network():
    net, inputs, outputs = random_case(0)
    used = ~np.isin(net.dst, inputs)
    in_degree = np.bincount(net.dst[used], minlength=net.n_nodes)
    only_parent = set(net.src[used & (in_degree[net.dst] == 1)].tolist())
    assert_dropout_rule(net, inputs, outputs, only_parent)


@pytest.mark.slow
def test_inverted_dropout_keeps_the_expectation():
    # linear activations: the values are multilinear in independent masks, so E[h] = h
    layer = layer_for(2, **EXPECTATION)
    x = jnp.linspace(0.5, 1.5, layer.n_inputs)
    samples = values_per_key(layer, x, jax.random.split(jax.random.key(0), 5000))
    mean, sd = samples.mean(axis=0), samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(mean - values(layer, x)) <= 5 * sd + 1e-5)


# --- edge shapes ------------------------------------------------------------------------------


def check(layer, net, inputs, outputs, x):
    want, _ = reference(layer, net, inputs, outputs, x)
    np.testing.assert_allclose(run(layer, jnp.asarray(x)), want, rtol=1e-5, atol=1e-6)


def test_one_level():
    net = named_network([("a", "T"), ("b", "T")])
    inputs, outputs = net.index_of(["a", "b"]), net.index_of(["T"])
    layer = build(net, inputs, outputs)
    assert layer.level_bounds == ((2, 3),)
    check(layer, net, inputs, outputs, [0.3, -1.2])


@pytest.mark.parametrize("units_per_node", [1, 2])
def test_single_node_between_input_and_output(units_per_node):
    net = named_network([("a", "K"), ("K", "T")])
    inputs, outputs = net.index_of(["a"]), net.index_of(["T"])
    layer = build(net, inputs, outputs, units_per_node=units_per_node, activation="tanh")
    assert len(layer.level_bounds) == 2
    u = units_per_node
    assert layer.n_parameters == (u + u) + (u + 1)  # edges a->K, K->T; biases of K, T
    check(layer, net, inputs, outputs, [0.7])


@pytest.mark.parametrize("last", [True, False])
def test_output_that_feeds_another_node(last):
    net = named_network([("a", "O1"), ("b", "O1"), ("O1", "O2"), ("b", "O2")])
    inputs, outputs = net.index_of(["a", "b"]), net.index_of(["O1", "O2"])
    layer = build(net, inputs, outputs, units_per_node=2, last=last)
    x = jnp.array([0.4, -0.8])
    assert run(layer, x).shape == ((2,) if last else (4,))
    check(layer, net, inputs, outputs, x)
    if last:  # O2 reads O1's activation, while the layer returns O1's logit
        o1 = int(layer.node_slot[outputs[0]])
        logit = float(run(layer, x)[0])
        assert float(values(layer, x)[o1]) == pytest.approx(1 / (1 + np.exp(-logit)), rel=1e-6)


def test_edges_into_inputs_are_ignored():
    # K -> a is ignored: a takes the data value; K has no parent left and computes act(bias)
    net = named_network([("K", "a"), ("a", "T"), ("K", "T")])
    inputs, outputs = net.index_of(["a"]), net.index_of(["T"])
    layer = build(net, inputs, outputs)
    assert layer.n_parameters == 2 + 2  # edges a->T, K->T; biases of K and T
    into_input = np.flatnonzero(net.dst == inputs[0])
    assert not np.isin(np.asarray(layer.connection_edge), into_input).any()
    h = np.asarray(values(layer, jnp.array([0.9])))
    k = int(layer.node_slot[net.index_of(["K"])[0]])
    assert h[layer.node_slot[inputs[0]]] == pytest.approx(0.9)
    assert h[k] == pytest.approx(1 / (1 + np.exp(-float(layer.bias[k - 1]))), rel=1e-6)
    check(layer, net, inputs, outputs, [0.9])


def test_no_inputs_no_edges():
    net = named_network([], extra=["T"])
    layer = build(net, [], [0])
    assert layer.n_parameters == 1
    np.testing.assert_allclose(run(layer, jnp.zeros(0)), layer.bias)


# --- gate and offset ----------------------------------------------------------------------------


def test_gate_zero_removes_the_nodes_out_edges():
    net, inputs, outputs = random_case(0)
    layer = config_layer(0, 3, signed=False)
    x = jnp.linspace(-1, 1, len(inputs))
    sources = [v for v in np.unique(net.src) if v not in outputs]
    assert sources
    for v in sources:
        gate = jnp.ones(net.n_nodes).at[v].set(0.0)
        gated = values(layer, x, gate=gate)[layer.output_slot]
        cut = np.isin(np.asarray(layer.connection_edge), np.flatnonzero(net.src == v))
        without = eqx.tree_at(lambda m: m.weight, layer, jnp.where(cut, 0.0, layer.weight))
        np.testing.assert_allclose(gated, run(without, x), rtol=1e-5, atol=1e-6)
        want, _ = reference(layer, net, inputs, outputs, x, gate=np.asarray(gate))
        np.testing.assert_allclose(gated, want, rtol=1e-5, atol=1e-5)


def test_identity_gate_and_zero_offset_change_nothing():
    layer = config_layer(0, 3)
    x = jnp.linspace(-1, 1, layer.n_inputs)
    ones, zeros = jnp.ones(layer.n_nodes), jnp.zeros(layer.n_nodes)
    np.testing.assert_array_equal(values(layer, x, gate=ones, offset=zeros), values(layer, x))


@pytest.mark.slow
def test_offset_shifts_activations_and_its_gradient_is_the_activation_gradient():
    with jax.enable_x64(True):
        net, inputs, outputs = random_case(1)
        layer = build(net, inputs, outputs, activation="tanh", last=False)
        x = jnp.linspace(-1, 1, len(inputs))
        offset = jnp.asarray(np.random.default_rng(0).normal(size=net.n_nodes))
        eps = 1e-6

        def out(o):
            return layer.node_values(x, offset=o)[layer.output_slot]

        @jax.jit
        def shifted_grad_and_differences(o):
            steps = eps * jnp.eye(net.n_nodes)
            fd = jax.vmap(lambda d: (out(d).sum() - out(-d).sum()) / (2 * eps))(steps)
            return out(o), jax.grad(lambda d: out(d).sum())(jnp.zeros_like(o)), fd

        shifted, grad, fd = shifted_grad_and_differences(offset)
        want, _ = reference(layer, net, inputs, outputs, x, offset=np.asarray(offset))
        np.testing.assert_allclose(shifted, want, rtol=1e-10)
        np.testing.assert_allclose(grad, fd, atol=1e-7)


# --- plan -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_plan_levels_are_longest_paths(seed):
    net, inputs, outputs = random_case(seed)
    plan = plan_kpnn(net, inputs, outputs, units_per_node=2, last=True)
    parents = {v: [] for v in range(net.n_nodes)}
    for u, v in zip(net.src, net.dst, strict=True):
        if v not in inputs:
            parents[v].append(u)

    @cache
    def depth(v):
        return 0 if v in inputs else 1 + max((depth(u) for u in parents[v]), default=0)

    np.testing.assert_array_equal(plan.node_level, [depth(v) for v in range(net.n_nodes)])
    slot_level = plan.node_level[plan.unit_node]
    assert np.all(np.diff(slot_level) >= 0)
    np.testing.assert_array_equal(plan.unit_node[: len(inputs)], inputs)
    levels = zip(plan.level_bounds, plan.level_connections, strict=True)
    for d, ((lo, hi), (c0, c1)) in enumerate(levels, start=1):
        assert np.all(slot_level[lo:hi] == d)
        child = plan.connection_child[c0:c1]
        assert np.all((child >= lo) & (child < hi)) and np.all(np.diff(child) >= 0)
        assert np.all(plan.node_level[plan.unit_node[plan.connection_parent[c0:c1]]] < d)
    edge = plan.connection_edge
    np.testing.assert_array_equal(plan.unit_node[plan.connection_parent], net.src[edge])
    np.testing.assert_array_equal(plan.unit_node[plan.connection_child], net.dst[edge])


def test_plan_errors_teach():
    cyclic = named_network([("a", "K1"), ("K1", "K2"), ("K2", "K1"), ("K2", "T")])
    with pytest.raises(CompileError, match="cycle") as info:
        plan_kpnn(cyclic, cyclic.index_of(["a"]), cyclic.index_of(["T"]))
    assert "prune" in info.value.format()
    assert info.value.problems[0].path == "network.edges"  # located at the spec's network
    net = named_network([("a", "T")])
    with pytest.raises(CompileError, match="both as inputs and as outputs"):
        plan_kpnn(net, net.index_of(["a", "T"]), net.index_of(["T"]))
    with pytest.raises(CompileError, match="listed twice"):
        plan_kpnn(net, net.index_of(["a", "a"]), net.index_of(["T"]))
    with pytest.raises(CompileError, match="no output"):
        plan_kpnn(net, net.index_of(["a"]), [])


def test_levels_are_scanned_in_runs_of_small_levels():
    units, connections = np.array([3, 2, 900, 2, 1]), np.array([0, 3, 50, 4, 2])
    runs = wiring_module.group_levels(units, connections, n_hidden=100)
    assert runs == [range(0, 2), range(2, 3), range(3, 5)]
    wide = wiring_module.group_levels(units, connections, n_hidden=2000)
    assert wide == [range(k, k + 1) for k in range(5)]


@pytest.mark.slow
def test_levels_evaluated_one_by_one_match_the_scanned_levels(monkeypatch):
    net, inputs, outputs = random_case(0)
    config = {**CONFIGS[3], "activation": "tanh", "dropout": 0.3}
    scanned = build(net, inputs, outputs, **config)
    monkeypatch.setattr(wiring_module, "SCAN_LIMIT", 0)
    unrolled = build(net, inputs, outputs, **config)
    assert max(len(run.units) for run in scanned.level_runs) == len(scanned.level_bounds) > 1
    assert all(len(run.units) == 1 for run in unrolled.level_runs)
    x = np.random.default_rng(0).normal(size=len(inputs)).astype(np.float32)
    key = jax.random.key(1)

    @eqx.filter_jit
    def values_and_gradient(layer):
        def total(layer):
            return layer(x, key=key).sum() + layer.node_values(x, key=key).sum()

        return layer.node_values(x, key=key), eqx.filter_grad(total)(layer)

    want, want_grad = values_and_gradient(scanned)
    got, got_grad = values_and_gradient(unrolled)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree.leaves(got_grad), jax.tree.leaves(want_grad), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
