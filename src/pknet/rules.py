"""Cross-field rules of pydantic models (the spec's and a run directory's): errors that point at
a field below the checked model, which the spec loader and the run-file reader both locate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import PydanticCustomError

CROSS_FIELD_ERROR = "spec_rule"


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
