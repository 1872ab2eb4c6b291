"""The JSON Schema editors read (`pknet schema`) admits what the loader admits.

Checked on every spec file of the repository (examples, test fixtures, the malformed corpus) as
an editor sees it (the file alone, `extends` not followed), and on mutants of the examples: an
unknown key in each mapping, a value of the wrong type at each leaf.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from pknet import load_spec
from pknet.errors import PknetError
from pknet.specs.json_schema import spec_json_schema
from pknet.specs.schema import Spec
from pknet.specs.schema.base import SpecModel
from pknet.specs.yaml_tree import parse_yaml, to_plain

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).parents[2]
SPEC_FILES = sorted(
    p
    for p in [*REPO.glob("examples/*/*.yaml"), *REPO.glob("tests/**/*.yaml")]
    if not p.name.startswith("sweep")
)
EXAMPLE_SPECS = [p for p in SPEC_FILES if p.parts[-3] == "examples" and p.name == "spec.yaml"]

# malformed specs whose mistake lies beyond a schema: a rule across fields, an expression's
# syntax, a file on disk, a base named in `extends`
BEYOND_SCHEMA = {
    # cross-field rules
    "duplicate_layer_names", "early_stopping_train_metric", "early_stopping_unknown_metric",
    "edges_same_columns", "explain_without_network_layer", "gcn_in_vae", "gcn_without_graph",
    "graph_without_graph_layer", "hierarchy_max_genes_below_min", "hierarchy_not_first",
    "hierarchy_without_network", "kpnn_without_network", "loss_recon_without_vae",
    "loss_trace_norm_without_multitask", "loss_unknown_group", "loss_without_data_term",
    "metric_listed_twice", "multi_output_class_metric", "network_graph_without_network",
    "node2vec_not_first", "node2vec_over_features", "node2vec_without_head",
    "pca_without_ridge_head", "prune_without_network", "reserved_layer_name",
    "ridge_after_trained_layer", "ridge_not_last", "ridge_with_penalty",
    "target_columns_and_column", "target_obs_and_file", "vae_classification_metric",
    "vae_reserved_layer_name",
    # expressions (the DSL's grammar)
    "loss_infinite_weight", "loss_negative_weight", "loss_product_of_terms", "loss_syntax",
    "loss_unknown_term", "selector_double_operator", "selector_quoted_mistake",
    "selector_unbalanced_paren", "selector_unknown_word",
    # files
    "data_path_is_device", "data_path_is_folder", "missing_data_file",
    "python_metric_missing_file", "extends_device", "extends_missing_file", "extends_nul_name",
    # the bases named in `extends`
    "extends_base_syntax_error", "extends_base_type_error", "extends_cycle", "extends_self",
    "_cycle_b",
}  # fmt: skip


# mutants the loader refuses by a rule across fields: `explain.control` needs `methods`
CROSS_FIELD_MUTANTS = {"empty list at explain.methods"}


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = spec_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _as_written(path: Path) -> Any | None:
    """The file's data as the loader reads it, or None when it is no readable YAML."""
    try:
        return to_plain(parse_yaml(path.read_text(encoding="utf-8"), path.name))
    except (UnicodeDecodeError, PknetError):
        return None


def _loads(path: Path) -> bool:
    try:
        load_spec(path)
    except PknetError:
        return False
    return True


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_schema_agrees_with_the_loader_on_every_spec_file(path: Path, validator) -> None:
    data = _as_written(path)
    if data is None or "# args:" in path.read_text(encoding="utf-8"):
        pytest.skip("not YAML, or the case is about command-line overrides")
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    if _loads(path):
        assert errors == []
    elif path.stem not in BEYOND_SCHEMA:
        assert errors, "the loader refuses this spec, the schema accepts it"


def _leaves(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, data
    if isinstance(data, dict | list):
        for key, value in data.items() if isinstance(data, dict) else enumerate(data):
            yield from _leaves(value, (*path, key))


def _replaced(data: Any, path: tuple, value: Any) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


def _mutants(data: Any) -> Iterator[tuple[str, Any]]:
    """An unknown key in each mapping; a string where a number or boolean stood, a number where
    a string stood; an empty list for each list."""
    for path, value in _leaves(data):
        where = ".".join(map(str, path)) or "the spec"
        if isinstance(value, dict):
            yield f"unknown key in {where}", _replaced(data, path, {**value, "bogus_key": 1})
        elif isinstance(value, list):
            yield f"empty list at {where}", _replaced(data, path, [])
        elif isinstance(value, bool | int | float):
            yield f"text at {where}", _replaced(data, path, "seven")
        elif isinstance(value, str):
            yield f"number at {where}", _replaced(data, path, 7)


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.parent.name)
def test_the_schema_refuses_unknown_keys_and_wrong_types_as_the_loader_does(
    path: Path, validator
) -> None:
    disagreements = []
    for what, mutant in _mutants(_as_written(path)):
        try:
            Spec.model_validate(mutant)
            loader = True
        except ValidationError:
            loader = False
        if loader != validator.is_valid(mutant) and what not in CROSS_FIELD_MUTANTS:
            disagreements.append(f"{what}: loader {'accepts' if loader else 'refuses'}")
    assert disagreements == []


def test_an_extending_file_may_leave_out_what_its_base_gives(validator) -> None:
    assert validator.is_valid({"extends": "spec.yaml", "train": {"epochs": 5}})
    assert validator.is_valid({"extends": ["a.yaml", "b.yaml"], "evaluate": {"cv": {"folds": 3}}})
    # unknown keys and wrong types stay errors
    assert not validator.is_valid({"extends": "spec.yaml", "train": {"epoch": 5}})
    assert not validator.is_valid({"extends": "spec.yaml", "train": {"epochs": "5"}})
    assert not validator.is_valid({"extends": 3})
    # a list replaces the base's, so its items are complete: a layer needs its kind
    assert not validator.is_valid({"extends": "spec.yaml", "model": {"layers": [{"units": 3}]}})
    # without `extends` every required section is required
    assert not validator.is_valid({"train": {"epochs": 5}})


def test_every_short_form_declares_its_schema() -> None:
    """A validator that rewrites a short form before validation tells the JSON Schema what it
    admits (`json_schema_input_type`); otherwise editors would flag the short form."""
    undeclared = []
    for model in _spec_models(SpecModel):
        decorators = model.__pydantic_decorators__
        for name, validator in decorators.field_validators.items():
            info = validator.info
            if info.mode == "before" and info.json_schema_input_type is PydanticUndefined:
                undeclared.append(f"{model.__name__}.{name}")
        for name, validator in decorators.model_validators.items():
            # the one model-wide rewrite refuses booleans for numbers, as JSON Schema does
            if validator.info.mode == "before" and name != "_no_booleans_for_numbers":
                undeclared.append(f"{model.__name__}.{name}")
    assert undeclared == []


def _spec_models(model: type) -> list[type]:
    return [model, *(m for sub in model.__subclasses__() for m in _spec_models(sub))]
