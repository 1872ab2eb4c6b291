"""Specs: YAML with source positions, the DSL, and the pydantic schema."""

from pknet.specs.load import load_spec, render_spec
from pknet.specs.schema import Spec
from pknet.specs.summary import summarize

__all__ = ["Spec", "load_spec", "render_spec", "summarize"]
