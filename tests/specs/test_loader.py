"""Loader behaviour users rely on: positions, YAML details, `extends`, `--set`, render, CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import pknet
from pknet import SpecError, load_spec, render_spec
from pknet.cli import app
from pknet.specs.dsl import Difference
from pknet.specs.json_schema import spec_json_schema
from pknet.specs.schema.train import AdamSpec, TrainSpec
from pknet.specs.yaml_tree import dump_yaml, parse_yaml, to_plain

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
FIXTURE_DATA = Path(__file__).parent / "malformed" / "data"

MINIMAL = """\
version: 1
name: minimal
data:
  expression: {file: data/expression.csv}
  target: {file: data/labels.csv, column: TCR}
model:
  layers:
    - kind: dense
      units: 4
    - {kind: dense, units: 1}
loss: bce
train:
  epochs: 10
  batch_size: 32
"""


def problems(excinfo: pytest.ExceptionInfo[SpecError]) -> str:
    return excinfo.value.format()


def only_problem(excinfo: pytest.ExceptionInfo[SpecError]) -> pknet.errors.Problem:
    assert len(excinfo.value.problems) == 1, problems(excinfo)
    return excinfo.value.problems[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A spec folder holding the small fixture data files under data/."""
    shutil.copytree(FIXTURE_DATA, tmp_path / "data")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result


# --- positions ------------------------------------------------------------------------------


def _position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of `needle` in `text`."""
    index = text.index(needle)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def test_source_positions_of_nested_key_and_list_item(example_spec: Path) -> None:
    text = example_spec.read_text(encoding="utf-8")
    spec = load_spec(example_spec)
    assert spec.sources is not None

    key = spec.sources.key_location(("train", "batch_size"))
    assert key is not None and key.source.endswith("spec.yaml")
    assert (key.line, key.column) == _position(text, "batch_size:")

    item = spec.sources.value_location(("model", "layers", 0))
    assert item is not None
    assert (item.line, item.column) == _position(text, "{kind: kpnn")

    dropout = spec.sources.value_location(("model", "layers", 0, "dropout"))
    assert dropout is not None
    line, column = _position(text, "dropout: 0.2")
    assert (dropout.line, dropout.column) == (line, column + len("dropout: "))


def test_error_positions_of_nested_key_and_list_item(folder: Path) -> None:
    text = MINIMAL.replace("  batch_size: 32", "  batch_sise: 32").replace(
        "units: 4", "units: four"
    )
    with pytest.raises(SpecError) as info:
        load_spec(write(folder / "spec.yaml", text))
    found = {p.path: p for p in info.value.problems}
    assert set(found) == {"train.batch_sise", "model.layers[0].units"}, problems(info)

    unknown = found["train.batch_sise"]
    assert (unknown.location.line, unknown.location.column) == (14, 3)
    assert unknown.hint == "did you mean `batch_size`?"
    assert unknown.excerpt is not None and "batch_sise: 32" in unknown.excerpt

    wrong = found["model.layers[0].units"]
    assert (wrong.location.line, wrong.location.column) == (9, 14)
    # problems come in file order
    assert [p.path for p in info.value.problems] == ["model.layers[0].units", "train.batch_sise"]


def test_duplicate_key_mentions_the_first_line(folder: Path) -> None:
    text = MINIMAL.replace("  batch_size: 32\n", "  batch_size: 32\n  epochs: 20\n")
    with pytest.raises(SpecError) as info:
        load_spec(write(folder / "spec.yaml", text))
    problem = only_problem(info)
    assert (problem.location.line, problem.location.column) == (15, 3)
    assert problem.path == "train.epochs"
    assert "first defined at line 13" in problem.message


# --- YAML details ---------------------------------------------------------------------------


def test_exponent_without_dot_reads_as_float(folder: Path) -> None:
    text = MINIMAL.replace("  epochs: 10\n", "  epochs: 10\n  optimizer: {name: adam, lr: 1e-3}\n")
    spec = load_spec(write(folder / "spec.yaml", text))
    assert spec.train.optimizer.lr == pytest.approx(1e-3)
    assert isinstance(spec.train.optimizer.lr, float)
    spec = load_spec(folder / "spec.yaml", ["train.optimizer.lr=5e-4"])
    assert spec.train.optimizer.lr == pytest.approx(5e-4)


def test_dates_and_yes_stay_text(folder: Path) -> None:
    """`2024-01-01` (a YAML timestamp) in a text field is text, not a date object."""
    text = MINIMAL.replace("name: minimal\n", "name: minimal\ndescription: 2024-01-01\n")
    spec = load_spec(write(folder / "spec.yaml", text))
    assert spec.description == "2024-01-01"


# --- extends --------------------------------------------------------------------------------

BASE = """\
version: 1
name: base
data:
  expression: {file: data/expression.csv}
  target: {file: data/labels.csv, column: TCR}
network:
  edges: {file: data/edges.csv, from: child, to: parent}
  outputs: name(TCR)
prune:
  objective: min_nodes
model:
  layers: [{kind: kpnn, dropout: 0.1}]
loss: bce + 1e-3 * l1(bias)
train:
  epochs: 50
  batch_size: 16
  optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
evaluate:
  metrics: [accuracy, roc_auc, f1]
"""


def test_extends_deep_merge(folder: Path) -> None:
    write(folder / "base.yaml", BASE)
    child = write(
        folder / "child.yaml",
        "extends: base.yaml\n"
        "name: child\n"  # scalar: overridden
        "train:\n"
        "  epochs: 5\n"  # mapping: merged key by key
        "  optimizer: {lr: 0.01}\n"  # nested mapping: merged too
        "evaluate:\n"
        "  metrics: [accuracy]\n"  # list: replaced, not appended
        "prune: null\n",  # null: removes the base's section
    )
    spec = load_spec(child)
    assert spec.name == "child"
    assert spec.train.epochs == 5
    assert spec.train.batch_size == 16
    assert spec.train.optimizer.name == "sgd"
    assert spec.train.optimizer.lr == pytest.approx(0.01)
    assert spec.train.optimizer.momentum == pytest.approx(0.9)
    assert spec.evaluate.metrics == ["accuracy"]
    assert spec.prune is None
    assert str(spec.network.outputs) == "name(TCR)"

    # and the positions of merged fields point into the file that wrote them
    assert spec.sources.value_location(("train", "epochs")).source.endswith("child.yaml")
    assert spec.sources.value_location(("train", "batch_size")).source.endswith("base.yaml")


def test_base_in_another_folder_resolves_its_paths_there(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shutil.copytree(FIXTURE_DATA, shared / "data")
    write(shared / "base.yaml", BASE)
    child = tmp_path / "experiments" / "run1" / "spec.yaml"
    write(child, "extends: ../../shared/base.yaml\n")
    spec = load_spec(child)
    assert spec.data.expression.file == (shared / "data" / "expression.csv").resolve()
    edges = spec.network.edges
    first = edges[0] if isinstance(edges, list | tuple) else edges  # one source or several
    assert first.file == (shared / "data" / "edges.csv").resolve()

    # a path written in the child resolves against the child's folder
    write(child.parent / "labels.csv", (FIXTURE_DATA / "labels.csv").read_text())
    overriding = write(
        child.parent / "spec2.yaml",
        "extends: ../../shared/base.yaml\ndata:\n  target: {file: labels.csv, column: TCR}\n",
    )
    spec = load_spec(overriding)
    assert spec.data.target.file == (child.parent / "labels.csv").resolve()
    assert spec.data.expression.file == (shared / "data" / "expression.csv").resolve()


def test_error_in_base_names_the_base_file(folder: Path) -> None:
    write(folder / "base.yaml", BASE.replace("batch_size: 16", "batch_size: sixteen"))
    with pytest.raises(SpecError) as info:
        load_spec(write(folder / "child.yaml", "extends: base.yaml\nname: child\n"))
    problem = only_problem(info)
    assert problem.location.source.endswith("base.yaml")
    assert (problem.location.line, problem.location.column) == (16, 15)
    assert problem.path == "train.batch_size"


# --- overrides ------------------------------------------------------------------------------


def test_set_scalar_and_list_item(example_spec: Path) -> None:
    spec = load_spec(example_spec, ["train.epochs=5", "model.layers[0].dropout=0.1"])
    assert spec.train.epochs == 5
    assert spec.model.layers[0].dropout == pytest.approx(0.1)
    # the dotted index form is accepted too
    assert load_spec(example_spec, ["model.layers.0.dropout=0.3"]).model.layers[0].dropout == 0.3


def test_set_text_field_stays_text(example_spec: Path) -> None:
    spec = load_spec(example_spec, ["name=123"])
    assert spec.name == "123"
    spec = load_spec(example_spec, ["description=yes"])
    assert spec.description == "yes"


def test_set_selector(example_spec: Path) -> None:
    spec = load_spec(example_spec, ["network.inputs=leaves - roots"])
    assert isinstance(spec.network.inputs, Difference)
    assert str(spec.network.inputs) == "leaves - roots"


def test_set_appends_a_layer(example_spec: Path) -> None:
    spec = load_spec(example_spec, ["model.layers[1]={kind: dense, units: 2}"])
    assert [layer.kind for layer in spec.model.layers] == ["kpnn", "dense"]
    assert spec.model.layers[1].units == 2
    assert spec.model.layers[1].name == "dense_1"


def test_set_located_error_points_at_the_override(example_spec: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(example_spec, ["train.epochs=0"])
    problem = only_problem(info)
    assert problem.location.source == "--set train.epochs=0"
    assert problem.path == "train.epochs"


def test_a_path_set_on_a_one_or_many_field_resolves_like_any_override(
    example_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`network.edges` is written as one mapping but validates as a list: an override of its
    `file` still resolves against the working directory and is the place errors point at."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "edges.csv").write_text(
        (example_spec.parent / "data" / "TCR_Edgelist.csv").read_text()
    )
    spec = load_spec(example_spec, ["network.edges.file=edges.csv"])
    assert spec.network.edges[0].file == tmp_path / "edges.csv"
    with pytest.raises(SpecError) as info:
        load_spec(example_spec, ["network.edges.file=nope.csv"])
    problem = only_problem(info)
    assert problem.location.source == "--set network.edges.file=nope.csv"
    assert str(tmp_path) in problem.hint


def test_overrides_as_a_mapping(example_spec: Path) -> None:
    spec = load_spec(
        example_spec,
        {
            "train.epochs": 7,
            "model.layers[0].dropout": 0.25,
            "name": "from-a-dict",
            "evaluate.metrics": ["accuracy", "f1"],
            "train.early_stopping": None,
        },
    )
    assert spec.train.epochs == 7
    assert spec.model.layers[0].dropout == pytest.approx(0.25)
    assert spec.name == "from-a-dict"
    assert spec.evaluate.metrics == ["accuracy", "f1"]
    assert spec.train.early_stopping is None


# --- render ---------------------------------------------------------------------------------


def test_render_validate_render_round_trip(example_copy: Path) -> None:
    first = invoke("render", str(example_copy))
    assert first.exit_code == 0, first.output
    rendered = write(example_copy.parent / "rendered.yaml", first.stdout)
    assert yaml.safe_load(first.stdout)["train"]["validation_fraction"] == 0.1  # defaults filled

    checked = invoke("validate", str(rendered))
    assert checked.exit_code == 0, checked.output
    second = invoke("render", str(rendered))
    assert second.exit_code == 0, second.output
    assert second.stdout == first.stdout

    # the Python API gives the same text
    assert render_spec(load_spec(rendered), base_dir=rendered.parent) == first.stdout


@pytest.mark.parametrize(
    ("name", "description"),
    [("1e3", "1E-3"), ("yes", "null"), ("0x10", ".inf"), ("1_000", "-1e3"), ("on", "~")],
)
def test_render_quotes_text_that_reads_as_another_type(
    folder: Path, name: str, description: str
) -> None:
    spec = load_spec(
        write(folder / "spec.yaml", MINIMAL), {"name": name, "description": description}
    )
    rendered = write(folder / "rendered.yaml", render_spec(spec, base_dir=folder))
    again = load_spec(rendered)
    assert (again.name, again.description) == (name, description)
    assert again.model_dump() == spec.model_dump()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "description"]), st.text(), min_size=1))
def test_dumped_text_reads_back_as_the_same_text(data: dict[str, str]) -> None:
    assert to_plain(parse_yaml(dump_yaml(data), "rendered.yaml")) == data


def test_render_applies_overrides(example_copy: Path) -> None:
    result = invoke("render", str(example_copy), "--set", "train.epochs=3")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["train"]["epochs"] == 3


# --- CLI ------------------------------------------------------------------------------------


def _models(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return schema["$defs"]


def test_schema_describes_every_property() -> None:
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    models = _models(schema)
    assert len(models) > 10
    undocumented = [
        f"{name}.{prop}"
        for name, model in models.items()
        for prop, info in model.get("properties", {}).items()
        if not info.get("description")
    ]
    assert undocumented == []
    assert all(model.get("description") for model in models.values() if "properties" in model)
    # unknown keys are refused in every model, as the loader does
    assert all(
        model.get("additionalProperties") is False
        for model in models.values()
        if "properties" in model
    )


def test_schema_output_file(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    result = invoke("schema", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8")) == spec_json_schema()


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"pknet {pknet.__version__}"
    assert re.fullmatch(r"pknet \d+\.\d+\.\d+\S*", result.stdout.strip())


def test_validate_every_example() -> None:
    specs = sorted(EXAMPLES.glob("*/spec.yaml"))
    assert specs, "no examples found"
    result = invoke("validate", *map(str, specs))
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok ") == len(specs)


def test_validate_reports_every_failing_file(folder: Path) -> None:
    good = write(folder / "good.yaml", MINIMAL)
    bad = write(folder / "bad.yaml", MINIMAL.replace("epochs: 10", "epochs: -3"))
    result = invoke("validate", str(bad), str(good))
    assert result.exit_code == 2
    assert "bad.yaml:13:11: train.epochs:" in result.output
    assert f"ok {good}" in result.output


def test_missing_spec_file(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "spec file not found" in result.output


def test_an_optimizer_without_a_name_is_adam() -> None:
    """`--set train.optimizer.lr=0.05` on a spec that never named an optimizer means Adam."""
    optimizer = TrainSpec.model_validate({"optimizer": {"lr": 0.05}}).optimizer
    assert isinstance(optimizer, AdamSpec) and optimizer.lr == 0.05


def test_a_mapping_override_of_another_kind_replaces_instead_of_merging(
    example_spec: Path,
) -> None:
    spec = load_spec(example_spec, ["evaluate.cv={kind: leave_one_out}"])  # drops `folds`
    assert spec.evaluate.cv.kind == "leave_one_out"
    spec = load_spec(example_spec, ["evaluate.cv={folds: 3}"])  # same kind: merged
    assert (spec.evaluate.cv.kind, spec.evaluate.cv.folds) == ("stratified_kfold", 3)
    sgd_then_adam = [
        "train.optimizer={name: sgd, lr: 0.2, momentum: 0.9}",
        "train.optimizer={name: adam}",
    ]
    spec = load_spec(example_spec, sgd_then_adam)  # adam has no `momentum`: nothing carried over
    assert spec.train.optimizer.name == "adam" and spec.train.optimizer.lr == 1e-3
