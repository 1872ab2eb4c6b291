"""Field types shared by several sections: file paths and the two DSL expressions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from pknet.specs.dsl import (
    DslError,
    LossExpr,
    Selector,
    linear_terms,
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
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, LossExpr | str):
        raise PydanticCustomError(
            "loss_type", "expected a loss expression such as `bce + 1e-3 * l1(bias)`"
        )
    try:
        expr = value if isinstance(value, LossExpr) else parse_loss(value)
        # the columns of a tree built elsewhere are not those of its canonical text
        _check_coefficients(expr, str(value), located=isinstance(value, str))
    except DslError as exc:
        raise _dsl_error(exc) from None
    return expr


def _check_coefficients(expr: LossExpr, text: str, located: bool) -> None:
    """Every term's weight, all signs and factors multiplied out, is a finite number > 0: a
    negative weight makes the loss unbounded below (training would drive the term to
    infinity), an infinite one makes every step diverge. `located`: the terms' columns are
    those of `text`."""
    for coefficient, term in linear_terms(expr):
        if math.isfinite(coefficient) and coefficient > 0:
            continue
        if not math.isfinite(coefficient):
            problem, hint = "is not a finite number", "write smaller factors"
        elif coefficient == 0:
            problem, hint = "is 0", "remove the term: a weight of 0 does nothing"
        else:
            problem = f"is {coefficient:g}; a negative weight makes the loss unbounded below"
            hint = f"weight every term by a positive number, e.g. `+ {-coefficient:g} * {term}`"
        column = (term.column or 1) if located else 1
        raise DslError(f"the weight of `{term}` {problem}", column, text, hint)


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

# What a name that appears twice (in the data, in a mapping table) becomes.
DuplicatePolicy = Literal["error", "first", "sum", "mean"]
