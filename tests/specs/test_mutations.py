"""Property tests: whatever a spec file holds, loading it returns a `Spec` or raises `SpecError`.

Mutants start from the real example spec (plain data from `yaml.safe_load`), get a few random
edits anywhere in the tree, are written next to the example's data (so relative paths resolve)
and loaded with `pknet.load_spec`. Any exception other than `SpecError` fails, and so does a
`SpecError` with a problem that does not say where it is.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from pknet import Spec, SpecError, load_spec, render_spec

EXAMPLE_SPEC = Path(__file__).parent.parent.parent / "examples" / "kpnn_tcr" / "spec.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))

SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": False,
}

# --- value strategies -----------------------------------------------------------------------

DSL_TOKENS = [
    "leaves", "roots", "measured", "all", "leafs", "&", "|", "-", "(", ")", "name(", "TCR",
    "match(", '"*_gene"', "file(", "inputs.txt", "degree(", "in", "out", ">", "=", ",",
    "bce", "mse", "ce", "kl", "+", "*", "/", "l1(", "l2(", "l3(", "bias", "weights", "kpnn_1",
    "trace_norm(", "mode=", "task", "1e-3", "-2", "0", "1e999", "nan", ".", "..", "@", "!",
    "$", "'", '"', "\\", "\n", "\t", "#", "{", "}", "[", "]", ":", "—", "é",
]  # fmt: skip
KNOWN_KEYS = [
    "version", "name", "seed", "data", "network", "prune", "model", "loss", "train",
    "evaluate", "explain", "extends", "kind", "file", "obs", "layers", "units", "dropout",
    "activation", "optimizer", "lr", "epochs", "cv", "folds", "metrics", "monitor", "inputs",
    "outputs", "edges", "from", "to", "solver", "objective", "positive", "transform", "layer",
    "target", "expression", "features", "table", "required", "weights", "schedule",
]  # fmt: skip

DSL_FIELDS = [("loss",), ("network", "inputs"), ("network", "outputs"), ("prune", "required")]
dsl_garbage = st.lists(st.sampled_from(DSL_TOKENS), min_size=0, max_size=8).map(" ".join)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | dsl_garbage
    | st.sampled_from(["", "data/TCR_Edgelist.csv", "spec.yaml", "/", ".", "kpnn", "dense"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=6,
)


# --- mutations ------------------------------------------------------------------------------


def all_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            found += all_paths(child, (*path, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += all_paths(child, (*path, i))
    return found


def get(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


def put(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    get(root, path[:-1])[path[-1]] = value
    return root


def swap_type(value: Any) -> Any:
    """The same content in another type (int <-> str <-> list <-> dict <-> None <-> bool ...)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, str):
        return {value: value} if value else None
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values()) or None
    return 0


@st.composite
def mutants(draw: st.DrawFn) -> Any:
    tree: Any = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = all_paths(tree)
        path = draw(st.sampled_from(paths))
        action = draw(
            st.sampled_from(["drop", "rename", "swap", "replace", "insert", "text", "dsl"])
        )
        parent = get(tree, path[:-1]) if path else None
        target = get(tree, path)
        if action == "drop" and path:
            del parent[path[-1]]
        elif action == "rename" and isinstance(parent, dict):
            new_key = draw(keys)
            parent[new_key] = parent.pop(path[-1])
        elif action == "swap":
            tree = put(tree, path, swap_type(target))
        elif action == "replace":
            tree = put(tree, path, draw(values))
        elif action == "insert" and isinstance(target, dict):
            target[draw(keys)] = draw(values)
        elif action == "insert" and isinstance(target, list):
            target.insert(draw(st.integers(0, len(target))), draw(values))
        elif action in ("text", "dsl") and isinstance(target, str):
            tree = put(tree, path, draw(st.text(max_size=30) if action == "text" else dsl_garbage))
        elif action == "dsl":  # DSL garbage in the loss or a selector wherever it stands
            field = draw(st.sampled_from(DSL_FIELDS))
            parent = tree.get(field[0]) if len(field) > 1 and isinstance(tree, dict) else tree
            if isinstance(parent, dict):
                parent[field[-1]] = draw(dsl_garbage)
    return tree


# --- the property ---------------------------------------------------------------------------


def _note(outcome: str) -> None:
    if currently_in_test_context():
        event(outcome)  # shown by --hypothesis-show-statistics


def check_outcome(path: Path, overrides: Any = ()) -> Spec | None:
    """Load `path`; a `Spec` or a located `SpecError` are the only acceptable outcomes."""
    try:
        spec = load_spec(path, overrides)
    except SpecError as exc:
        _note("SpecError")
        assert exc.problems, "a SpecError without problems"
        for problem in exc.problems:
            assert problem.location is not None, f"unlocated problem: {problem.format()}"
            if not problem.location.source.startswith("--set"):
                assert problem.location.line is not None, f"no line: {problem.format()}"
                assert problem.location.line >= 1, problem.format()
            assert problem.message, problem
            problem.format()
        return None
    _note("valid Spec")
    assert isinstance(spec, Spec)
    render_spec(spec, base_dir=path.parent)
    return spec


def dump(tree: Any) -> str:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def test_unmutated_example_loads(shared_example_copy: Path) -> None:
    target = shared_example_copy.parent / "unmutated.yaml"
    target.write_text(dump(BASE), encoding="utf-8")
    assert check_outcome(target) is not None


@pytest.mark.slow
@settings(max_examples=5000, **SETTINGS)
@given(tree=mutants())
def test_mutated_spec_loads_or_fails_cleanly(tree: Any, shared_example_copy: Path) -> None:
    target = shared_example_copy.parent / "mutant.yaml"
    target.write_text(dump(tree), encoding="utf-8")
    check_outcome(target)


# --- YAML-level garbage ---------------------------------------------------------------------

YAML_PIECES = [
    "version: 1", "name: x", "data:", "  ", "    ", "\t", "- ", "-", ": ", ":", "{", "}", "[", "]",
    ",", "&a ", "*a", "<<: *a", "!!python/object/apply:os.system ['true']", "!tag ", "!!str ",
    "---", "...", "%YAML 1.1", "? ", "|", ">", "'", '"', "#", "extends: ", "spec.yaml", "\n",
    "\n", "\n", "loss: bce", "1e-3", "~", "null", "yes", "0x1F", "2001-01-01", "\ufeff", "\x85",
]  # fmt: skip
yaml_garbage = st.lists(st.sampled_from(YAML_PIECES), max_size=25).map("".join)
raw_texts = (
    st.text(max_size=200)
    | st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    | yaml_garbage
    | st.tuples(st.just(dump(BASE)), yaml_garbage, st.integers(0, 1500)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    )
)


@pytest.mark.slow
@settings(max_examples=400, **SETTINGS)
@given(text=raw_texts)
def test_raw_text_loads_or_fails_cleanly(text: str, shared_example_copy: Path) -> None:
    target = shared_example_copy.parent / "raw.yaml"
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_outcome(target)


@settings(max_examples=200, **SETTINGS)
@given(data=st.binary(max_size=200))
def test_raw_bytes_load_or_fail_cleanly(data: bytes, shared_example_copy: Path) -> None:
    target = shared_example_copy.parent / "bytes.yaml"
    target.write_bytes(data)
    check_outcome(target)


# --- overrides ------------------------------------------------------------------------------


def _dotted(path: tuple[Any, ...]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")


REAL_PATHS = [_dotted(p) for p in all_paths(BASE) if p]
override_paths = (
    st.sampled_from(REAL_PATHS)
    | st.tuples(st.sampled_from(REAL_PATHS), st.sampled_from(KNOWN_KEYS)).map(".".join)
    | st.lists(
        st.sampled_from(KNOWN_KEYS) | st.integers(0, 3).map(lambda i: f"[{i}]"),
        min_size=1,
        max_size=4,
    ).map(lambda parts: ".".join(parts).replace(".[", "["))
)
override_values = st.one_of(
    st.sampled_from(["1", "0", "-1", "0.5", "1e-3", "true", "null", "[]", "{}", "adam", "dense"]),
    st.text(max_size=20),
    dsl_garbage,
    values.map(lambda v: yaml.safe_dump(v, default_flow_style=True, width=10**9).strip()),
)


@settings(max_examples=300, **SETTINGS)
@given(
    overrides=st.lists(
        st.tuples(override_paths | st.text(max_size=15), override_values).map("=".join)
        | st.text(max_size=20),
        max_size=3,
    )
)
@pytest.mark.slow
def test_random_overrides_load_or_fail_cleanly(
    overrides: list[str], shared_example_copy: Path
) -> None:
    check_outcome(shared_example_copy, overrides)
