"""A multiclass network model explained end to end: the per-class table agrees with
scikit-learn on the run's own predictions, every class gets its `activation_auc`, and
`results.h5ad` predicts the class of largest score."""

from __future__ import annotations

import json
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from typer.testing import CliRunner

from pknet.cli import app

pytestmark = pytest.mark.slow  # an end-to-end run

EXAMPLE = Path(__file__).parents[2] / "examples" / "kpnn_tcr" / "spec.yaml"
MULTICLASS = f"""extends: {EXAMPLE}
name: kpnn-multiclass
data:
  target: {{obs: bulk_labels, positive: null}}
model:
  layers:
    - {{kind: kpnn, activation: sigmoid, units_per_node: 1}}
    - {{kind: dense, units: 10}}
loss: ce
train: {{epochs: 3}}
evaluate: {{cv: {{folds: 2}}, metrics: [accuracy, roc_auc]}}
explain: [gradient_x_input, activation_auc]
"""


def test_a_multiclass_run_is_scored_and_explained_per_class(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(MULTICLASS)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "spec.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out / "predictions.csv")
    classes = [c.removeprefix("score_") for c in predictions.columns if c.startswith("score_")]
    assert len(classes) == 10
    scores = predictions[[f"score_{c}" for c in classes]].to_numpy()
    predicted = np.asarray(classes, dtype=object)[scores.argmax(axis=1)]
    truth = predictions["target"].to_numpy()
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0
    )
    table = json.loads((out / "metrics.json").read_text())["out_of_fold"]["per_class"]
    for c, name in enumerate(classes):
        row = table[name]
        assert row["support"] == support[c]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx(
            (precision[c], recall[c], f1[c])
        )
        assert row["roc_auc"] == pytest.approx(roc_auc_score(truth == name, scores[:, c]))
    methods = set(pd.read_csv(out / "importances.csv")["method"])
    assert methods == {"gradient_x_input", *(f"activation_auc[{c}]" for c in classes)}
    results = anndata.read_h5ad(out / "results.h5ad")
    obs = results.obs.loc[predictions["sample"]]
    np.testing.assert_array_equal(obs["pknet_prediction"].astype(str), predicted.astype(str))
