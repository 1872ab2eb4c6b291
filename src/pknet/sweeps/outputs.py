"""What a sweep writes beside its trials: `trials.csv`, `best.yaml` and `report.md`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pknet.errors import Problem, SweepError
from pknet.specs import load_spec, render_spec
from pknet.specs.sweep import Sweep
from pknet.sweeps.tuner import TrialRecord

if TYPE_CHECKING:
    from pknet.sweeps.nested import OuterFold

TRIALS_DIR = "trials"
TRIALS_FILE = "trials.csv"
BEST_FILE = "best.yaml"
REPORT_FILE = "report.md"
NESTED_FILE = "nested.csv"  # nested selection: each outer fold's choice and score
STATUS_OK, STATUS_ERROR = "ok", "error"


def table_cell(value: Any) -> Any:
    """A parameter value as a table cell: numbers and text as they are, anything else as JSON."""
    return value if isinstance(value, str | int | float | bool) else json.dumps(value)


def trials_table(
    sweep: Sweep, records: Sequence[TrialRecord], fold: int | None = None
) -> pd.DataFrame:
    """One row per trial: its folder, status, parameter values, the metric's mean and sd over
    folds, its wall time in seconds and its error (nested selection: first, its outer fold)."""
    metric = sweep.settings.metric
    rows = [
        {
            **({} if fold is None else {"fold": fold}),
            "trial": r.name,
            "status": STATUS_OK if r.ok else STATUS_ERROR,
            **{path: table_cell(value) for path, value in r.values.items()},
            f"{metric}_mean": r.mean,
            f"{metric}_sd": r.sd,
            "seconds": r.seconds,
            "error": r.error or "",
        }
        for r in records
    ]
    return pd.DataFrame(rows)


def best_trial(sweep: Sweep, records: Sequence[TrialRecord]) -> TrialRecord:
    """The successful trial with the best mean (the first one on ties); a `SweepError` when
    every trial failed."""
    succeeded = [r for r in records if r.ok]
    if not succeeded:
        shown = [Problem(f"trial {r.name} failed: {r.error}", hint=None) for r in records[:3]]
        raise SweepError(
            [Problem(f"all {len(records)} trials failed; the first errors follow"), *shown]
        )
    sign = 1.0 if sweep.settings.mode == "max" else -1.0
    return max(succeeded, key=lambda r: sign * r.mean)


def best_spec(sweep: Sweep, best: TrialRecord, folder: Path) -> str:
    """The base spec with the best trial's values, every default filled, paths relative to
    `folder` (where `best.yaml` lands): `pknet run best.yaml` repeats that trial."""
    return render_spec(load_spec(sweep.base_file, best.values), base_dir=folder)


def nested_table(sweep: Sweep, outer: Sequence[OuterFold]) -> pd.DataFrame:
    """One row per outer fold: the trial its search chose, that trial's values and inner score,
    and the score of those values on the fold's test samples (`outer_<metric>`)."""
    metric = sweep.settings.metric
    rows = [
        {
            "fold": o.fold,
            "trial": o.chosen.name,
            **{path: table_cell(value) for path, value in o.chosen.values.items()},
            f"inner_{metric}_mean": o.chosen.mean,
            f"inner_{metric}_sd": o.chosen.sd,
            f"outer_{metric}": o.score,
            "outer_run": o.run,
        }
        for o in outer
    ]
    return pd.DataFrame(rows)


def most_chosen(outer: Sequence[OuterFold]) -> TrialRecord:
    """The chosen trial whose values most outer folds chose (the earliest fold's on ties)."""
    keys = [json.dumps(o.chosen.values, sort_keys=True) for o in outer]
    return outer[max(range(len(keys)), key=lambda i: (keys.count(keys[i]), -i))].chosen


def report(
    sweep: Sweep,
    table: pd.DataFrame,
    best: TrialRecord,
    outer: Sequence[OuterFold] = (),
    figures: Sequence[str] = (),
) -> str:
    """`report.md`: the settings; the best trial, or (nested) the outer score and the choice of
    each outer fold; the figures (paths relative to the sweep folder); every trial ranked."""
    settings = sweep.settings
    metric = settings.metric
    ok = table[table["status"] == STATUS_OK].sort_values(
        [*(["fold"] if outer else []), f"{metric}_mean"],
        ascending=[*([True] if outer else []), settings.mode == "min"],
        kind="stable",
    )
    failed = table[table["status"] != STATUS_OK]
    lines = [
        f"# Sweep over {sweep.base.name}",
        "",
        f"- sweep file: `{sweep.file}`",
        f"- base spec: `{sweep.base_file}`",
        f"- search: {settings.search}, {len(table)} trials ({len(failed)} failed), "
        f"seed {settings.seed}",
        f"- metric: {metric} ({settings.mode}), mean ± sd over the base spec's CV folds",
        f"- selection: {settings.selection}",
        "",
        *(_nested_section(sweep, outer, best) if outer else _best_section(metric, best)),
        *(["## Figures", "", *[f"![{Path(f).stem}]({f})" for f in figures], ""] if figures else []),
        "## Trials",
        "",
        markdown_table(ok.drop(columns=["status", "error"])),
    ]
    if len(failed):
        lines += ["", "## Failed trials", "", markdown_table(failed[["trial", "error"]])]
    return "\n".join(lines) + "\n"


def _best_section(metric: str, best: TrialRecord) -> list[str]:
    return [
        "## Best trial",
        "",
        f"`{best.name}`: {metric} {best.mean:.4f} ± {best.sd:.4f}",
        "",
        *[f"- `{path}`: `{json.dumps(value)}`" for path, value in best.values.items()],
        "",
        f"`{BEST_FILE}` is the base spec with these values; `pknet run {BEST_FILE}` repeats "
        "the trial.",
        "",
        "This score is optimistic: the same folds chose the parameters and scored them "
        "(`selection: cv`; `selection: nested` scores the search on samples it never saw).",
        "",
    ]


def _nested_section(sweep: Sweep, outer: Sequence[OuterFold], best: TrialRecord) -> list[str]:
    metric = sweep.settings.metric
    scores = np.array([o.score for o in outer])
    sd = float(scores.std(ddof=1)) if len(scores) > 1 else math.nan
    times = sum(o.chosen.values == best.values for o in outer)
    return [
        "## Nested selection",
        "",
        f"Outer score: {metric} {scores.mean():.4f} ± {sd:.4f} over {len(outer)} outer folds. "
        "Each outer fold's search ran on its training samples only (their own CV: the inner "
        "folds); the parameters it chose were then scored on the fold's test samples, which "
        "the search never saw. This estimates how well the whole search generalises.",
        "",
        markdown_table(nested_table(sweep, outer)),
        "",
        f"`{BEST_FILE}` is the base spec with the parameters {times} of {len(outer)} outer "
        "folds chose; `outer/<run>` holds the run of each choice on every sample, whose fold k "
        "is the outer score of fold k. Trials of fold k are in `folds/<k>/trials`.",
        "",
    ]


def markdown_table(frame: pd.DataFrame) -> str:
    """`frame` as a Markdown table (floats to 4 significant digits)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = [
        "| "
        + " | ".join(
            f"{v:.4g}" if isinstance(v, float) else str(v).replace("\n", " ").replace("|", "\\|")
            for v in row
        )
        + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])
