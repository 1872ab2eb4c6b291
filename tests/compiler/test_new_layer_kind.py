"""A new layer kind is one spec class, one layer module (the layer and its `@builds` builder) and
one test file, as docs/architecture.md walks through: here the three in one file, the builder
registered for the test only. (For YAML specs the class also joins the `LayerSpec` union beside
it; `build_model` takes layer specs as they are.)"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array, Float, PRNGKeyArray
from pydantic import Field

from pknet.compiler.model.base import group_arrays
from pknet.compiler.model.layers.registry import LAYER_BUILDERS, Wiring
from pknet.compiler.model.model import Model, build_model
from pknet.specs.schema.model import DenseLayerSpec, LayerSpecBase


class ScaleLayerSpec(LayerSpecBase):
    """Multiplies every input by its own trained factor."""

    kind: Literal["scale"] = Field(description="Layer kind.")
    init: float = Field(1.0, description="Initial factor.")


class ScaleLayer(eqx.Module):
    """`weight * x`, elementwise."""

    weight: Float[Array, " features"]
    name: str = eqx.field(static=True)

    def __init__(self, features: int, *, init: float = 1.0, name: str = "scale"):
        self.weight = jnp.full(features, init, jnp.float32)
        self.name = name

    @property
    def bias(self) -> None:
        return None

    @property
    def n_parameters(self) -> int:
        return self.weight.size

    def __call__(
        self, x: Float[Array, " features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " features"]:
        return self.weight * x


def build_scale(
    spec: ScaleLayerSpec, width: int, wiring: Wiring | None, *, last: bool, key: PRNGKeyArray
) -> tuple[ScaleLayer, int]:
    return ScaleLayer(width, init=spec.init, name=spec.name), width


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LAYER_BUILDERS, ScaleLayerSpec, build_scale)


@pytest.mark.usefixtures("registered")
def test_a_model_with_a_layer_kind_added_outside_the_package() -> None:
    layers = [
        ScaleLayerSpec(kind="scale", name="scale_1", init=2.0),
        DenseLayerSpec(kind="dense", name="head", units=1),
    ]
    model = build_model(layers, None, None, None, 3, key=jax.random.key(0))
    assert isinstance(model, Model) and isinstance(model.layers[0], ScaleLayer)
    assert model.n_parameters == 3 + (3 + 1) and model.output_width(3) == 1
    assert group_arrays(model, "scale_1") == [model.layers[0].weight]
    x = jnp.array([1.0, -1.0, 0.5])
    head = model.layers[1]
    np.testing.assert_allclose(model(x), head(2.0 * x), rtol=1e-6)
