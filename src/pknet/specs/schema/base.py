"""Shared base of every spec model (immutable, strict about unknown keys, documented)."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, model_validator

from pknet.rules import rule_error

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


def literal_values(model: type[BaseModel], field: str) -> tuple[Any, ...]:
    """The values a `Literal`-typed field of `model` admits (a variant's `kind` tags)."""
    return get_args(model.model_fields[field].annotation)
