"""Every model kind is a final `AbstractModel` with a trainer, and every layer kind the schema
accepts has a builder in the layer registry."""

from __future__ import annotations

import inspect
import typing

import pytest

from pknet.compiler.model.base import AbstractModel, Trainer
from pknet.compiler.model.graph_model import SampleGraphModel
from pknet.compiler.model.layers.registry import (
    LAYER_BUILDERS,
    import_layer_modules,
    layer_builder,
)
from pknet.compiler.model.model import Model
from pknet.compiler.model.multitask import MultitaskModel
from pknet.compiler.model.network_graph_model import NetworkGraphModel
from pknet.compiler.model.ridge_model import RidgeModel
from pknet.compiler.model.vae import Vae
from pknet.specs.schema.model import DenseLayerSpec, LayerSpec

KINDS = (Model, RidgeModel, SampleGraphModel, NetworkGraphModel, MultitaskModel, Vae)


def test_every_layer_spec_class_of_the_schema_has_a_builder() -> None:
    union, _ = typing.get_args(LayerSpec)  # Annotated[union, Field(discriminator=...)]
    spec_classes = typing.get_args(union)
    assert DenseLayerSpec in spec_classes
    import_layer_modules()  # each layer module registers its builders
    assert [c.__name__ for c in spec_classes if c not in LAYER_BUILDERS] == []


def test_a_spec_class_without_a_builder_is_named() -> None:
    class Unknown(DenseLayerSpec):
        pass

    with pytest.raises(TypeError, match="no layer is built for specs of type Unknown"):
        layer_builder(Unknown(kind="dense", name="d", units=1))


def test_every_model_kind_is_a_final_abstract_model_with_a_trainer() -> None:
    def subclasses(cls: type) -> set[type]:
        return {c for sub in cls.__subclasses__() for c in {sub, *subclasses(sub)}}

    assert {c for c in subclasses(AbstractModel) if not inspect.isabstract(c)} == set(KINDS)
    assert inspect.isabstract(AbstractModel)
    for kind in KINDS:
        assert issubclass(kind, AbstractModel) and not inspect.isabstract(kind), kind
        assert getattr(kind, "__final__", False), f"{kind.__name__} is not @final"
        assert kind.trainer in typing.get_args(Trainer), kind
        assert isinstance(kind.embeds, bool), kind
    assert [k.__name__ for k in KINDS if k.embeds] == ["Vae"]
    assert SampleGraphModel.trainer == "full_graph" and RidgeModel.trainer == "closed_form"
