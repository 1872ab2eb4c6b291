"""report.md: a human summary of a run, with its figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pknet.compiler.model.layers import HierarchyReport, NetworkLayer
from pknet.compiler.network.summary import compile_summary
from pknet.runtime.metrics import mean_sd
from pknet.runtime.node_names import node_label

if TYPE_CHECKING:
    from pknet.runtime.run import RunOutcome

TOP = 10
MSG_FOLDED = (
    "Copy nodes (`~copy`) and feature nodes (`~input`) are folded into the term or gene they "
    "stand for: each model's value of largest magnitude among them (importances.csv keeps "
    "every node, with `folded_into`)."
)


def hierarchy_report(outcome: RunOutcome) -> HierarchyReport | None:
    """What the `hierarchy` layer's filters kept and dropped (None without such a layer)."""
    first = outcome.trained.model(0).layers[0]
    return first.report if isinstance(first, NetworkLayer) else None


def _hierarchy_line(r: HierarchyReport) -> str:
    return (
        f"{r.n_terms_kept} of {r.n_terms} terms and {r.n_genes_kept} of {r.n_genes} genes kept "
        f"({r.n_too_small} too small, {r.n_too_large} too large, {r.n_too_deep} too deep, "
        f"{r.n_unconnected} cut off); {r.n_levels} levels, {r.n_copies} copies, "
        f"{r.n_outputs} outputs ({r.n_new_outputs} new tops)"
    )


def _out_of_fold_lines(pooled: dict | None) -> list[str]:
    """The metrics of the pooled held-out predictions; per task: their mean and sd over tasks."""
    if pooled is None:
        return []
    which = f"; each the {pooled['predictions']}" if "predictions" in pooled else ""
    lines = ["", f"## Metrics (all {pooled['n']} held-out predictions pooled{which})", ""]
    if "across_tasks" not in pooled:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {name} | {v:.4f} |" for name, v in pooled["metrics"].items()]
        return lines + _per_class_lines(pooled.get("per_class"))
    lines += ["| metric | mean over tasks | sd over tasks | tasks |", "|---|---|---|---|"]
    return lines + [
        f"| {name} | {v['mean']:.4f} | {v['sd']:.4f} | {v['n']} |"
        for name, v in pooled["across_tasks"].items()
    ]


def _per_class_lines(table: dict | None) -> list[str]:
    """A multiclass run's per-class table of the pooled held-out predictions."""
    if table is None:
        return []
    lines = ["", "### Per class (one against the rest)", ""]
    lines += ["| class | precision | recall | F1 | support | ROC-AUC |", "|---" * 6 + "|"]
    return lines + [
        f"| {name} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | "
        f"{v['support']} | {v['roc_auc']:.4f} |"
        for name, v in table.items()
    ]


def _pooled_table(doc: dict, unit: str, heading: str) -> list[str]:
    """Each `unit`'s (seed's, repeat's) pooled held-out metrics from `doc["per_<unit>"]` and
    their mean ± sd; nothing when the run has one."""
    if f"per_{unit}" not in doc:
        return []
    summary = doc[f"{unit}_summary"]
    names = list(summary)
    lines = ["", heading, ""]
    lines += [f"| {unit} | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for part in doc[f"per_{unit}"]:
        values = part["out_of_fold"]["metrics"]
        lines.append(
            f"| {part[unit]} | "
            + " | ".join(f"{values.get(n, math.nan):.4f}" for n in names)
            + " |"
        )
    return [*lines, "| mean ± sd | " + " | ".join(mean_sd(summary[n]) for n in names) + " |"]


def _fold_metric_lines(doc: dict, over: str) -> list[str]:
    """Mean ± sd of each metric over the held-out folds; one value when there is one fold."""
    summary = doc["summary"]
    if len(doc["folds"]) == 1:
        lines = ["", "## Metrics (the held-out samples)", "", "| metric | value |", "|---|---|"]
        return lines + [f"| {name} | {v['mean']:.4f} |" for name, v in summary.items()]
    lines = [
        "",
        f"## Metrics (held-out folds{over})",
        "",
        "| metric | mean | sd |",
        "|---|---|---|",
    ]
    return lines + [f"| {name} | {v['mean']:.4f} | {v['sd']:.4f} |" for name, v in summary.items()]


def _trained_together(outcome: RunOutcome) -> str:
    """How the models were trained: K folds, or N seeds x K folds (in chunks of seeds)."""
    folds = len(outcome.splits)
    if outcome.seeds == 1:
        return f"{folds} folds trained together"
    chunks = outcome.seed_chunks
    together = (
        "all trained together"
        if len(chunks) == 1
        else f"in {len(chunks)} chunks of up to {len(chunks[0])} seeds (memory)"
    )
    return f"{outcome.seeds} seeds x {folds} folds = {outcome.seeds * folds} models, {together}"


def _graph_lines(outcome: RunOutcome) -> list[str]:
    """How many edges each fold's sample graph has (none without `model.graph`)."""
    if outcome.graphs is None:
        return []
    kind = outcome.plan.output.sample_graph_kind
    edges = ", ".join(f"{n:,}" for n in outcome.graphs.n_edges)
    return [
        "",
        f"Graph: `{kind}` over samples, built per fold; edges per fold {edges}. Only each "
        "fold's training rows send edges and enter the loss; validation and test rows receive.",
    ]


def _top_lines(top: pd.DataFrame) -> list[str]:
    """Per method, the `TOP` nodes by mean importance, named `name (id)`; a term with copies
    (a gene with its feature node) is one row, with the number of nodes folded into it."""
    folds = bool((top["members"] > 1).any())
    lines = ["", MSG_FOLDED] if folds else []
    header = f"| node | kind |{' nodes folded |' if folds else ''} mean | sd |"
    for method, rows in top.groupby("method", sort=False):
        rows = rows.head(TOP)
        lines += ["", f"## Top {len(rows)} nodes by {method}", "", header]
        lines.append("|---" * header.count(" | ") + "|---|")
        for r in rows.itertuples():
            folded = f" {r.members} |" if folds else ""
            node = node_label(r.node, r.name).replace("|", "/")
            lines.append(f"| {node} | {r.kind} |{folded} {r.mean:.4g} | {r.sd:.2g} |")
    return lines


def write_report(outcome: RunOutcome, path: Path, figures: list[Path]) -> None:
    """Write the markdown report of a run next to its figures."""
    plan, dataset = outcome.plan, outcome.dataset
    doc = outcome.metrics_document()
    lines = [f"# {plan.name}", "", f"`{plan.output.summary}`", ""]
    if plan.output.description:
        lines += [plan.output.description, ""]
    lines += [
        "## Data",
        "",
        f"{len(dataset.samples)} samples x {outcome.program.n_features} inputs; task "
        f"{dataset.task}; classes {', '.join(dataset.classes) or '-'}; "
        f"{dataset.join.n_data} samples read, {dataset.join.n_joined} labelled, "
        f"{dataset.join.n_used} used.",
        "",
    ]
    if outcome.network is not None:
        lines += ["## Network", ""]
        lines += [f"- **{label}**: {text}" for label, text in compile_summary(outcome.network)]
        hierarchy = hierarchy_report(outcome)
        if hierarchy is not None:
            lines.append(f"- **hierarchy**: {_hierarchy_line(hierarchy)}")
        lines.append("")
    seeds, seed_column = outcome.seeds, "seed | " if outcome.seeds > 1 else ""
    lines += [
        "## Model and training",
        "",
        f"{outcome.program.n_parameters} trainable parameters; loss `{plan.output.loss}`; "
        f"{_trained_together(outcome)}.",
        *_graph_lines(outcome),
        "",
        f"| {seed_column}fold | train | test | epochs run | best epoch |",
        "|---" * (5 + (seeds > 1)) + "|",
    ]
    lines += [
        f"| {str(f['seed']) + ' | ' if seeds > 1 else ''}{f['fold']} | {f['n_train']} | "
        f"{f['n_test']} | {f['epochs_run']} | {f['best_epoch']} |"
        for f in doc["folds"]
    ]
    lines += _fold_metric_lines(doc, f" x {seeds} seeds" if seeds > 1 else "")
    lines += _out_of_fold_lines(doc.get("out_of_fold"))
    lines += _pooled_table(doc, "repeat", "## Metrics per repeat (its pooled held-out predictions)")
    if "seeds" in doc:
        heading = f"## Metrics per seed (its pooled held-out predictions; {doc['seeds']} seeds)"
        lines += _pooled_table(doc, "seed", heading)
    lines += _top_lines(outcome.top_importances)
    lines += ["", "## Figures", ""]
    lines += [f"![{p.stem}](figures/{p.name})" for p in figures]
    timings = ", ".join(f"{k} {v:.2f}" for k, v in outcome.timings.items())
    lines += ["", f"Timings (s): {timings}.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
