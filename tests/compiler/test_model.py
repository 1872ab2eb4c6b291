"""Stacking layers into a model, its parameter groups, and models stacked over folds."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pknet.compiler.model.base import count_parameters, group_arrays, group_names
from pknet.compiler.model.layers import DenseLayer, NetworkLayer
from pknet.compiler.model.model import Model, build_model
from pknet.compiler.network.network import Network
from pknet.errors import CompileError
from pknet.specs.schema.model import DenseLayerSpec, KpnnLayerSpec

# a, b, c -> K1, K2 -> O1, O2
NET = Network.from_edges(
    ["a", "b", "b", "c", "K1", "K2", "K2"],
    ["K1", "K1", "K2", "K2", "O1", "O1", "O2"],
    np.array([1, -1, 1, 0, 1, 1, -1]),
)
INPUTS = NET.index_of(["a", "b", "c"])
OUTPUTS = NET.index_of(["O1", "O2"])
KPNN = KpnnLayerSpec(kind="kpnn", name="kpnn_1", units_per_node=2, input_batchnorm=True)
DENSE = DenseLayerSpec(kind="dense", name="dense_1", units=4, activation="tanh", dropout=0.2)
HEAD = DenseLayerSpec(kind="dense", name="head", units=1)


@eqx.filter_jit
def call(model, x, key=None):
    return model(x, key=key)


def kpnn_dense_model(key=None) -> Model:
    key = jax.random.key(0) if key is None else key
    return build_model([KPNN, DENSE, HEAD], NET, INPUTS, OUTPUTS, 3, key=key)


@pytest.mark.slow
def test_kpnn_then_dense_stacks_the_layers():
    model = kpnn_dense_model()
    kpnn, dense, head = model.layers
    assert isinstance(kpnn, NetworkLayer) and isinstance(dense, DenseLayer)
    assert not kpnn.last and not dense.last and head.last
    assert dense.in_features == 2 * 2 and head.in_features == 4
    xs = jnp.asarray(np.random.default_rng(0).normal(size=(6, 3)), jnp.float32)
    got, want = eqx.filter_jit(
        lambda b: (jax.vmap(model)(b), jax.vmap(lambda x: head(dense(kpnn(x))))(b))
    )(xs)
    assert got.shape == (6, 1)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    dropped = call(model, xs[0], jax.random.key(1))
    assert dropped.shape == (1,) and jnp.all(jnp.isfinite(dropped))


def test_dense_only_model_reads_n_features():
    model = build_model([DENSE, HEAD], None, None, None, 5, key=jax.random.key(0))
    assert model.layers[0].in_features == 5
    assert count_parameters(model) == (5 * 4 + 4) + (4 + 1)


def test_kpnn_alone_returns_logits():
    model = build_model([KPNN], NET, INPUTS, OUTPUTS, 3, key=jax.random.key(0))
    assert model.layers[0].last and call(model, jnp.ones(3)).shape == (2,)


def test_parameter_groups():
    model = kpnn_dense_model()
    kpnn, dense, head = model.layers
    assert group_names(model) == ("weights", "bias", "kpnn_1", "dense_1", "head")
    assert group_arrays(model, "weights") == [kpnn.weight, dense.weight, head.weight]
    assert group_arrays(model, "bias") == [kpnn.bias, dense.bias, head.bias]
    assert group_arrays(model, "kpnn_1") == [kpnn.weight, kpnn.bias, kpnn.gamma, kpnn.beta]
    assert group_arrays(model, "head") == [head.weight, head.bias]
    assert count_parameters(model) == sum(
        a.size for a in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    )
    with pytest.raises(ValueError, match="no parameter group `nope`"):
        group_arrays(model, "nope")


@pytest.mark.slow
def test_groups_and_forward_of_models_stacked_over_folds():
    keys = jax.random.split(jax.random.key(0), 3)
    # parameters get a fold axis; index arrays stay shared
    fold_axis = lambda leaf: 0 if eqx.is_inexact_array(leaf) else None  # noqa: E731
    stacked = eqx.filter_jit(eqx.filter_vmap(kpnn_dense_model, out_axes=fold_axis))(keys)
    assert stacked.layers[0].unit_node.ndim == 1
    single = kpnn_dense_model(keys[1])
    assert [a.shape[0] for a in group_arrays(stacked, "weights")] == [3, 3, 3]
    assert count_parameters(stacked) == count_parameters(single)
    params, static = eqx.partition(stacked, eqx.is_inexact_array)

    @eqx.filter_jit
    def per_fold(params, x):
        return jax.vmap(lambda p: eqx.combine(p, static)(x))(params)

    x = jnp.array([0.2, -0.4, 1.0])
    np.testing.assert_allclose(per_fold(params, x)[1], call(single, x), rtol=1e-6)


@pytest.mark.parametrize(
    ("specs", "n_features", "message", "path"),
    [
        ([DENSE, KPNN], 3, "must be the first layer", "model.layers[1].kind"),
        ([KPNN, HEAD], 4, "4 feature columns for 3 input nodes", "network.inputs"),
    ],
)
def test_build_errors_name_the_layer(specs, n_features, message, path):
    with pytest.raises(CompileError, match=message) as info:
        build_model(specs, NET, INPUTS, OUTPUTS, n_features, key=jax.random.key(0))
    assert info.value.problems[0].path == path
    assert info.value.problems[0].hint
