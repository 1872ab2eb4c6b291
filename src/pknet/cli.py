"""The `pknet` command: a thin layer over the public Python API.

User mistakes arrive as `PknetError`s: they are printed with their locations and the command
exits with code 2, never with a traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

import pknet
from pknet import interrupts
from pknet.errors import (
    EXIT_USER_ERROR,
    Location,
    OutputError,
    PknetError,
    Problem,
    SweepError,
)
from pknet.io.atomic import write_atomic, write_text_atomic
from pknet.specs import load_spec, render_spec, summarize
from pknet.specs.run_sections import require_run_sections

if TYPE_CHECKING:  # numpy, the compiler and the runtime load only for `compile` and `run`
    from pknet.compiler.network.solve_progress import SolveProgress
    from pknet.runtime.progress import EpochReport

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Compile declarative specs for knowledge-primed neural networks.",
)
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Override a spec field, e.g. --set train.epochs=50 (repeatable).",
    ),
]


def _print_error(error: PknetError) -> None:
    for problem in error.problems:
        text = Text("error: ", style="bold red")
        text.append(problem.format())
        err.print(text, markup=False)
    count = len(error.problems)
    if count > 1:
        err.print(Text(f"{count} problems", style="red"), markup=False)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Print a `PknetError` with its locations and exit with code 2 (no traceback); an
    interrupt exits with 130 (SIGTERM: 143) after the outputs were cleaned up."""
    try:
        yield
    except PknetError as exc:
        _print_error(exc)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt as exc:
        code = exc.exit_code if isinstance(exc, interrupts.Interrupted) else 130
        err.print(Text("interrupted: no output was written", style="red"), markup=False)
        raise typer.Exit(code) from None


def _write_text(path: Path, text: str) -> None:
    """Write a text output file (atomically)."""
    with _writing(path):
        write_text_atomic(path, text)


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A path that cannot be written is a user error."""
    try:
        yield
    except OSError as exc:
        raise PknetError(
            Problem(
                f"cannot write {path}: {exc.strerror}",
                Location(str(path)),
                hint="check that the folder exists and is writable",
            )
        ) from None


def _warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        err.print(Text(f"warning: {warning.message}", style="yellow"), markup=False)


def _version(value: bool) -> None:
    if value:
        console.print(f"pknet {pknet.__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """pknet: validate, compile and run knowledge-primed neural network specs."""


@app.command()
def validate(
    specs: Annotated[list[Path], typer.Argument(help="Spec files to check.")],
    set_: SetOption = None,
) -> None:
    """Check spec files; print a one-line summary of each valid one."""
    failed = False
    for path in specs:
        try:
            spec = load_spec(path, set_ or [])
        except PknetError as exc:
            _print_error(exc)
            failed = True
            continue
        line = Text("ok ", style="bold green")
        line.append(f"{path}  {summarize(spec)}")
        console.print(line, markup=False)
    if failed:
        raise typer.Exit(EXIT_USER_ERROR)


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the JSON Schema to this file.")
    ] = None,
    sweep_file: Annotated[
        bool, typer.Option("--sweep", help="The schema of sweep files instead of specs.")
    ] = False,
) -> None:
    """Print the JSON Schema of specs (for editor completion and validation)."""
    from pknet.specs.json_schema import model_json_schema, spec_json_schema
    from pknet.specs.schema.sweep import SweepSpec

    schema = model_json_schema(SweepSpec) if sweep_file else spec_json_schema()
    text = json.dumps(schema, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        with user_errors():
            _write_text(output, text)
        err.print(f"wrote {output}", markup=False)


@app.command()
def render(
    spec: Annotated[Path, typer.Argument(help="Spec file.")],
    set_: SetOption = None,
) -> None:
    """Print the fully resolved spec (defaults filled, extends and --set applied) as YAML."""
    with user_errors():
        loaded = load_spec(spec, set_ or [])
    sys.stdout.write(render_spec(loaded, base_dir=spec.resolve().parent))


@app.command("compile")
def compile_(
    spec: Annotated[Path, typer.Argument(help="Spec file.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default runs/<name>/compile)."),
    ] = None,
    set_: SetOption = None,
) -> None:
    """Resolve, clean and prune the spec's network; write DIR/network/{edges.pruned.tsv,...}."""
    with user_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        loaded = load_spec(spec, set_ or [])  # spec errors before the compiler's imports
        from pknet.api import compile_spec
        from pknet.compiler.network.summary import compile_summary

        out_dir = out if out is not None else Path("runs") / loaded.name / "compile"
        with _run_progress(quiet=False):
            compiled = compile_spec(loaded, out=out_dir)
    _warnings(caught)
    console.print(Text(f"compiled {loaded.name} in {compiled.seconds:.2f} s"), markup=False)
    for label, text in compile_summary(compiled):
        console.print(Text(f"  {label:<9} {text}"), markup=False)
    console.print(Text(f"  {'wrote':<9} {out_dir / 'network'}"), markup=False)


@app.command("run")
def run_(
    spec: Annotated[Path, typer.Argument(help="Spec file.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Run directory (default runs/<name>/<time>-<hash>)."),
    ] = None,
    set_: SetOption = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="cpu, gpu, tpu or auto (default: the spec's train.device)."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace an earlier run at --out (refused if it holds files pknet did not write).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Compile, cross-validate, evaluate and explain a spec; write its run directory."""
    with user_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        loaded = load_spec(spec, set_ or [])  # spec errors before JAX and the solver load
        require_run_sections(loaded)
        from pknet.api import run

        with _run_progress(quiet) as shown:
            result = run(
                loaded,
                out=out,
                device=device,
                overwrite=overwrite,
                on_epoch=shown and shown.on_epoch,
                on_stage=shown and shown.on_stage,
                log=_log(quiet),
            )
    _warnings(caught)
    summary, seeds = result.metrics["summary"], result.metrics.get("seeds")
    console.print(Text(f"run {loaded.name}: {result.run_dir}", style="bold"), markup=False)
    if seeds:
        console.print(Text(f"  over {seeds} seeds x folds:"), markup=False)
    from pknet.runtime.metrics import mean_sd

    names = [*summary, *result.metrics.get("out_of_fold", {}).get("metrics", {})]
    width = max([10, *map(len, names)])  # e.g. `average_precision`
    for name, value in summary.items():
        console.print(Text(f"  {name:<{width}} {mean_sd(value)}"), markup=False)
    pooled = result.metrics.get("out_of_fold")
    if pooled is not None:
        mean = ""
        if "predictions" in pooled:  # e.g. "mean over seeds and repeats"
            per_seed_note = f"; {seeds} seeds, per seed: mean ± sd" if seeds else ""
            mean = f" (each the {pooled['predictions']}{per_seed_note})"
        console.print(
            Text(f"  pooled over {pooled['n']} held-out predictions{mean}:"), markup=False
        )
        per_task, per_seed = pooled.get("across_tasks"), result.metrics.get("seed_summary")
        for name, value in pooled["metrics"].items():
            spread = f" ± {per_task[name]['sd']:.4f} over tasks" if per_task else ""
            if per_seed:
                spread += f" (per seed {mean_sd(per_seed[name])})"
            console.print(Text(f"  {name:<{width}} {value:.4f}{spread}"), markup=False)
    timings = ", ".join(f"{k} {v:.1f}" for k, v in result.outcome.timings.items())
    console.print(Text(f"  {'seconds':<{width}} {timings}"), markup=False)


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep file (base spec, parameters, search).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Sweep folder (default runs/<name>/sweep-<time>)."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Join a running Ray cluster (`auto` or HOST:PORT) instead of an embedded Ray.",
        ),
    ] = None,
    cpus: Annotated[
        int | None,
        typer.Option("--cpus", min=1, help="CPUs of the embedded Ray (default: all)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only validate the sweep file and every parameter value."),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an earlier sweep at --out."),
    ] = False,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue the interrupted sweep of this folder (its finished trials are kept).",
        ),
    ] = None,
) -> None:
    """Run many variants of a spec on Ray Tune (grid, random or Optuna search); write every
    trial's run directory, trials.csv, best.yaml and report.md."""
    from pknet.specs.sweep import load_sweep

    with user_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        loaded = load_sweep(sweep_file)  # every value checked before Ray starts
        if check:
            count = len(loaded.settings.parameters)
            console.print(
                Text(f"ok {sweep_file}  {count} parameters over {loaded.base.name}"), markup=False
            )
            return
        if resume is not None and out is not None:
            raise SweepError(
                Problem(
                    "--resume names the sweep folder to continue",
                    Location("--out"),
                    hint="leave out --out",
                )
            )
        from pknet.sweeps import run_sweep
        from pknet.sweeps.run import default_sweep_dir

        target = resume or out or default_sweep_dir(Path("runs"), loaded)
        try:
            result = run_sweep(
                loaded,
                out=target,
                address=address,
                cpus=cpus,
                overwrite=overwrite,
                resume=resume is not None,
            )
        except KeyboardInterrupt:
            err.print(
                Text(f"the finished trials are kept: `pknet sweep {sweep_file} --resume {target}`"),
                markup=False,
            )
            raise
    _warnings(caught)
    metric = loaded.settings.metric
    failed = sum(not t.ok for t in result.trials)
    console.print(Text(f"sweep {loaded.base.name}: {result.folder}", style="bold"), markup=False)
    console.print(Text(f"  trials     {len(result.trials)} ({failed} failed)"), markup=False)
    best = result.best
    console.print(
        Text(f"  best       {best.name}: {metric} {best.mean:.4f} ± {best.sd:.4f}"), markup=False
    )
    for path, value in best.values.items():
        console.print(Text(f"    {path} = {json.dumps(value)}"), markup=False)


@app.command()
def runs(
    folders: Annotated[list[Path], typer.Argument(help="Run directories (e.g. a sweep's trials).")],
    format_: Annotated[
        str, typer.Option("--format", help="`md` (a Markdown table) or `csv`.")
    ] = "md",
) -> None:
    """Compare run directories: name, spec hash, the spec fields that differ, metric means."""
    if format_ not in ("md", "csv"):
        with user_errors():
            raise PknetError(
                Problem(f"unknown format `{format_}`", Location("--format"), hint="md or csv")
            )
    from pknet.sweeps.compare import runs_table
    from pknet.sweeps.outputs import markdown_table

    with user_errors():
        table = runs_table(folders)
    text = table.to_csv(index=False) if format_ == "csv" else markdown_table(table) + "\n"
    sys.stdout.write(text)


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `pknet run`.")],
    data: Annotated[Path, typer.Argument(help="Data file with the model's input features.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File to write, replaced if it exists: `.h5ad` (the data's AnnData with the "
            "predictions in obs, for .h5ad data) or CSV. Default: <data stem>.predictions.h5ad "
            "for .h5ad data, else <data stem>.predictions.csv, in the data file's folder, which "
            "must not exist yet.",
        ),
    ] = None,
) -> None:
    """Score new data with every model of a run (each seed's of each fold); write mean and
    per-model scores."""
    from pknet.api import predict as predict_data

    target = out if out is not None else default_predictions_path(data)
    with user_errors():
        if out is None and target.exists():
            raise OutputError(
                Problem(
                    "already exists, and the default output never replaces a file",
                    Location(str(target)),
                    hint="pass --out FILE to choose the predictions file (a file named with "
                    "--out is replaced)",
                )
            )
        anndata_out = _is_h5ad(target)
        if anndata_out and not _is_h5ad(data):
            raise OutputError(
                Problem(
                    f"an .h5ad output holds the data's AnnData, but {data.name} is not an "
                    ".h5ad file",
                    Location(str(target)),
                    hint="write a CSV: --out FILE.csv",
                )
            )
        table = predict_data(run_dir, data)
        if anndata_out:
            from pknet.api import predictions_anndata

            adata = predictions_anndata(table, data)
            with _writing(target):
                write_atomic(target, adata.write_h5ad)
        else:
            _write_text(target, table.to_csv(index=False))
    console.print(Text(f"wrote {len(table)} predictions to {target}"), markup=False)


def _is_h5ad(path: Path) -> bool:
    return path.suffix.lower() == ".h5ad"


def default_predictions_path(data: Path) -> Path:
    """`<data folder>/<data stem>.predictions.h5ad` for `.h5ad` data, else `.csv`: beside the
    data, never the data itself."""
    return data.with_name(f"{data.stem}.predictions{'.h5ad' if _is_h5ad(data) else '.csv'}")


def _log(quiet: bool):
    return (lambda message: None) if quiet else (lambda message: err.print(message, markup=False))


class _RunProgress:
    """One transient progress line on stderr, stage after stage: the pruning solve (elapsed,
    incumbent, bound, gap), the epochs (losses, the monitored metric, models still training),
    then scoring, explaining and writing."""

    def __init__(self, progress: Progress):
        self.progress, self.stage = progress, "compiling"
        self.task = progress.add_task(self.stage, total=None)

    def on_solve(self, solve: SolveProgress) -> None:
        self.progress.update(self.task, description=f"pruning: {solve.describe()}")

    def on_stage(self, stage: str, done: int, total: int | None) -> None:
        if stage != self.stage:  # a new task: its own count and elapsed time
            self.stage = stage
            self.progress.remove_task(self.task)
            self.task = self.progress.add_task(stage, total=total)
        self.progress.update(self.task, completed=done)

    def on_epoch(self, report: EpochReport) -> None:
        self.progress.update(
            self.task, completed=report.epoch, description=f"{self.stage}: {epoch_line(report)}"
        )


def epoch_line(report: EpochReport) -> str:
    """`loss 0.4312, val_loss 0.4511, val_roc_auc 0.8123, 5 of 5 models training`: means over
    the models that trained this epoch."""
    import numpy as np

    active = report.active if report.active.any() else np.ones_like(report.active)
    parts = [f"loss {float(report.train_loss[active].mean()):.4f}"]
    val_loss = report.val_loss[active]
    if not np.isnan(val_loss).all():
        parts.append(f"val_loss {float(np.nanmean(val_loss)):.4f}")
    if report.monitored is not None and report.monitor not in ("train_loss", "val_loss"):
        monitored = report.monitored[active]
        if not np.isnan(monitored).all():
            parts.append(f"{report.monitor} {float(np.nanmean(monitored)):.4f}")
    parts.append(f"{int(report.active.sum())} of {report.active.size} models training")
    return ", ".join(parts)


@contextlib.contextmanager
def _run_progress(quiet: bool) -> Iterator[_RunProgress | None]:
    """The progress line of `compile` and `run` (none with `quiet`), solves included."""
    if quiet:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    from pknet.compiler.network.solve_progress import showing_solve_progress

    with Progress(*columns, console=err, transient=True) as progress:
        shown = _RunProgress(progress)
        with showing_solve_progress(shown.on_solve):
            yield shown


def main() -> None:
    """Entry point of the `pknet` console script."""
    with interrupts.catching():
        try:
            app()
        except SystemExit as exc:
            signum = interrupts.received()
            if signum is not None and exc.code in (0, 1):  # click's "Aborted!" is 1
                raise SystemExit(128 + signum) from None
            raise
