"""Shared fixtures: the real KPNN example, shortened so a full run takes seconds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import pknet
from pknet.api import train_and_evaluate
from pknet.runtime.run import RunOutcome

EXAMPLE = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "spec.yaml"
QUICK = {
    "train.epochs": 6,
    "train.optimizer.lr": 0.01,
    "evaluate.cv.folds": 2,
    "explain": [],
}


@pytest.fixture
def example_path() -> Path:
    return EXAMPLE


@pytest.fixture(scope="session")
def quick() -> Callable[..., pknet.Spec]:
    """`quick(overrides)`: the KPNN example with 6 epochs and 2 folds, plus dotted overrides."""

    def load(overrides: dict | None = None) -> pknet.Spec:
        return pknet.load_spec(EXAMPLE, {**QUICK, **(overrides or {})})

    return load


@pytest.fixture
def extend_example(tmp_path: Path) -> Callable[[str], Path]:
    """`extend_example(yaml_body)`: a spec file extending the example, data paths unchanged."""

    def write(body: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(
            f"extends: {EXAMPLE}\ntrain: {{epochs: 6}}\nevaluate: {{cv: {{folds: 2}}}}\n{body}"
        )
        return path

    return write


@pytest.fixture(scope="session")
def quick_run(quick) -> RunOutcome:
    """One quick run of the example, shared by tests that only read it."""
    return train_and_evaluate(quick())
