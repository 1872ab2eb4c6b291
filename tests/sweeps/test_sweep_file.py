"""The sweep file: validated like a spec, every parameter value checked against the base
spec's schema, each mistake located in the sweep file (`pknet sweep --check`, exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pknet.cli import app
from pknet.errors import SpecError
from pknet.specs.json_schema import model_json_schema
from pknet.specs.schema.sweep import SweepSpec
from pknet.specs.sweep import load_sweep, parameter_values
from pknet.sweeps.space import search_parameters

runner = CliRunner()

GOOD = """\
parameters:
  train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}
  model.layers[0].dropout: [0.0, 0.1, 0.2]
  loss: ["bce", "bce + 1e-3 * l1(bias)"]
  train.epochs: {int_uniform: [2, 5]}
search: optuna
trials: 20
metric: roc_auc
mode: max
resources: {cpu: 1, gpu: 0}
max_concurrent: 2
"""


def check(path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["sweep", "--check", str(path)])
    return result.exit_code, result.output


def test_a_good_sweep_loads_with_its_base_spec(write_sweep) -> None:
    path = write_sweep(GOOD)
    sweep = load_sweep(path)
    assert sweep.base.name == "tiny"
    assert sweep.base_file == path.parent / "base.yaml"
    values = [(name, value) for name, value, _ in parameter_values(sweep.settings)]
    assert values[:2] == [("train.optimizer.lr", 1e-4), ("train.optimizer.lr", 1e-1)]
    assert ("loss", "bce + 1e-3 * l1(bias)") in values
    assert ("train.epochs", 5) in values
    code, output = check(path)
    assert code == 0 and "4 parameters over tiny" in output


def test_choices_are_searched_by_index_and_ranges_by_value(write_sweep) -> None:
    parameters = search_parameters(load_sweep(write_sweep(GOOD)).settings)
    lr, dropout, loss, epochs = parameters
    assert [p.path for p in parameters] == [
        "train.optimizer.lr",
        "model.layers[0].dropout",
        "loss",
        "train.epochs",
    ]
    assert dropout.value(2) == 0.2 and loss.value(1) == "bce + 1e-3 * l1(bias)"
    assert lr.value(0.003) == 0.003 and epochs.value(4.0) == 4
    assert isinstance(epochs.value(4.0), int)


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        (  # an unknown `--set` path: at its key
            GOOD.replace("train.epochs:", "train.epoch:"),
            ":7:3",
            "unknown field `epoch`",
        ),
        (  # a value the base spec's schema rejects: at that value
            GOOD.replace("[0.0, 0.1, 0.2]", "[0.0, 1.5, 0.2]"),
            ":5:34",
            "less than 1",
        ),
        (  # a range end the schema rejects
            GOOD.replace("[2, 5]", "[0, 5]"),
            ":7:32",
            "greater than or equal to 1",
        ),
        (  # a loss expression that does not parse
            GOOD.replace('"bce + 1e-3 * l1(bias)"', '"bce +"'),
            ":6:17",
            "expression ends too early",
        ),
        (GOOD.replace("metric: roc_auc", "metric: roc_auk"), ":10:9", "`roc_auc`"),
        (
            GOOD.replace("search: optuna", "search: grid").replace("trials: 20\n", ""),
            ":4:3",
            "a grid search needs a list",
        ),
        (GOOD.replace("trials: 20\n", ""), ":8:9", "needs `trials`"),
        (GOOD.replace("[1.0e-4, 1.0e-1]", "[1.0e-1, 1.0e-4]"), ":4:46", "lo < hi"),
        (GOOD.replace("[1.0e-4, 1.0e-1]", "[0, 1.0e-1]"), ":4:38", "lo > 0"),
        (GOOD.replace("{log_uniform", "{log_unifrom"), ":4:3", "a sweep parameter takes"),
        (GOOD.replace("gpu: 0", "gpus: 0"), ":12:21", "did you mean `gpu`"),
        (GOOD.replace("mode: max", "mode: maximum"), ":11:7", "did you mean `max`"),
        (GOOD + "selection: nested_cv\n", ":14:12", "expected one of: cv, nested"),
        (  # nested selection keeps the outer folds: nothing that decides them may vary
            GOOD.replace("train.epochs:", "evaluate.cv.folds:") + "selection: nested\n",
            ":7:3",
            "`evaluate.cv` decides them",
        ),
    ],
)
def test_a_mistake_names_its_line_in_the_sweep_file(write_sweep, body, where, words) -> None:
    path = write_sweep(body)
    with pytest.raises(SpecError) as caught:
        load_sweep(path)
    text = caught.value.format()
    assert f"{path.name}{where}" in text and words in text, text
    code, output = check(path)
    assert code == 2 and where in output and "Traceback" not in output


def test_a_missing_base_spec_is_named_at_its_line(write_sweep, tmp_path: Path) -> None:
    path = write_sweep(GOOD)
    (tmp_path / "base.yaml").unlink()
    code, output = check(path)
    assert code == 2 and "sweep.yaml:2:7" in output and "base.yaml" in output


def test_the_json_schema_describes_the_sweep_file() -> None:
    result = runner.invoke(app, ["schema", "--sweep"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == model_json_schema(SweepSpec)
    assert {"spec", "parameters", "search", "metric", "mode"} <= set(schema["properties"])


def test_random_draws_stay_in_their_ranges_and_reach_both_integer_ends(write_sweep) -> None:
    pytest.importorskip("ray.tune")
    parameters = search_parameters(load_sweep(write_sweep(GOOD)).settings)
    rng = np.random.default_rng(0)
    draws = {
        p.path: [p.value(x) for x in p.tune_domain(grid=False).sample(size=400, random_state=rng)]
        for p in parameters
    }
    lr = np.array(draws["train.optimizer.lr"])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-1
    assert np.mean(lr < 1e-2) == pytest.approx(2 / 3, abs=0.08)  # log-uniform: 2 of 3 decades
    assert set(draws["train.epochs"]) == {2, 3, 4, 5}  # int_uniform includes hi
    assert set(draws["model.layers[0].dropout"]) == {0.0, 0.1, 0.2}
    assert set(draws["loss"]) == {"bce", "bce + 1e-3 * l1(bias)"}


def test_cpus_belong_to_the_embedded_ray_only(write_sweep, tmp_path: Path) -> None:
    path = write_sweep(GOOD)
    out = tmp_path / "sweep"
    args = ["sweep", str(path), "--address", "127.0.0.1:1", "--cpus", "2", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--cpus" in result.output and "Traceback" not in result.output
    assert not out.exists()
