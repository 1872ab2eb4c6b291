"""The `pknet` command: a thin layer over the public Python API.

User mistakes arrive as `PknetError`s: they are printed with their locations and the command
exits with code 2, never with a traceback.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

import pknet
from pknet.errors import EXIT_USER_ERROR, PknetError
from pknet.specs import Spec, load_spec, render_spec, summarize

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
) -> None:
    """Print the JSON Schema of specs (for editor completion and validation)."""
    text = json.dumps(Spec.model_json_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", markup=False)


@app.command()
def render(
    spec: Annotated[Path, typer.Argument(help="Spec file.")],
    set_: SetOption = None,
) -> None:
    """Print the fully resolved spec (defaults filled, extends and --set applied) as YAML."""
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
    from pknet.api import compile_spec  # the solver stack loads only for commands that use it
    from pknet.compiler.summary import compile_summary

    loaded = load_spec(spec, set_ or [])
    out_dir = out if out is not None else Path("runs") / loaded.name / "compile"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        compiled = compile_spec(loaded, out=out_dir)
    for warning in caught:
        err.print(Text(f"warning: {warning.message}", style="yellow"), markup=False)
    console.print(Text(f"compiled {loaded.name} in {compiled.seconds:.2f} s"), markup=False)
    for label, text in compile_summary(compiled):
        console.print(Text(f"  {label:<9} {text}"), markup=False)
    console.print(Text(f"  {'wrote':<9} {out_dir / 'network'}"), markup=False)


def main() -> None:
    """Entry point of the `pknet` console script."""
    try:
        app()
    except PknetError as exc:
        _print_error(exc)
        sys.exit(EXIT_USER_ERROR)
