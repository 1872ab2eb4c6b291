"""Faults that once hung, flooded the terminal or overflowed the stack end in clean errors:
files that are no regular files or too large, very long lines, very long or deep expressions."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pknet.cli import app
from pknet.errors import EXCERPT_WIDTH, FileProblem, SpecError, excerpt, name_list
from pknet.files import MAX_TEXT_BYTES, read_capped
from pknet.specs import load_spec, render_spec
from pknet.specs.dsl import Union, parse_selector

HERE = Path(__file__).parent
VALID = (HERE / "malformed" / "_valid.yaml").read_text()
FIXTURE_DATA = HERE / "malformed" / "data"


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    return result


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE_DATA, tmp_path / "data")
    return tmp_path


def spec_with(folder: Path, old: str, new: str) -> Path:
    assert old in VALID
    path = folder / "spec.yaml"
    path.write_text(VALID.replace(old, new))
    return path


# --- files that are no regular files, or too large ------------------------------------------


def test_a_device_as_spec_is_refused_unread() -> None:
    result = invoke("validate", "/dev/zero")
    assert result.exit_code == 2
    assert result.output.startswith("error: /dev/zero: spec file is not a regular file")


def test_a_fifo_as_spec_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)  # opening it would block until a writer came
    result = invoke("validate", str(fifo))
    assert result.exit_code == 2
    assert "spec file is not a regular file (a device, pipe or socket)" in result.output


def test_a_fifo_as_base_points_at_the_extends_line(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "base.yaml")
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nextends: base.yaml\n")
    result = invoke("validate", str(spec))
    assert result.exit_code == 2
    assert f"{spec}:2:10: extends: spec file is not a regular file" in result.output


def test_a_spec_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    with spec.open("wb") as handle:
        handle.truncate(MAX_TEXT_BYTES + 1)  # sparse: a size without content
    result = invoke("validate", str(spec))
    assert result.exit_code == 2
    assert "spec file is larger than 10 MB" in result.output


def test_a_file_that_reports_no_size_is_still_read_with_a_cap() -> None:
    """/proc files say they are empty; the read itself stops at the cap."""
    status = Path("/proc/self/status")
    if not status.is_file() or status.stat().st_size != 0:
        pytest.skip("needs Linux's /proc")
    assert b"Name:" in read_capped(status, MAX_TEXT_BYTES)
    with pytest.raises(FileProblem, match="is larger than 1e-05 MB"):
        read_capped(status, 10)


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_data_file_that_is_no_regular_file_says_so(folder: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(folder / "edges.fifo")
    target = "/dev/null" if kind == "device" else "edges.fifo"
    spec = spec_with(folder, "file: data/edges.csv", f"file: {target}")
    result = invoke("validate", str(spec))
    assert result.exit_code == 2
    assert "spec.yaml:9:17: network.edges[0].file: file is not a regular file" in result.output
    assert "not found" not in result.output


# --- messages stay short -----------------------------------------------------------------------


def test_excerpt_of_a_long_line_is_cut_around_the_column() -> None:
    line = "".join(chr(ord("a") + i % 26) for i in range(1_000_000))
    column = 500_000
    text, caret = excerpt(line, column, "   7 | ").splitlines()
    body = text.removeprefix("   7 | ")
    assert body.startswith("…") and body.endswith("…")
    assert len(body) == EXCERPT_WIDTH + 2
    assert caret.startswith("     | ")
    assert body[caret.index("^") - len("   7 | ")] == line[column - 1]


@pytest.mark.parametrize("column", [1, 3, 10])
def test_excerpt_of_a_short_line_is_whole(column: int) -> None:
    assert excerpt("leaves\t& x", column) == "  leaves & x\n  " + " " * (column - 1) + "^"


def test_an_error_on_a_megabyte_line_prints_a_short_excerpt(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\nname: {'x' * 1_000_000} y: [\n")
    result = invoke("validate", str(spec))
    assert result.exit_code == 2
    assert f"{spec}:2:1000009: YAML syntax error" in result.output
    assert len(result.output) < 1000


def test_name_list_shows_five_short_names() -> None:
    assert name_list(["a", "b"]) == "`a`, `b`"
    names = [f"n{i}" for i in range(7)] + ["x" * 100]
    assert name_list(names) == "`n0`, `n1`, `n2`, `n3`, `n4` and 3 more"
    assert name_list(["x" * 100]) == f"`{'x' * 39}…`"


# --- long and deep expressions ---------------------------------------------------------------

LOSS_400 = "bce" + " + 1e-3 * l1(bias) - -1e-4 * l2(bias)" * 200
PRODUCT_2000 = "1.5 * " * 1000 + "bce" + " * 0.5" * 1000  # a weight of 0.75**1000
UNION_1000 = " | ".join(f"name(a{i})" for i in range(1000))


@pytest.mark.parametrize(
    ("field", "expression"),
    [("loss", LOSS_400), ("loss", PRODUCT_2000), ("network.outputs", UNION_1000)],
    ids=["400-term loss", "2000-factor product", "1000-name union"],
)
def test_long_expressions_validate_and_render(folder: Path, field: str, expression: str) -> None:
    old = "loss: bce + 1e-3 * l1(bias) + 1e-2 * l2(bias)" if field == "loss" else "name(TCR)"
    new = f"loss: {expression}" if field == "loss" else expression
    spec = spec_with(folder, old, new)
    result = invoke("validate", str(spec))
    assert result.exit_code == 0, result.output
    assert len(result.output) < 400  # the summary line shows the start of each expression
    rendered = invoke("render", str(spec))
    assert rendered.exit_code == 0, rendered.output
    again = folder / "rendered.yaml"
    again.write_text(rendered.stdout)
    assert render_spec(load_spec(again), base_dir=folder) == rendered.stdout


def test_a_long_union_keeps_every_name() -> None:
    tree = parse_selector(UNION_1000)
    assert isinstance(tree, Union)
    assert [o.names for o in tree.operands] == [(f"a{i}",) for i in range(1000)]


@pytest.mark.parametrize(
    ("field", "expression", "column"),
    [
        ("loss", "(" * 5000 + "bce" + ")" * 5000, None),
        ("loss", "2 * (" * 5000 + "bce" + ")" * 5000, 501),
        ("loss", "-" * 5000 + "bce", 101),
        ("network.outputs", "name(TCR) | (" * 5000 + "roots" + ")" * 5000, 1301),
    ],
    ids=["redundant parentheses", "nested products", "signs", "nested unions"],
)
def test_deep_nesting_is_a_located_error(
    folder: Path, field: str, expression: str, column: int | None
) -> None:
    old = "loss: bce + 1e-3 * l1(bias) + 1e-2 * l2(bias)" if field == "loss" else "name(TCR)"
    new = f"loss: '{expression}'" if field == "loss" else f"'{expression}'"
    spec = spec_with(folder, old, new)
    result = invoke("validate", str(spec))
    if column is None:  # parentheses around one term nest nothing
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2
    assert f"{field}: the expression nests more than 100 levels deep (column {column}" in (
        result.output
    )
    assert len(result.output) < 1500


# --- validate rejects what run would reject, without reading data ----------------------------

EXAMPLES = HERE.parent.parent / "examples"


@pytest.mark.parametrize(
    ("loss", "column", "message"),
    [
        ("-0.1 * l2(bias) + bce", 8, "the weight of `l2(bias)` is -0.1; a negative weight"),
        ("bce - -(2 * -l1(bias))", 14, "the weight of `l1(bias)` is -2; a negative weight"),
        ("bce + 0 * l1(bias)", 11, "the weight of `l1(bias)` is 0"),
        ("bce + (1e300*1e300 - 1e300*1e300) * l1(bias)", 37, "the weight of `l1(bias)` is not"),
        ("-bce", 2, "the weight of `bce` is -1; a negative weight"),
    ],
)
def test_loss_weights_are_finite_and_positive(loss: str, column: int, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(EXAMPLES / "kpnn_tcr" / "spec.yaml", {"loss": loss})
    (problem,) = caught.value.problems
    assert problem.path == "loss"
    assert problem.message.startswith(message)
    assert problem.message.endswith(f"(column {column} of the expression)")


@pytest.mark.parametrize(
    ("example", "loss", "message"),
    [
        ("go_vae", "bce + recon + kl", "`bce` compares outputs with the target"),
        ("go_vae", "kl", "a `vae` loss needs exactly one `recon(...)` term; found 0"),
        ("go_vae", "recon + recon(nb) + kl", "found 2"),
        ("go_vae", "recon + kl + 2 * kl", "`kl` appears more than once"),
        ("kpnn_tcr", "bce + kl", "`kl` needs a `vae` model"),
        ("kpnn_tcr", "bce + mse", "exactly one data term (bce, ce or mse); found `bce`, `mse`"),
    ],
)
def test_loss_terms_fit_the_model_kind(example: str, loss: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(EXAMPLES / example / "spec.yaml", {"loss": loss})
    (problem,) = caught.value.problems
    assert problem.path == "loss" and message in problem.message
    assert problem.location is not None and problem.location.source == f"--set loss={loss}"


def test_a_path_with_a_nul_character_is_named_not_a_crash() -> None:
    from pknet.files import file_problem

    assert file_problem(Path("data\x00.csv")) == "is not a valid path (it contains a NUL character)"
