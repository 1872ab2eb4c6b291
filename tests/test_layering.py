"""Imports go one way: specs -> io -> compiler/network -> compiler/dataset -> compiler/model ->
runtime -> api -> sweeps -> cli.

A module may import from its own layer and the layers before it, never after. The shared
top-level modules (`errors`, `files`, `interrupts`, the package `__init__`) sit below all.
Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "pknet"
LAYERS = (
    "pknet.specs",
    "pknet.io",
    "pknet.compiler.network",
    "pknet.compiler.streamed",
    "pknet.compiler.dataset",
    "pknet.compiler.model",
    "pknet.runtime",
    "pknet.api",
    "pknet.sweeps",
    "pknet.cli",
)
SHARED = (
    "pknet.errors",
    "pknet.files",
    "pknet.interrupts",
    "pknet.rules",
    "pknet.suggest",
    "pknet.compiler.located",
)


def layer_of(module: str) -> int | None:
    found = [
        i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")
    ]
    return found[-1] if found else None


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("pknet")}


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_only_go_down_the_layers(path: Path) -> None:
    here = layer_of(module_name(path))
    if here is None:
        return
    upward = sorted(
        name
        for name in imported(path)
        if not name.startswith(SHARED) and (layer_of(name) is not None and layer_of(name) > here)
    )
    assert not upward, f"{module_name(path)} imports {upward} from a later layer"


def test_every_module_is_in_a_layer_or_shared() -> None:
    loose = [
        module_name(p)
        for p in MODULES
        if layer_of(module_name(p)) is None
        and not module_name(p).startswith(SHARED)
        and module_name(p) not in ("pknet", "pknet.__main__", "pknet.compiler")
    ]
    assert not loose


def test_the_runtime_works_from_the_program_not_the_spec() -> None:
    runtime = [p for p in MODULES if module_name(p).startswith("pknet.runtime")]
    reading = {
        module_name(p): sorted(n for n in imported(p) if n.startswith("pknet.specs"))
        for p in runtime
    }
    assert runtime and not {m: names for m, names in reading.items() if names}


MODEL_KINDS = (
    "AbstractModel",
    "Model",
    "SampleGraphModel",
    "NetworkGraphModel",
    "MultitaskModel",
    "Vae",
    "RidgeModel",
)


def isinstance_classes(path: Path) -> set[str]:
    """Names of the classes `isinstance` calls in `path` test against."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
            for part in ast.walk(node.args[1]):
                if isinstance(part, ast.Name):
                    found.add(part.id)
    return found


def test_model_kinds_are_not_dispatched_on_outside_the_model_package() -> None:
    outside = [p for p in MODULES if not module_name(p).startswith("pknet.compiler.model")]
    dispatching = {
        module_name(p): sorted(isinstance_classes(p) & set(MODEL_KINDS)) for p in outside
    }
    assert not {m: kinds for m, kinds in dispatching.items() if kinds}
