"""Field types shared by several sections: file paths and the two DSL expressions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from pknet.specs.dsl import (
    DslError,
    LossExpr,
    Selector,
    parse_loss,
    parse_selector,
    selector_from_names,
)

DSL_ERROR = "dsl_syntax"


def _dsl_error(exc: DslError) -> PydanticCustomError:
    message = exc.message.replace("{", "{{").replace("}", "}}")
    ctx = {"column": exc.column, "expression": exc.expression, "hint": exc.hint or ""}
    return PydanticCustomError(DSL_ERROR, message, ctx)


def _validate_selector(value: Any) -> Selector:
    if isinstance(value, Selector):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return selector_from_names(value)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "selector_type",
            "expected a selector expression (e.g. `leaves & measured`) or a list of node names",
        )
    try:
        return parse_selector(value)
    except DslError as exc:
        raise _dsl_error(exc) from None


def _validate_loss(value: Any) -> LossExpr:
    if isinstance(value, LossExpr):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "loss_type", "expected a loss expression such as `bce + 1e-3 * l1(bias)`"
        )
    try:
        return parse_loss(value)
    except DslError as exc:
        raise _dsl_error(exc) from None


SelectorExpr = Annotated[
    Selector,
    PlainValidator(_validate_selector),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": "selector expression"},
                {"type": "array", "items": {"type": "string"}, "description": "node names"},
            ]
        }
    ),
]
"""Node selector: `leaves & measured`, `name(TCR)`, `match("*_gene")`, ... or a list of names."""

LossExpression = Annotated[
    LossExpr,
    PlainValidator(_validate_loss),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string"}),
]
"""Loss expression: `bce + 1e-3 * l1(bias) + 1e-2 * l2(bias)`."""

SpecPath = Annotated[Path, Field(json_schema_extra={"format": "path"})]
"""A file path; relative paths resolve against the folder of the spec file that names them."""

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=128)]
"""An identifier safe to use in file names: letters, digits, `_`, `.` and `-`."""
