"""Node importances of trained KPNN models, per fold and aggregated over folds.

- `bias`: each node's bias (mean over its units), as Fortelny & Bock read them.
- `gradient_x_input`: mean over held-out samples of |d score / d h_v · h_v| for every node
  (inputs included), where `score` is the model's predicted probability (binary), the
  probability of the sample's class (multiclass) or the prediction (regression). With
  several units per node, h_v is the mean of its units.
- `node_weights`: KPNN's perturbation importance — the mean absolute change of the score over
  held-out samples when a hidden node's output is switched off (gate 0).
- `activation_auc`: NetworkVI's activation importance — the held-out ROC-AUC of a logistic
  regression on each node's activations (see `activation_importance`).

Large nodes (many genes under a term, many parents of a KPNN node) collect large gradient x input
and knock-out values whatever their biology; `importance_table` adds a degree-normalised column
for those methods (see `degree_expectation`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from pknet.compiler.model.layers import NetworkLayer
from pknet.compiler.model.model import Model
from pknet.runtime.activation_importance import activation_auc

KNOCKOUT_BUDGET_BYTES = 256 * 2**20  # activations held at once by the knock-out batches
BUFFERS_PER_KNOCKOUT = 4  # activation buffers a knocked-out forward pass keeps alive
DEGREE_NORMALIZED = ("gradient_x_input", "node_weights")
"""Methods whose values are magnitudes that grow with fan-in; `bias` is signed and
`activation_auc` (an AUC) does not scale with node size, so neither is normalised."""


def knockout_chunk(n_samples: int, n_slots: int) -> int:
    """How many nodes to knock out per vmapped batch so activations fit the memory budget."""
    per_node = max(n_samples * n_slots * 4 * BUFFERS_PER_KNOCKOUT, 1)
    return int(min(256, max(1, KNOCKOUT_BUDGET_BYTES // per_node)))


def _forward(model: Model, x: jax.Array, gate=None, offset=None) -> jax.Array:
    first, *rest = model.layers
    h = first(x, gate=gate, offset=offset)
    for layer in rest:
        h = layer(h)
    return h


def _scores(
    model: Model, predict: Callable[[jax.Array], jax.Array], x: jax.Array, y: jax.Array, gate=None
) -> jax.Array:
    """One score per sample (see module docstring)."""
    logits = jax.vmap(lambda xi: _forward(model, xi, gate=gate))(x)
    scores = predict(logits)
    return scores if scores.ndim == 1 else jnp.take_along_axis(scores, y[:, None], 1)[:, 0]


def _per_node(layer: NetworkLayer, slot_values: jax.Array) -> jax.Array:
    """Mean over each node's slots (traceable)."""
    total = jax.ops.segment_sum(slot_values, layer.unit_node, num_segments=layer.n_nodes)
    count = jax.ops.segment_sum(jnp.ones_like(slot_values), layer.unit_node, layer.n_nodes)
    return total / jnp.maximum(count, 1)


def bias_importance(layer: NetworkLayer) -> np.ndarray:
    """Per node bias, the mean over its units (NaN for inputs, which have none)."""
    values = np.full(layer.n_nodes, np.nan)
    if layer.bias is None:
        return values
    nodes = np.asarray(layer.unit_node[layer.n_inputs :])
    sums = np.bincount(nodes, weights=np.asarray(layer.bias), minlength=layer.n_nodes)
    counts = np.bincount(nodes, minlength=layer.n_nodes)
    values[counts > 0] = sums[counts > 0] / counts[counts > 0]
    return values


@eqx.filter_jit
def gradient_x_input(model: Model, predict, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean over samples of |d score / d h_v · h_v| per node."""
    layer = model.layers[0]

    def one(xi: jax.Array, yi: jax.Array) -> jax.Array:
        def score(offset: jax.Array) -> jax.Array:
            out = predict(_forward(model, xi, offset=offset)[None])
            return out[0] if out.ndim == 1 else out[0, yi]

        grad = jax.grad(score)(jnp.zeros(layer.n_nodes, x.dtype))
        return jnp.abs(grad * _per_node(layer, layer.node_values(xi)))

    return jnp.mean(jax.vmap(one)(x, y), axis=0)


@eqx.filter_jit
def _knock_out(model: Model, predict, x: jax.Array, y: jax.Array, nodes: jax.Array) -> jax.Array:
    """Mean |score change| over samples when each of `nodes` is switched off."""
    n_nodes = model.layers[0].n_nodes
    base = _scores(model, predict, x, y)

    def one(node: jax.Array) -> jax.Array:
        gate = jnp.ones(n_nodes, x.dtype).at[node].set(0.0)
        return jnp.mean(jnp.abs(_scores(model, predict, x, y, gate) - base))

    return jax.vmap(one)(nodes)


def node_weights(model: Model, predict, x: jax.Array, y: jax.Array) -> np.ndarray:
    """Mean |score change| when each hidden node is switched off (NaN for inputs/outputs)."""
    layer = model.layers[0]
    output_nodes = np.unique(np.asarray(layer.unit_node[layer.output_slot]))
    input_nodes = np.asarray(layer.unit_node[: layer.n_inputs])
    hidden = np.setdiff1d(np.arange(layer.n_nodes), np.union1d(output_nodes, input_nodes))
    values = np.full(layer.n_nodes, np.nan)
    size = knockout_chunk(len(x), layer.n_slots)
    for start in range(0, len(hidden), size):
        chunk = hidden[start : start + size]
        padded = np.resize(chunk, size)  # one compiled shape for every chunk
        values[chunk] = np.asarray(_knock_out(model, predict, x, y, jnp.asarray(padded)))[
            : len(chunk)
        ]
    return values


def explain_fold(
    model: Model,
    predict,
    methods: list[str],
    train: tuple[np.ndarray, np.ndarray] | None,
    test: tuple[np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """Importances of one fold's model, per method; `train`/`test` are (x, y) of the fold
    (`train` is read by `activation_auc` only)."""
    layer = model.layers[0]
    xj, yj = jnp.asarray(test[0]), jnp.asarray(test[1])
    results = {}
    for method in methods:
        if method == "bias":
            results[method] = bias_importance(layer)
        elif method == "gradient_x_input":
            results[method] = np.asarray(gradient_x_input(model, predict, xj, yj))
        elif method == "node_weights":
            results[method] = node_weights(model, predict, xj, yj)
        else:
            results[method] = activation_auc(layer, jnp.asarray(train[0]), train[1], xj, test[1])
    return results


def explain_in_blocks(
    model: Model,
    predict,
    methods: list[str],
    rows: np.ndarray,
    read: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    size: int,
) -> dict[str, np.ndarray]:
    """`explain_fold` over the test `rows` read `size` at a time (`read(rows)` gives their x
    and y), so that the rows of data streamed from disk are never all in memory: every method
    but `activation_auc` is a mean over samples, so the blocks' values are averaged, weighted
    by their rows."""
    parts, sizes = [], []
    for start in range(0, len(rows), size):
        block = rows[start : start + size]
        parts.append(explain_fold(model, predict, methods, None, read(block)))
        sizes.append(len(block))
    if len(parts) == 1:
        return parts[0]
    return {
        method: np.average(np.stack([np.asarray(p[method]) for p in parts]), axis=0, weights=sizes)
        for method in parts[0]
    }


def mean_sd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (ddof 1) over folds (axis 0), ignoring NaN folds."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        sd = np.nanstd(values, axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
        return np.nanmean(values, axis=0), sd


def degree_expectation(values: np.ndarray, fan_in: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """The importance a node's fan-in predicts: `exp(a + b log(1 + fan_in))` per node kind.

    Within each kind, `a` and `b` are the least-squares fit of `log(value)` on
    `log(1 + fan_in)` over the nodes with a positive value (`b = 0` when their fan-ins are all
    equal). These importances are positive, heavy-tailed and grow multiplicatively with the
    number of inputs a node sums, so the trend is fitted in log space: the ratio to the
    expectation is scale-free (1: as important as a typical node of its kind and fan-in; the
    typical value is the geometric mean), and fitting the exponent `b` rather than dividing by
    the raw degree does not over-correct when importance grows slower than fan-in (`b = 0`,
    no trend, leaves the ranking within a kind unchanged). Kinds are fitted apart because
    inputs, genes, terms and copies differ in scale for reasons other than their size.
    """
    expected = np.full(len(values), np.nan)
    x_all = np.log1p(fan_in.astype(np.float64))
    for group in np.unique(kind):
        members = kind == group
        fit = members & (values > 0)
        if not fit.any():
            continue
        x, y = x_all[fit], np.log(values[fit])
        dx = x - x.mean()
        slope = (dx @ (y - y.mean())) / (dx @ dx) if dx @ dx > 0 else 0.0
        expected[members] = np.exp(y.mean() + slope * (x_all[members] - x.mean()))
    return expected


def importance_table(
    per_fold: list[dict[str, np.ndarray]],
    nodes: tuple[str, ...],
    kind: np.ndarray,
    control: list[dict[str, np.ndarray]] | None = None,
    fan_in: np.ndarray | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Long table: node, kind, method, mean, sd (over the models: folds, or seeds x folds), then
    one column per model, named by `columns` (default `fold_<k>`).

    With `fan_in` (edges into each node): `fan_in` and `normalized`, the mean divided by
    `degree_expectation` of the means, for the `DEGREE_NORMALIZED` methods (NaN for others).
    With a shuffled-prior `control`: `control_mean`, `control_sd` and `above_control` (the
    node's mean exceeds the control's mean by more than two control sds).
    """
    frames = []
    for method in per_fold[0] if per_fold else ():
        values = np.stack([fold[method] for fold in per_fold])  # (folds, nodes)
        known = ~np.all(np.isnan(values), axis=0)
        mean, sd = mean_sd(values)
        frame = pd.DataFrame(
            {
                "node": np.asarray(nodes)[known],
                "kind": kind[known],
                "method": method,
                "mean": mean[known],
                "sd": sd[known],
            }
        )
        if fan_in is not None:
            frame["fan_in"] = fan_in[known]
            normalized = np.full(len(mean), np.nan)
            if method in DEGREE_NORMALIZED:
                normalized = mean / degree_expectation(mean, fan_in, kind)
            frame["normalized"] = normalized[known]
        if control is not None:
            control_mean, control_sd = mean_sd(np.stack([fold[method] for fold in control]))
            frame["control_mean"] = control_mean[known]
            frame["control_sd"] = control_sd[known]
            frame["above_control"] = frame["mean"] > frame["control_mean"] + 2 * frame["control_sd"]
        names = columns or [f"fold_{k}" for k in range(len(values))]
        for name, row in zip(names, values, strict=True):
            frame[name] = row[known]
        frames.append(frame.sort_values(["mean", "node"], ascending=[False, True]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
