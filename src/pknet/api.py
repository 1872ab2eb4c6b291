"""The public Python API that the CLI and notebooks share."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING

from pknet.compiler import CompiledNetwork, compile_network
from pknet.compiler.located import locate
from pknet.compiler.network.network_files import write_network_files
from pknet.errors import CompileError, PknetError, Problem, RunDirectoryError
from pknet.io.output_folder import OutputFolder, OutputKind, require_complete
from pknet.specs import Spec, load_spec, render_spec
from pknet.specs.load import Overrides, read_rendered_spec
from pknet.specs.paths import map_paths
from pknet.specs.run_sections import require_run_sections

if TYPE_CHECKING:  # JAX, the model and the runtime load when a run or prediction starts
    import anndata
    import jax
    import pandas as pd

    from pknet.compiler.dataset import Dataset
    from pknet.runtime.progress import EpochCallback, StageCallback
    from pknet.runtime.run import RunOutcome

COMPILE_OUTPUT = OutputKind(kind="compile", marker="compile.json")


def _spec(spec: Spec | str | Path, overrides: Overrides) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(spec, overrides)


def compile_spec(
    spec: Spec | str | Path, overrides: Overrides = (), out: str | Path | None = None
) -> CompiledNetwork:
    """Validate (if given a path), read the network and data features, clean and prune.

    With `out`, also writes `out/network/` (pruned edges, report.json, the MILP as MPS) as an
    output folder (see `OutputFolder`): it replaces an earlier compile's folder there, never
    anything else, and an interrupted compile leaves no partial folder.
    """
    loaded = _spec(spec, overrides)
    if out is None:
        with located(loaded):
            return compile_network(loaded)
    with OutputFolder(Path(out) / "network", COMPILE_OUTPUT, overwrite=True) as folder:
        with located(loaded):
            compiled = compile_network(loaded)
        with folder.writing() as staging:
            write_network_files(compiled, staging)
        folder.commit()
    return compiled


@contextlib.contextmanager
def located(spec: Spec) -> Iterator[None]:
    """Locate, in the spec's source, every problem raised inside that names only its path."""
    try:
        yield
    except PknetError as exc:
        raise locate(spec, exc) from exc.__cause__


def input_files(spec: Spec) -> list[Path]:
    """Every file the spec names (data, labels, network sources, tables), in spec order."""
    found: list[Path] = []

    def collect(_: tuple, path: Path) -> Path:
        if path not in found:
            found.append(path)
        return path

    map_paths(spec, collect)
    return found


def train_and_evaluate(
    spec: Spec | str | Path,
    overrides: Overrides = (),
    *,
    on_epoch: EpochCallback | None = None,
    on_stage: StageCallback | None = None,
    log: Callable[[str], None] | None = None,
) -> RunOutcome:
    """The pipeline without writing: compile the network, read the dataset, build the program
    and the run plan, then cross-validate, evaluate and explain in the runtime. `on_epoch` and
    `on_stage` report progress (see `pknet.runtime.progress`)."""
    from pknet.compiler.model.feature_graph import feature_graph
    from pknet.compiler.model.program import build_program
    from pknet.compiler.model.run_plan import build_run_plan
    from pknet.runtime.run import run_folds

    loaded = _spec(spec, overrides)
    require_run_sections(loaded)
    with located(loaded):
        start = perf_counter()
        plan = build_run_plan(loaded)
        network, dataset = _network_and_dataset(loaded)
        program = build_program(
            loaded,
            network,
            dataset.x.shape[1],
            dataset.task,
            len(dataset.classes),
            max(len(dataset.targets), 1),
            feature_graph(loaded, dataset.x, dataset.features),
        )
        return run_folds(
            program,
            plan,
            dataset,
            on_epoch=on_epoch,
            on_stage=on_stage,
            log=log,
            compile_s=perf_counter() - start,
        )


def _network_and_dataset(spec: Spec) -> tuple[CompiledNetwork | None, Dataset]:
    from pknet.compiler.dataset import load_dataset

    network = compile_network(spec) if spec.network is not None else None
    return network, load_dataset(spec, network.input_columns if network else None, network)


def cv_folds(
    spec: Spec | str | Path, overrides: Overrides = ()
) -> list[tuple[list[str], list[str]]]:
    """The sample ids of each cross-validation fold's training and test rows, as `run` splits
    them (without training anything)."""
    from pknet.compiler.model.run_plan import build_run_plan
    from pknet.runtime.splits import dataset_splits

    loaded = _spec(spec, overrides)
    require_run_sections(loaded, "cv_folds")
    with located(loaded):
        plan = build_run_plan(loaded)
        _, dataset = _network_and_dataset(loaded)
        splits = dataset_splits(plan, dataset)
    samples = dataset.samples
    return [([samples[i] for i in s.train], [samples[i] for i in s.test]) for s in splits]


@contextlib.contextmanager
def on_device(name: str) -> Iterator[jax.Device]:
    """Run JAX computations on `name` (`cpu`, `gpu`, `tpu`), or where JAX chooses (`auto`)."""
    import jax

    if name == "auto":
        yield jax.devices()[0]
        return
    try:
        device = jax.devices(name)[0]
    except RuntimeError:
        available = sorted({d.platform for d in jax.devices()})
        raise CompileError(
            Problem(
                f"no {name} device is available to JAX",
                path="train.device",
                hint=f"available: {', '.join(available)}; use `--device auto`",
            )
        ) from None
    with jax.default_device(device):
        yield device


@dataclass(frozen=True)
class RunResult:
    """Where a run was written, and what it computed."""

    run_dir: Path
    outcome: RunOutcome

    @property
    def metrics(self) -> dict[str, object]:
        return self.outcome.metrics_document()


def run(
    spec: Spec | str | Path,
    overrides: Overrides = (),
    *,
    out: str | Path | None = None,
    root: str | Path = "runs",
    device: str | None = None,
    overwrite: bool = False,
    on_epoch: EpochCallback | None = None,
    on_stage: StageCallback | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Compile, cross-validate, evaluate and explain a spec; write its run directory.

    The run directory is `out` if given, else `root/<name>/<UTC time>-<spec hash>`; it appears
    only when complete. An earlier run there is replaced only with `overwrite`; anything else
    there is refused before training (see `OutputFolder`).
    """
    from pknet.runtime.artifacts import RUN_OUTPUT, default_run_dir, spec_hash, write_run
    from pknet.runtime.jax_cache import enable_compilation_cache
    from pknet.runtime.xla_flags import request_deterministic_ops

    loaded = _spec(spec, overrides)
    require_run_sections(loaded)
    enable_compilation_cache()
    digest = spec_hash(render_spec(loaded))
    run_dir = Path(out) if out is not None else default_run_dir(Path(root), loaded.name, digest)
    with OutputFolder(run_dir, RUN_OUTPUT, overwrite=overwrite) as folder:
        request_deterministic_ops(loaded.train.deterministic)
        with on_device(device or loaded.train.device) as chosen:
            outcome = train_and_evaluate(loaded, on_epoch=on_epoch, on_stage=on_stage, log=log)
        extra = {"device_used": str(chosen), "command": sys.argv}
        if on_stage is not None:
            on_stage("writing the run directory", 0, None)
        with folder.writing() as staging:
            write_run(outcome, staging, extra, render_spec(loaded), input_files(loaded))
        return RunResult(folder.commit(), outcome)


def predict(run_dir: str | Path, data: str | Path) -> pd.DataFrame:
    """Scores of a run's fold models on a new data file (mean and per fold); `run_dir` must be
    a complete run (its `run.json` marker present, every file it lists there).

    The run's `spec.resolved.yaml` is loaded and its Program rebuilt over the stored network
    and features, exactly as `run` built it; the new data are read as its spec describes."""
    from pknet.compiler.dataset import load_new_inputs
    from pknet.compiler.model.layers.registry import Wiring
    from pknet.compiler.model.program import build_program
    from pknet.compiler.model.run_plan import sample_graph_plan
    from pknet.runtime.artifacts import RUN_OUTPUT
    from pknet.runtime.jax_cache import enable_compilation_cache
    from pknet.runtime.predict import predict_table
    from pknet.runtime.run_files import MODEL_INFO, SPEC_FILE, damaged, read_run, run_file

    enable_compilation_cache()
    folder = Path(run_dir)
    require_complete(folder, RUN_OUTPUT)
    spec = _run_spec(run_file(folder, SPEC_FILE))
    stored = read_run(
        folder,
        network=spec.network is not None,
        feature_graph=spec.model.feature_graph() is not None,
        sample_graph=spec.model.sample_graph() is not None,
    )
    samples, x = load_new_inputs(spec, Path(data), stored.info.features)
    info, network = stored.info, stored.network
    wiring = (
        None
        if network is None
        else Wiring(network, network.index_of(info.inputs), network.index_of(info.outputs))
    )
    try:
        program = build_program(
            spec,
            None,
            len(info.features),
            info.task,
            len(info.classes),
            len(info.targets or ()) or 1,
            stored.feature_graph,
            wiring=wiring,
        )
    except ValueError as exc:
        message = f"the model {SPEC_FILE} declares does not fit this description: {exc}"
        raise RunDirectoryError(damaged(folder / MODEL_INFO, message)) from None
    return predict_table(program, stored, sample_graph_plan(spec), samples, x)


def predictions_anndata(table: pd.DataFrame, data: str | Path) -> anndata.AnnData:
    """The AnnData of `data` (an `.h5ad` file) with `predict`'s `table` in `obs`: each column
    but `sample` as `pknet_<column>`, cell by cell. Its matrices are copied unless the file is
    large (see `pknet.runtime.results_anndata`)."""
    from pknet.runtime.results_anndata import add_obs, input_anndata, predict_obs

    adata = input_anndata(Path(data))
    add_obs(adata, predict_obs(table))
    return adata


def _run_spec(path: Path) -> Spec:
    """A run's `spec.resolved.yaml`, validated; its problems keep their file positions."""
    from pknet.runtime.run_files import DAMAGED_HINT

    try:
        return read_rendered_spec(path)
    except PknetError as exc:
        problems = [
            Problem(p.message, p.location, p.path, DAMAGED_HINT, p.excerpt) for p in exc.problems
        ]
        raise RunDirectoryError(problems) from None
