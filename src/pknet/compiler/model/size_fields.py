"""Which spec field sets the size of each part of a model (for errors about its memory)."""

from __future__ import annotations

from pknet.specs import Spec
from pknet.specs.schema.model import AUX_HEADS, LATENT_LAYER, RECONSTRUCTION_LAYER, VaeModelSpec

DATA = "data"  # the part holding the data matrix
MODEL = "model"  # arrays of the model outside any named layer
SIZE_FIELDS = ("units", "units_per_node", "units_per_term", "components")


def size_field(spec: Spec, part: str) -> str:
    """The path of the spec field that sets the size of `part` (a layer's name, `DATA` or
    `MODEL`), e.g. `model.layers[1].units`."""
    if part == DATA:
        return "data.expression"
    model = spec.model
    if part.startswith(f"{AUX_HEADS}_"):
        return "model.layers[0].aux_heads"
    if isinstance(model, VaeModelSpec) and part in (LATENT_LAYER, RECONSTRUCTION_LAYER):
        if part == RECONSTRUCTION_LAYER and model.decoder:
            return f"model.decoder[{len(model.decoder) - 1}].units"
        return "model.latent"
    for (*where, _), name in model.named_layers():
        if name == part:
            layer = model
            for key in where:
                layer = layer[key] if isinstance(key, int) else getattr(layer, key)
            size = next((f for f in SIZE_FIELDS if hasattr(layer, f)), None)
            path = "model" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where)
            return path + (f".{size}" if size else "")
    return "model"
