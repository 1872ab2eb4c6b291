"""Shared base of every spec model, and the helper for cross-field errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

CROSS_FIELD_ERROR = "spec_rule"


class SpecModel(BaseModel):
    """Immutable, strict about unknown keys, every field documented."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=False,
        validate_default=True,
        use_enum_values=True,
    )


def rule_error(field: tuple[str | int, ...], message: str, hint: str = "") -> PydanticCustomError:
    """An error raised by a cross-field check, pointing at `field` below the checked model.

    The message is pre-formatted; braces in it are escaped for pydantic's template.
    """
    escaped = message.replace("{", "{{").replace("}", "}}")
    return PydanticCustomError(CROSS_FIELD_ERROR, escaped, {"field": field, "hint": hint})
