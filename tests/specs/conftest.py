"""Fixtures of the spec tests: the example spec, writable copies of its folder, the corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent.parent
EXAMPLES = REPO / "examples"
EXAMPLE_DIR = EXAMPLES / "kpnn_tcr"
EXAMPLE_SPEC = EXAMPLE_DIR / "spec.yaml"
MALFORMED_DIR = HERE / "malformed"
FIXTURE_DATA = MALFORMED_DIR / "data"


def copy_example(target: Path) -> Path:
    """Copy the kpnn_tcr example (spec + data) into `target`; return the copied spec path.

    The edge list is taken from the example when it is there, else from the small fixture copy
    (the loader only checks that data files exist; it does not parse them).
    """
    (target / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE_SPEC, target / "spec.yaml")
    for item in (EXAMPLE_DIR / "data").iterdir():
        if item.is_file():
            shutil.copy(item, target / "data" / item.name)
    edges = target / "data" / "TCR_Edgelist.csv"
    if not edges.exists():
        shutil.copy(FIXTURE_DATA / "edges.csv", edges)
    return target / "spec.yaml"


@pytest.fixture(scope="session")
def example_spec() -> Path:
    return EXAMPLE_SPEC


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A private copy of the example folder; returns its spec.yaml."""
    return copy_example(tmp_path / "kpnn_tcr")


@pytest.fixture(scope="session")
def shared_example_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the example folder for a whole session (tests write new files beside it)."""
    return copy_example(tmp_path_factory.mktemp("kpnn_tcr"))


@pytest.fixture(scope="session")
def malformed_dir() -> Path:
    return MALFORMED_DIR
