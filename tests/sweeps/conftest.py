"""A tiny base spec (a dense layer on 30 labelled cells, 2 folds) and sweep files over it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).parents[1] / "data" / "matrices"
TINY = f"""\
version: 1
name: tiny
data:
  expression: {{file: {DATA / "pbmc68k_raw_40x50.csv"}}}
  target: {{file: {DATA / "pbmc68k_tcr_labels.csv"}, index: barcode, column: TCR}}
model:
  layers: [{{kind: dense, units: 1, activation: sigmoid, dropout: 0.0}}]
loss: bce
train: {{optimizer: {{name: adam, lr: 0.01}}, epochs: 2, batch_size: 8}}
evaluate: {{cv: {{kind: kfold, folds: 2}}, metrics: [accuracy, roc_auc]}}
"""


@pytest.fixture
def write_sweep(tmp_path: Path) -> Callable[[str], Path]:
    """`write_sweep(body)`: `tmp_path/sweep.yaml` holding `body` under `version` and `spec`
    lines, beside the tiny base spec `base.yaml`; the body starts on line 3."""

    def write(body: str) -> Path:
        (tmp_path / "base.yaml").write_text(TINY, encoding="utf-8")
        path = tmp_path / "sweep.yaml"
        path.write_text(f"version: 1\nspec: base.yaml\n{body}", encoding="utf-8")
        return path

    return write
