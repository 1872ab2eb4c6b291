"""The `multitask` model kind: per-task inputs from a network, stacked towers, trace norm."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pknet
from pknet.compiler.model.base import group_arrays, group_names
from pknet.compiler.model.losses import CompiledLoss, WeightedTerm, compile_loss
from pknet.compiler.model.model import build_model
from pknet.compiler.model.multitask import MultitaskModel
from pknet.compiler.model.trace_norm import trace_norm
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, SpecError
from pknet.specs.schema import MultitaskModelSpec

# TFs a, b, c regulate targets T1 (a+, b-), T2 (c+) and T3 (a-, b+, c+)
EDGES = [("a", "T1", 1), ("b", "T1", -1), ("c", "T2", 1), ("a", "T3", -1), ("b", "T3", 1)]
EDGES.append(("c", "T3", 1))
NET = Network.from_edges(
    [u for u, _, _ in EDGES], [v for _, v, _ in EDGES], sign=[s for *_, s in EDGES]
)
INPUTS, OUTPUTS = NET.index_of(["a", "b", "c"]), NET.index_of(["T1", "T2", "T3"])
EXAMPLE = Path(__file__).parents[2] / "examples" / "mtl_trace_norm" / "spec.yaml"


def _spec(**fields) -> MultitaskModelSpec:
    return MultitaskModelSpec.model_validate(
        {
            "kind": "multitask",
            "task_features": ["expression", "mor", "expression_x_mor"],
            "layers": [
                {"kind": "dense", "units": 4, "activation": "tanh"},
                {"kind": "dense", "units": 1},
            ],
            **fields,
        }
    )


def _model(**fields) -> MultitaskModel:
    return build_model(_spec(**fields), NET, INPUTS, OUTPUTS, 3, key=jax.random.key(0))


@pytest.mark.slow
def test_each_task_reads_its_own_parents_and_modes_of_regulation() -> None:
    reads = _model().inputs
    parents = [
        sorted(np.asarray(p)[np.asarray(m) == 1].tolist())
        for p, m in zip(reads.parents, reads.mask, strict=True)
    ]
    assert parents == [[0, 1], [2], [0, 1, 2]]
    x = jnp.asarray([2.0, 3.0, 5.0])
    features = np.asarray(reads(x)).reshape(3, 3, 3)  # task, parent slot, feature
    t1 = features[0][np.asarray(reads.mask[0]) == 1]
    np.testing.assert_array_equal(t1, [[2.0, 1.0, 2.0], [3.0, -1.0, -3.0]])
    assert np.all(features[1][np.asarray(reads.mask[1]) == 0] == 0)  # padding reads nothing


def test_the_vmapped_towers_equal_a_loop_over_separate_towers() -> None:
    model = _model()
    x = jnp.asarray(np.random.default_rng(0).normal(size=3), jnp.float32)
    features = model.inputs(x)
    out = model(x)
    assert out.shape == (3,)
    for t in range(3):
        tower = jax.tree.map(lambda a, t=t: a[t], model.towers)
        h = features[t]
        for layer in tower:
            h = layer(h)
        np.testing.assert_allclose(out[t], h[0], rtol=1e-6)
    per_tower = 9 * 4 + 4 + 4 * 1 + 1
    assert model.n_parameters == 3 * per_tower


@pytest.mark.slow
def test_every_task_reads_every_input_with_task_inputs_all() -> None:
    spec = _spec(task_inputs="all", task_features=["expression"])
    model = build_model(spec, None, None, None, 5, key=jax.random.key(0), n_tasks=4)
    assert model.n_tasks == 4 and model(jnp.ones(5)).shape == (4,)
    assert model.towers[0].weight.shape == (4, 5, 4)


@pytest.mark.slow
def test_trace_norm_penalises_the_task_stacked_group() -> None:
    model = _model(groups={"towers": ["dense_1", "dense_2"]})
    assert "towers" in group_names(model)
    assert len(group_arrays(model, "towers")) == 4
    loss = CompiledLoss((WeightedTerm(0.5, "trace_norm", ("towers",), (("mode", "all"),)),))
    expected = 0.5 * trace_norm(group_arrays(model, "towers"), "all")
    np.testing.assert_allclose(loss.penalty(model, group_arrays), expected, rtol=1e-6)
    grads = eqx.filter_grad(lambda m: loss.penalty(m, group_arrays))(model)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(eqx.filter(grads, eqx.is_array)))


def test_the_example_loss_compiles_to_a_trace_norm_penalty() -> None:
    spec = pknet.load_spec(EXAMPLE)
    loss = compile_loss(spec, "regression", 60, 0, 60)
    assert loss.terms[1:] == (WeightedTerm(0.001, "trace_norm", ("dense_1",), (("mode", "task"),)),)


def test_a_task_without_inputs_is_a_compile_error() -> None:
    net = Network.from_edges(["a", "b"], ["T1", "T2"])
    with pytest.raises(CompileError, match=r"1 task\(s\) have no input.*`T2`") as info:
        build_model(
            _spec(), net, net.index_of(["a"]), net.index_of(["T1", "T2"]), 1, key=jax.random.key(0)
        )
    assert info.value.problems[0].path == "network.outputs"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model.layers": [{"kind": "kpnn"}]}, "a multitask tower is built of `dense` layers"),
        ({"model.task_inputs": "all"}, "edge features (`mor`) need per-task inputs"),
        ({"model.groups": {"shared": ["dense_9"]}}, "group `shared` names `dense_9`"),
    ],
)
def test_bad_multitask_specs_are_located_errors(overrides, message) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pknet.load_spec(EXAMPLE, overrides)
