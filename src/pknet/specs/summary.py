"""One-line, human summary of a valid spec (what `pknet validate` prints)."""

from __future__ import annotations

from pknet.errors import shorten
from pknet.specs.schema import Spec

EXPRESSION_WIDTH = 60  # characters of a selector or loss shown; the line stays one line


def summarize(spec: Spec) -> str:
    """e.g. `kpnn-tcr: kpnn_1(kpnn) | prune min_edges | loss `bce` | 5-fold kfold`; a spec
    without a model (it prunes its network only) says so."""
    parts = []
    if spec.model is not None:
        parts.append(" -> ".join(f"{layer.name}({layer.kind})" for layer in spec.model.layers))
        graph = spec.model.sample_graph() or spec.model.feature_graph()
        if graph is not None:
            parts.append(f"{graph.kind} graph over {graph.over}")
    else:
        parts.append("network only (no model to run)")
    if spec.network is not None:
        inputs, outputs = (_shown(spec.network.inputs), _shown(spec.network.outputs))
        parts.append(f"inputs `{inputs}` -> outputs `{outputs}`")
    parts.append(f"prune {spec.prune.objective}" if spec.prune else "no pruning")
    if spec.model is not None and spec.loss is not None:
        split = _split_text(spec.evaluate.cv)
        parts += [f"loss `{_shown(spec.loss)}`", split, f"seed {spec.seed}"]
    return f"{spec.name}: " + " | ".join(parts)


def _split_text(cv: object) -> str:
    """e.g. `5-fold kfold`, `3 x 5-fold repeated_kfold`, `leave_one_group_out by donor`."""
    text = cv.kind  # type: ignore[attr-defined]
    if hasattr(cv, "folds"):
        text = f"{cv.folds}-fold {text}"
    if hasattr(cv, "repeats"):
        text = f"{cv.repeats} x {text}"
    if hasattr(cv, "groups"):
        text += f" by {cv.groups}"
    return text


def _shown(expression: object) -> str:
    return shorten(str(expression), EXPRESSION_WIDTH)
