"""`run_sweep`: a sweep file -> a sweep folder of trial run directories and their summary.

The sweep folder is an output folder like a run's (see `pknet.io.output_folder`): it appears only
when every trial has ended and the summary is written. The trials run in a work folder beside it
that an interrupted sweep keeps for `--resume` (`pknet.sweeps.progress`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pknet.io.output_folder import OutputFolder, OutputKind
from pknet.specs.sweep import Sweep, load_sweep
from pknet.sweeps.cluster import ray_session
from pknet.sweeps.figures import FIGURES_DIR, write_figures
from pknet.sweeps.nested import FOLDS_DIR, OUTER_DIR, OuterFold, run_nested
from pknet.sweeps.outputs import (
    BEST_FILE,
    NESTED_FILE,
    REPORT_FILE,
    TRIALS_DIR,
    TRIALS_FILE,
    best_spec,
    best_trial,
    most_chosen,
    nested_table,
    report,
    trials_table,
)
from pknet.sweeps.progress import TUNE_DIR, move_results, open_work
from pknet.sweeps.space import search_parameters
from pknet.sweeps.tuner import TrialRecord, run_trials

SWEEP_OUTPUT = OutputKind(kind="sweep", marker="sweep.json")
SWEEP_FILE = "sweep.yaml"  # a copy of the sweep file as given


@dataclass(frozen=True)
class SweepResult:
    """Where a sweep was written, its trials and the best of them (nested selection: the
    parameters most outer folds chose, and each outer fold's search)."""

    folder: Path
    trials: list[TrialRecord]
    best: TrialRecord
    outer: list[OuterFold] = field(default_factory=list)


def default_sweep_dir(root: Path, sweep: Sweep) -> Path:
    """`root/<base spec name>/sweep-<UTC timestamp>`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return root / sweep.base.name / f"sweep-{stamp}"


def run_sweep(
    sweep: Sweep | str | Path,
    *,
    out: str | Path | None = None,
    root: str | Path = "runs",
    address: str | None = None,
    cpus: int | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> SweepResult:
    """Validate the sweep (every value against the base spec), run its trials on Ray (this
    process's session, an embedded one, or the cluster at `address`), write the sweep folder.
    With `resume`, continue the interrupted sweep at `out` (see `pknet.sweeps.progress`)."""
    loaded = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
    target = Path(out) if out is not None else default_sweep_dir(Path(root), loaded)
    with OutputFolder(target, SWEEP_OUTPUT, overwrite=overwrite) as folder:
        work = open_work(folder.target, loaded.file, resume=resume, overwrite=overwrite)
        outer: list[OuterFold] = []
        with ray_session(address, cpus):
            if loaded.settings.selection == "nested":
                outer = run_nested(loaded, work, work / TUNE_DIR)
            else:
                records = run_trials(loaded, work / TRIALS_DIR, work / TUNE_DIR / "search")
        move_results(work, folder.staging, (TRIALS_DIR, FOLDS_DIR, OUTER_DIR))
        if outer:
            records = [r for o in outer for r in o.trials]
            best = most_chosen(outer)
            table = pd.concat([trials_table(loaded, o.trials, o.fold) for o in outer])
        else:
            best = best_trial(loaded, records)
            table = trials_table(loaded, records)
        with folder.writing() as staging:
            _write_summary(loaded, staging, folder.target, table, best, outer)
        return SweepResult(folder.commit(), records, best, outer)


def _write_summary(
    sweep: Sweep,
    staging: Path,
    target: Path,
    table: pd.DataFrame,
    best: TrialRecord,
    outer: list[OuterFold],
) -> None:
    """The files beside the trials: the sweep file, trials.csv, best.yaml (its paths relative
    to `target`), nested.csv, the figures and report.md."""
    settings = sweep.settings
    (staging / SWEEP_FILE).write_bytes(sweep.file.read_bytes())
    table.to_csv(staging / TRIALS_FILE, index=False)
    (staging / BEST_FILE).write_text(best_spec(sweep, best, target), encoding="utf-8")
    if outer:
        nested_table(sweep, outer).to_csv(staging / NESTED_FILE, index=False)
    parameters = search_parameters(settings)
    figures = write_figures(
        table, parameters, settings.metric, settings.mode, staging / FIGURES_DIR
    )
    shown = [path.relative_to(staging).as_posix() for path in figures]
    text = report(sweep, table, best, outer, shown)
    (staging / REPORT_FILE).write_text(text, encoding="utf-8")
