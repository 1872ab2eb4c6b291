"""`pknet predict`: a damaged run directory is a located user error naming its file and field,
and the predictions go beside the data, never over a file pknet was not told to replace."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pknet.cli import app

pytestmark = pytest.mark.slow  # end-to-end runs

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "matrices" / "pbmc68k_40x50.h5ad"
TINY_KPNN = f"""extends: {ROOT / "examples" / "kpnn_tcr" / "spec.yaml"}
name: tiny-kpnn
data:
  expression: {{file: {DATA}, layer: lognorm}}
train: {{epochs: 2}}
evaluate: {{cv: {{kind: kfold, folds: 2}}}}
explain: []
"""
NETWORK_KEYS = ("nodes", "inputs", "outputs")
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KPNN run on 40 cells: 44 input genes, 2 folds of 2 epochs."""
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "spec.yaml").write_text(TINY_KPNN)
    out = folder / "run"
    result = runner.invoke(app, ["run", str(folder / "spec.yaml"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


Damage = Callable[[Path], None]


def in_model_json(**changes: object) -> Damage:
    """`model.json` with fields set, or edited by a function of their value."""

    def damage(run: Path) -> None:
        path = run / "model.json"
        info = json.loads(path.read_text())
        for key, value in changes.items():
            info[key] = value(info[key]) if callable(value) else value
        path.write_text(json.dumps(info))

    return damage


def without_network(run: Path) -> None:
    path = run / "model.json"
    info = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in info.items() if k not in NETWORK_KEYS}))


def in_stats(fold: int, edit: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> Damage:
    def damage(run: Path) -> None:
        path = run / "folds" / str(fold) / "stats.npz"
        with np.load(path) as stored:
            arrays = dict(stored)
        np.savez(path, **edit(arrays))

    return damage


def truncated(name: str) -> Damage:
    def damage(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 2])

    return damage


def replaced(name: str, old: str, new: str) -> Damage:
    def damage(run: Path) -> None:
        text = (run / name).read_text()
        assert old in text
        (run / name).write_text(text.replace(old, new, 1))

    return damage


def first_weight_reshaped(run: Path) -> None:
    """The first array of fold 0's checkpoint (75 kpnn edge weights) stored with 74 values."""
    path = run / "folds" / "0" / "model.eqx"
    with path.open("rb") as file:
        first = np.load(file)
        rest = file.read()
    stored = io.BytesIO()
    np.save(stored, first[:-1])
    path.write_bytes(stored.getvalue() + rest)


def appended(name: str, data: bytes) -> Damage:
    def damage(run: Path) -> None:
        with (run / name).open("ab") as file:
            file.write(data)

    return damage


def removed(name: str) -> Damage:
    return lambda run: shutil.rmtree(run / name)


# (id, damaged file, damage, field, what the message says)
DAMAGES = [
    ("features-a-number", "model.json", in_model_json(features=5), "features", "(got 5)"),
    ("n_folds-text", "model.json", in_model_json(n_folds="3"), "n_folds", 'integer (got "3")'),
    ("n_folds-0", "model.json", in_model_json(n_folds=0), "n_folds", "greater than or equal to 1"),
    (
        "no-classes",
        "model.json",
        in_model_json(classes=[]),
        "classes",
        "a binary task has exactly 2 classes, not 0",
    ),
    (
        "unknown-input",
        "model.json",
        in_model_json(inputs=lambda names: [names[0], "NOT_A_NODE", *names[2:]]),
        "inputs[1]",
        "`NOT_A_NODE` is not among the network's nodes",
    ),
    ("unknown-key", "model.json", in_model_json(n_fold=2), "n_fold", "unknown key"),
    (
        "no-network",
        "model.json",
        without_network,
        "nodes",
        "spec.resolved.yaml declares a network, but no network nodes are listed",
    ),
    ("not-json", "model.json", truncated("model.json"), "", "model.json of this run is not JSON"),
    (
        "not-a-description",
        "model.json",
        lambda run: (run / "model.json").write_text("[1, 2]"),
        "",
        "not the model description `pknet run` writes",
    ),
    (
        "spec-invalid",
        "spec.resolved.yaml",
        replaced("spec.resolved.yaml", "epochs: 2", "epochs: many"),
        "train.epochs",
        "valid integer",
    ),
    (
        "spec-empty",
        "spec.resolved.yaml",
        lambda run: (run / "spec.resolved.yaml").write_text(""),
        "",
        "the file is empty; a spec is a YAML mapping",
    ),
    ("stats-truncated", "folds/0/stats.npz", truncated("folds/0/stats.npz"), "", "cannot be read"),
    (
        "stats-renamed",
        "folds/0/stats.npz",
        in_stats(0, lambda a: {"fill": a["fill"], "offset": a["shift"], "scale": a["scale"]}),
        "shift",
        "missing array (the file holds fill, offset, scale)",
    ),
    (
        "stats-short",
        "folds/1/stats.npz",
        in_stats(1, lambda a: {**a, "scale": a["scale"][:-1]}),
        "scale",
        "43 values, but the model has 44 features",
    ),
    (
        "stats-2d",
        "folds/1/stats.npz",
        in_stats(1, lambda a: {**a, "fill": a["fill"][None]}),
        "fill",
        "expected a 1-d float array, got float32 of shape (1, 44)",
    ),
    (
        "checkpoint-truncated",
        "folds/0/model.eqx",
        truncated("folds/0/model.eqx"),
        "",
        "cannot load the checkpoint model.eqx",
    ),
    (
        "checkpoint-reshaped",
        "folds/0/model.eqx",
        first_weight_reshaped,
        "layers[0].weight",
        "float32 of shape (74,) on disk, but the model needs float32 of shape (75,)",
    ),
    (
        "checkpoint-longer",
        "folds/1/model.eqx",
        appended("folds/1/model.eqx", b"\0" * 8),
        "",
        "8 bytes follow the last weight",
    ),
    (
        "edges-without-columns",
        "network/edges.pruned.tsv",
        lambda run: (run / "network" / "edges.pruned.tsv").write_text("a\tb\n1\t2\n"),
        "from",
        "missing column; the columns are from, to, sign, weight",
    ),
    (
        "edges-unknown-node",
        "network/edges.pruned.tsv",
        replaced("network/edges.pruned.tsv", "\tREST\t", "\tNOT_A_NODE\t"),
        "to",
        "`NOT_A_NODE` is not among model.json's nodes",
    ),
]


@pytest.mark.parametrize(
    "name, damage, field, message", [d[1:] for d in DAMAGES], ids=[d[0] for d in DAMAGES]
)
def test_a_damaged_run_file_is_named_with_its_field(
    run_dir: Path, tmp_path: Path, name: str, damage: Damage, field: str, message: str
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    damage(copy)
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(copy), str(DATA), "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    where = re.escape(str(copy / name)) + r"(:\d+)*: " + (re.escape(field) + ": " if field else "")
    assert re.search(f"error: {where}.*{re.escape(message)}", result.output), result.output
    assert "run the spec again with `pknet run`" in result.output
    assert not out.exists()


def test_a_missing_fold_names_its_file(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    removed("folds/1")(copy)
    result = runner.invoke(app, ["predict", str(copy), str(DATA), "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (
        f"{copy / 'run.json'}: damaged: folds/1/history.csv, folds/1/model.eqx, "
        "folds/1/stats.npz listed in run.json are missing" in result.output
    )


def test_help_says_where_the_default_output_goes() -> None:
    result = runner.invoke(app, ["predict", "--help"])
    text = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 0
    assert (
        "File to write, replaced if it exists: `.h5ad` (the data's AnnData with the predictions "
        "in obs, for .h5ad data) or CSV. Default: <data stem>.predictions.h5ad for .h5ad data, "
        "else <data stem>.predictions.csv, in the data file's folder, which must not exist yet."
    ) in text


@pytest.fixture
def new_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the data in its own folder, the working directory elsewhere."""
    (tmp_path / "new cells").mkdir()
    data = tmp_path / "new cells" / "batch2.h5ad"
    shutil.copy(DATA, data)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return data


def test_the_default_output_goes_beside_the_data(run_dir: Path, new_data: Path) -> None:
    result = runner.invoke(app, ["predict", str(run_dir), str(new_data)])
    assert result.exit_code == 0, result.output
    written = new_data.parent / "batch2.predictions.h5ad"  # .h5ad data: an AnnData
    assert f"wrote 40 predictions to {written}" in result.output
    assert anndata.read_h5ad(written).obs["pknet_score"].notna().sum() == 40
    assert sorted(p.name for p in new_data.parent.iterdir()) == [
        "batch2.h5ad",
        "batch2.predictions.h5ad",
    ]
    assert not list(Path.cwd().iterdir())


def test_the_default_output_never_replaces_a_file(run_dir: Path, new_data: Path) -> None:
    mine = new_data.parent / "batch2.predictions.h5ad"
    mine.write_text("my own notes")
    result = runner.invoke(app, ["predict", str(run_dir), str(new_data)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{mine}: already exists, and the default output never replaces a file" in (
        result.output
    )
    assert "hint: pass --out FILE" in result.output
    assert mine.read_text() == "my own notes"


def test_an_out_file_named_by_the_user_is_replaced(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "old.csv"
    out.write_text("stale")
    result = runner.invoke(app, ["predict", str(run_dir), str(DATA), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 40
    assert [p.name for p in tmp_path.iterdir()] == ["old.csv"]  # no temporary file left


def test_an_interrupted_write_leaves_no_partial_file(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(source: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pknet.io.atomic.os.replace", disk_full)
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(run_dir), str(DATA), "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"cannot write {out}: No space left on device" in result.output
    assert not list(tmp_path.iterdir())


def test_an_interrupted_anndata_write_leaves_no_partial_file(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(source: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pknet.io.atomic.os.replace", disk_full)
    out = tmp_path / "p.h5ad"
    result = runner.invoke(app, ["predict", str(run_dir), str(DATA), "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"cannot write {out}: No space left on device" in result.output
    assert not list(tmp_path.iterdir())


def test_an_anndata_output_needs_anndata_data(run_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "cells.csv"
    data.write_text("barcode,A\nx,1\n")
    out = tmp_path / "p.h5ad"
    result = runner.invoke(app, ["predict", str(run_dir), str(data), "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "an .h5ad output holds the data's AnnData, but cells.csv is not an .h5ad" in (
        result.output
    )
    assert "hint: write a CSV: --out FILE.csv" in result.output and not out.exists()


def test_data_that_is_a_device_is_named_as_such(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(run_dir), "/dev/zero", "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "/dev/zero is not a regular file (a device, pipe or socket)" in result.output
    assert not out.exists()
