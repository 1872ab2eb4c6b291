"""The JSON Schema that editors read (`pknet schema`): it admits what the loader admits.

The pydantic models give the schema of one spec file as written: short forms are declared on
their validators (`json_schema_input_type`), defaults filled by validators make keys optional.
Two things are the loader's, not the models': `extends`, and that a file which extends another
only adds to it. A file with `extends` is checked against the *extending* form of the schema:
the same keys and types, but no key is required in a mapping, since the merged base may give it
(mappings merge key by key; a list, and everything in it, replaces the base's whole).
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from pknet.specs.schema import Spec
from pknet.specs.sources import EXTENDS_KEY

DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXTENDING = "Extending"  # suffix of the definitions of the extending form
JsonSchema = dict[str, Any]

EXTENDS_SCHEMA: JsonSchema = {
    "description": "Base spec file(s) this file adds to, relative to this file; later files "
    "and this one win, key by key.",
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}},
    ],
}


def spec_json_schema() -> JsonSchema:
    """The schema of spec files: a complete spec, or a file that `extends` others."""
    full = Spec.model_json_schema()
    defs = full.pop("$defs")
    full["properties"] = {EXTENDS_KEY: EXTENDS_SCHEMA, **full["properties"]}
    extending = _Extending(defs)
    root = extending.form(full)
    return {
        "$schema": DIALECT,
        "title": "pknet spec",
        "description": full.get("description", ""),
        "$defs": {**defs, **extending.defs, "Spec": full, f"Spec{EXTENDING}": root},
        "if": {"required": [EXTENDS_KEY]},
        "then": {"$ref": f"#/$defs/Spec{EXTENDING}"},
        "else": {"$ref": "#/$defs/Spec"},
    }


def model_json_schema(model: type[BaseModel]) -> JsonSchema:
    """The schema of a file that one model validates as it stands (e.g. a sweep file)."""
    return {"$schema": DIALECT, **model.model_json_schema()}


class _Extending:
    """Builds the extending form of definitions: mappings lose `required`, lists stay whole."""

    def __init__(self, defs: dict[str, JsonSchema]):
        self._full = defs
        self.defs: dict[str, JsonSchema] = {}

    def _ref(self, ref: str) -> str:
        name = ref.rsplit("/", 1)[-1]
        extended = f"{name}{EXTENDING}"
        if extended not in self.defs:
            self.defs[extended] = {}  # reserved first: a definition may refer to itself
            self.defs[extended] = self.form(self._full[name])
        return f"#/$defs/{extended}"

    def form(self, schema: Any) -> Any:
        """`schema` where a value is merged into a base's: nothing required in a mapping;
        union variants matched loosely (`anyOf`: a kind left out may come from the base)."""
        if not isinstance(schema, dict):
            return schema
        out: JsonSchema = {}
        for key, value in schema.items():
            if key in ("required", "dependentRequired", "discriminator"):
                continue
            if key == "$ref":
                out[key] = self._ref(value)
            elif key == "properties":
                out[key] = {name: self.form(sub) for name, sub in value.items()}
            elif key in ("anyOf", "oneOf", "allOf"):
                out["allOf" if key == "allOf" else "anyOf"] = [self.form(sub) for sub in value]
            elif key == "additionalProperties" and isinstance(value, dict):
                out[key] = self.form(value)
            else:  # list items and the rest: a list replaces the base's, so it stays complete
                out[key] = copy.deepcopy(value)
        return out
