"""The training-memory estimate: against the real model's arrays, and the refusal it makes."""

from __future__ import annotations

import os
from pathlib import Path

import equinox as eqx
import jax
import optax
import pytest

import pknet
from pknet.compiler.dataset import load_dataset
from pknet.compiler.located import locate
from pknet.compiler.model.program import Program, build_program
from pknet.compiler.network.compile_network import compile_network
from pknet.errors import CompileError
from pknet.runtime.memory import (
    DATA,
    HEADROOM,
    PARAM_COPIES,
    STATE_COPIES,
    MemoryEstimate,
    available_bytes,
    check_fits,
    estimate_training_memory,
)

MATRICES = Path(__file__).parents[1] / "data" / "matrices"
N_FEATURES = 20  # proteins of the plasma fixture
PLAIN_SGD = optax.sgd(0.1)  # no optimiser state


def dense_spec(tmp_path: Path, layers: str) -> pknet.Spec:
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"""version: 1
name: memory
data:
  expression: {{file: {MATRICES / "plasma_proteomics_20x30.csv"}, orientation: samples_as_columns}}
  target: {{file: {MATRICES / "plasma_proteomics_design_30.tsv"}, index: sample, column: group}}
  missing: zero
model:
  layers: {layers}
loss: bce
"""
    )
    return pknet.load_spec(path)


def dense_program(tmp_path: Path, layers: str) -> Program:
    return build_program(dense_spec(tmp_path, layers), None, N_FEATURES, "binary", 2)


def estimate(program: Program, optimizer=PLAIN_SGD, **options) -> MemoryEstimate:
    settings = {"folds": 1, "batch": 0, "held_out": 0, "data_bytes": 0, "keeps_best": False}
    return estimate_training_memory(program, optimizer, **{**settings, **options})


def layer_bytes(model: eqx.Module) -> dict[str, tuple[int, int]]:
    """Per layer of a built model: bytes of its trainable arrays and of its other arrays."""
    sizes = {}
    for layer in model.layers:
        arrays = jax.tree.leaves(eqx.filter(layer, eqx.is_array))
        trained = sum(a.nbytes for a in arrays if eqx.is_inexact_array(a))
        sizes[layer.name] = (trained, sum(a.nbytes for a in arrays) - trained)
    return sizes


def test_parameters_are_the_built_models_arrays(tmp_path: Path) -> None:
    program = dense_program(tmp_path, "[{kind: dense, units: 7}, {kind: dense, units: 1}]")
    model = program.init_model(jax.random.key(0))
    sizes = layer_bytes(model)
    assert sum(trained for trained, _ in sizes.values()) == 4 * program.n_parameters
    arrays = estimate(program, folds=3).arrays
    assert arrays == {DATA: 0, **{name: 3 * PARAM_COPIES * t for name, (t, _) in sizes.items()}}


def test_index_arrays_are_counted_once(quick) -> None:
    spec = quick()
    network = compile_network(spec)
    dataset = load_dataset(spec, network.input_columns, network)
    program = build_program(spec, network, dataset.x.shape[1], dataset.task, 2)
    ((name, (trained, fixed)),) = layer_bytes(program.init_model(jax.random.key(0))).items()
    assert fixed > 0  # the kpnn layer's wiring
    early = spec.train.early_stopping is not None
    arrays = estimate(program, folds=2, keeps_best=early).arrays
    assert arrays[name] == 2 * (PARAM_COPIES + early) * trained + fixed


def test_adam_adds_two_copies_of_the_parameters(tmp_path: Path) -> None:
    program = dense_program(tmp_path, "[{kind: dense, units: 7}, {kind: dense, units: 1}]")
    params = 4 * program.n_parameters
    extra = estimate(program, optax.adam(0.1), folds=5).total - estimate(program, folds=5).total
    assert extra == pytest.approx(5 * STATE_COPIES * 2 * params, rel=1e-2)


def test_activations_grow_with_the_rows_read_at_once(tmp_path: Path) -> None:
    program = dense_program(tmp_path, "[{kind: dense, units: 7}, {kind: dense, units: 1}]")
    base = estimate(program, folds=2).total
    per_row = (estimate(program, folds=2, batch=10).total - base) / 20
    assert 4 * (7 + 1) <= per_row <= 3 * 4 * (7 + 1)  # every layer's outputs, unfused
    assert estimate(program, folds=2, batch=10, held_out=40).total - base == 80 * per_row


def test_a_layer_too_large_for_any_int_is_refused_at_its_units(tmp_path: Path) -> None:
    units = 10**20  # its weight matrix has more entries than an int64 can count
    layers = ", ".join(f"{{kind: dense, units: {n}}}" for n in (2, units, 1))
    spec = dense_spec(tmp_path, f"[{layers}]")
    program = build_program(spec, None, N_FEATURES, "binary", 2)
    found = estimate(program, batch=32)
    assert found.largest == "dense_2" and found.parts["dense_2"] > 3 * 4 * units * 3
    with pytest.raises(CompileError) as caught:
        check_fits(found, available_bytes(jax.devices()[0]), "cpu", 1, program.size_field)
    problem = locate(spec, caught.value).problems[0]
    assert problem.path == "model.layers[1].units" and problem.location.line == 8
    assert "training would need about" in problem.message and "GB" in problem.message
    assert "fewer units" in problem.hint


def test_a_run_is_refused_only_above_the_headroom(tmp_path: Path) -> None:
    spec = dense_spec(tmp_path, "[{kind: dense, units: 7}, {kind: dense, units: 1}]")
    program = build_program(spec, None, N_FEATURES, "binary", 2)
    found = estimate(program, batch=8, data_bytes=99)
    check_fits(found, int(found.total / HEADROOM) + 1, "cpu", 1, program.size_field)
    with pytest.raises(CompileError, match="training would need") as caught:
        check_fits(found, int(found.total / HEADROOM) - 1, "cpu", 1, program.size_field)
    assert caught.value.problems[0].path.startswith("model.layers")
    check_fits(found, None, "tpu", 1, program.size_field)  # unknown: not checked


def test_the_hosts_available_memory() -> None:
    available = available_bytes(jax.devices("cpu")[0])
    assert 0 < available <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
