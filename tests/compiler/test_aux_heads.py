"""P-NET's auxiliary heads on a hierarchy layer: what they read, their loss, their checks."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pknet
from pknet.compiler.model.base import count_parameters, group_arrays
from pknet.compiler.model.losses import CompiledLoss, WeightedTerm
from pknet.compiler.model.model import AuxOutput, build_model
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, SpecError
from pknet.specs.schema import DenseLayerSpec
from pknet.specs.schema.model import HierarchyLayerSpec

EDGES = [("a", "T1"), ("b", "T1"), ("b", "T2"), ("c", "T2"), ("T1", "R"), ("T2", "R")]
NET = Network.from_edges([u for u, _ in EDGES], [v for _, v in EDGES])
INPUTS, OUTPUTS = NET.index_of(["a", "b", "c"]), NET.index_of(["R"])
PROTEOMICS = Path(__file__).parents[2] / "examples" / "pathway_proteomics" / "spec.yaml"


def _model(aux_heads, units_per_term: int = 2):
    spec = HierarchyLayerSpec(
        kind="hierarchy", name="h", units_per_term=units_per_term, aux_heads=aux_heads
    )
    head = DenseLayerSpec(kind="dense", name="head", units=1)
    return build_model([spec, head], NET, INPUTS, OUTPUTS, 3, key=jax.random.key(0))


@pytest.mark.slow
def test_each_head_reads_one_level_and_the_main_output_is_unchanged() -> None:
    model = _model([0.5, 2.0])
    plain = _model(None)
    layer = model.layers[0]
    # levels: genes, terms, root; a head on every level below the top
    assert model.aux_levels == layer.level_bounds[:-1] and len(model.aux_heads) == 2
    x = jnp.asarray([0.3, -1.0, 2.0])
    out = model(x)
    assert isinstance(out, AuxOutput)
    np.testing.assert_array_equal(out.logits, plain(x))
    values = np.asarray(layer.node_values(x))
    for head, (a, b), logits in zip(model.aux_heads, model.aux_levels, out.aux_logits, strict=True):
        expected = values[a:b] @ np.asarray(head.weight) + np.asarray(head.bias)
        np.testing.assert_allclose(logits, expected, rtol=1e-6)
    np.testing.assert_array_equal(out.aux_weights, [0.5, 2.0])
    heads = sum(h.n_parameters for h in model.aux_heads)
    assert count_parameters(model) == count_parameters(plain) + heads
    assert len(group_arrays(model, "aux")) == 4
    assert len(group_arrays(model, "weights")) == len(group_arrays(plain, "weights")) + 2


@pytest.mark.slow
def test_the_loss_adds_each_heads_weighted_term() -> None:
    model = _model(0.25)
    xs = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)), jnp.float32)
    y = jnp.asarray([0, 1, 1, 0, 1])
    out = jax.vmap(lambda x: model(x))(xs)
    loss = CompiledLoss((WeightedTerm(1.0, "bce"),))
    total = loss.total(model, out, xs, y, jnp.ones(5), group_arrays)

    def bce(logits):
        return np.asarray(optax.sigmoid_binary_cross_entropy(logits[:, 0], y.astype(float)))

    expected = bce(out.logits) + 0.25 * sum(bce(out.aux_logits[:, h]) for h in range(2))
    np.testing.assert_allclose(total, expected.mean(), rtol=1e-5)
    np.testing.assert_allclose(loss.predict(out), jax.nn.sigmoid(out.logits[:, 0]))


def test_a_weight_list_must_match_the_levels() -> None:
    with pytest.raises(CompileError, match="3 auxiliary head weights for 2 levels") as info:
        _model([1.0, 1.0, 1.0])
    assert info.value.problems[0].path == "model.layers[0].aux_heads"


def test_aux_group_exists_only_with_heads_and_not_in_a_vae() -> None:
    spec = pknet.load_spec(
        PROTEOMICS, {"model.layers[0].aux_heads": 0.5, "loss": "bce + 1e-3 * l2(aux)"}
    )
    assert "aux" in spec.model.layer_names()
    with pytest.raises(SpecError, match="unknown parameter group `aux`"):
        pknet.load_spec(PROTEOMICS, {"loss": "bce + 1e-3 * l2(aux)"})
    with pytest.raises(SpecError, match="auxiliary heads predict the target"):
        pknet.load_spec(
            PROTEOMICS,
            {
                "model": {
                    "kind": "vae",
                    "latent": 2,
                    "layers": [{"kind": "hierarchy", "aux_heads": 1.0}],
                },
                "loss": "recon + kl",
                "evaluate.metrics": ["mse"],
                "explain": [],
            },
        )
