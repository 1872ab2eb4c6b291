"""Shared base of every spec model, and the helper for cross-field errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

CROSS_FIELD_ERROR = "spec_rule"
NUMBER_TYPES = (int, float, int | None, float | None)


class SpecModel(BaseModel):
    """Immutable, strict about unknown keys, every field documented."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=False,
        validate_default=True,
        use_enum_values=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        """`epochs: true` is a mistake, not 1 epoch (pydantic reads a bool as a number)."""
        if not isinstance(data, dict):
            return data
        for name, info in cls.model_fields.items():
            key = info.alias or name
            if isinstance(data.get(key), bool) and info.annotation in NUMBER_TYPES:
                raise rule_error(
                    (key,),
                    f"`{key}` takes a number, not `{str(data[key]).lower()}`",
                    "write a number",
                )
        return data


def rule_error(field: tuple[str | int, ...], message: str, hint: str = "") -> PydanticCustomError:
    """An error raised by a cross-field check, pointing at `field` below the checked model.

    The message is pre-formatted; braces in it are escaped for pydantic's template.
    """
    escaped = message.replace("{", "{{").replace("}", "}}")
    return PydanticCustomError(CROSS_FIELD_ERROR, escaped, {"field": field, "hint": hint})


def check_listed_once(items: Sequence[Any], field: str, what: str, hint: str = "") -> None:
    """A `rule_error` at `field[i]` for the first item of the list written a second time."""
    for i, item in enumerate(items):
        if item in items[:i]:
            shown = f"{item:g}" if isinstance(item, float) else f"`{item}`"
            raise rule_error((field, i), f"{what} {shown} is listed twice", hint)
