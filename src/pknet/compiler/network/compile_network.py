"""Spec -> resolved, cleaned and (optionally) pruned network, with a report of every step."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING

import numpy as np

from pknet.compiler.located import spec_problem
from pknet.compiler.network.features import FeatureMatch, FeatureRule, match_features
from pknet.compiler.network.hygiene import HygieneReport, clean_network
from pknet.compiler.network.names import read_names
from pknet.compiler.network.network import Network
from pknet.compiler.network.read_network import read_network
from pknet.compiler.network.selectors import SelectionContext, select
from pknet.errors import (
    EXCERPT_WIDTH,
    CompileError,
    InfeasiblePruningError,
    PknetError,
    Problem,
    SelectorProblem,
    name_list,
    shorten,
)
from pknet.io.data import FeatureNaming, read_feature_names
from pknet.io.networks import load_mapping, load_mapping_lists
from pknet.io.weights import load_weights
from pknet.specs import Spec
from pknet.specs.dsl import Measured, Selector, walk
from pknet.specs.schema import NetworkSpec
from pknet.specs.yaml_tree import PathKey

if TYPE_CHECKING:  # cvxpy loads only when a spec has a `prune` section
    from pknet.compiler.network.prune import PruneResult

EXAMPLES = 10
TERM_SOURCES = ("gmt", "obo", "gaf", "annotation_table", "hierarchy", "drugcell")  # of terms
MEASURED_SHARE = 0.1  # fewer candidate inputs measured than this share: a warning


@dataclass(frozen=True)
class MappingReport:
    """How network nodes met data columns."""

    n_features: int
    n_nodes_measured: int
    n_inputs: int
    n_inputs_measured: int
    unmatched_inputs: tuple[str, ...]
    unused_features: tuple[str, ...]

    def to_dict(self, names: bool = False) -> dict[str, object]:
        limit = None if names else EXAMPLES
        return {
            "n_features": self.n_features,
            "n_nodes_measured": self.n_nodes_measured,
            "n_inputs": self.n_inputs,
            "n_inputs_measured": self.n_inputs_measured,
            "n_unmatched_inputs": len(self.unmatched_inputs),
            "unmatched_inputs": list(self.unmatched_inputs[:limit]),
            "n_unused_features": len(self.unused_features),
            "unused_features": list(self.unused_features[:limit]),
        }


@dataclass(frozen=True)
class CompiledNetwork:
    """The network a model is built on, its inputs/outputs, and how it was obtained.

    `inputs`/`outputs` index `network.nodes`; `input_columns[i]` is the data column of input `i`
    (-1 when the input is not measured), `output_columns` likewise for the outputs (the targets
    of `data.target.features: network_outputs`); `unknown_terms_dropped` counts the annotations
    to terms no `obo` source defines that `unknown_terms: drop` left out; `measured[v]` tells
    whether node `v`'s name is a data column; `hidden_kind` names the nodes that are neither
    inputs nor outputs: `term` when every source is an ontology or gene-set file, else `hidden`;
    `names` maps node ids to the readable names `network.names` gives them (nodes without one
    are absent).
    """

    network: Network
    inputs: np.ndarray
    outputs: np.ndarray
    input_columns: np.ndarray
    output_columns: np.ndarray
    feature_names: tuple[str, ...]
    mapping: MappingReport
    hygiene: HygieneReport
    pruning: PruneResult | None
    seconds: float
    measured: np.ndarray
    hidden_kind: str
    report_names: bool = False
    unknown_terms_dropped: int = 0
    names: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def report(self) -> dict[str, object]:
        """JSON-ready report: mapping, hygiene, selection and pruning figures."""
        names = self.report_names
        return {
            "nodes": self.network.n_nodes,
            "edges": self.network.n_edges,
            "inputs": len(self.inputs),
            "outputs": len(self.outputs),
            "unknown_terms_dropped": self.unknown_terms_dropped,
            "mapping": self.mapping.to_dict(names),
            "hygiene": self.hygiene.to_dict(names),
            "prune": self.pruning.report.to_dict() if self.pruning else None,
            "seconds": round(self.seconds, 4),
        }


def _select(spec: Spec, path: PathKey, selector: Selector, ctx: SelectionContext) -> np.ndarray:
    try:
        mask = select(selector, ctx)
    except SelectorProblem as exc:
        raise CompileError(spec_problem(spec, path, exc.message, exc.hint)) from None
    if not mask.any():
        raise CompileError(
            spec_problem(
                spec,
                path,
                f"selector `{shorten(str(selector), EXCERPT_WIDTH)}` matches no node",
                _why_empty(selector, ctx),
            )
        )
    return np.flatnonzero(mask)


def _warn_few_measured(
    raw: Network, inputs: np.ndarray, match: FeatureMatch, features: list[str]
) -> None:
    """Warn when none, or fewer than `MEASURED_SHARE`, of the input nodes are measured: the
    data's names and the network's then rarely meet (Ensembl ids against symbols, a missing
    `strip_suffix`), and a run would stop at the unmeasured inputs."""
    n, measured = len(inputs), int(match.measured[inputs].sum())
    if n and measured < MEASURED_SHARE * n:
        warnings.warn(
            f"{measured} of the {n} input nodes ({measured / n:.0%}) are measured: few node "
            f"names meet a data column (inputs look like "
            f"{name_list([raw.nodes[i] for i in inputs], 3)}; columns like "
            f"{name_list(features, 3)}); check `network.features`, "
            "`data.expression.var_names`, or select `leaves & measured`",
            RuntimeWarning,
            stacklevel=3,
        )


def _why_empty(selector: Selector, ctx: SelectionContext) -> str:
    net = ctx.network
    hint = (
        f"the network has {net.n_nodes} nodes: {int((net.in_degree() == 0).sum())} leaves, "
        f"{int((net.out_degree() == 0).sum())} roots, {int(ctx.measured.sum())} measured"
    )
    if any(isinstance(node, Measured) for node in walk(selector)):
        hint += (
            "; `measured` nodes are those whose name, after `network.features`, is a data "
            f"column (nodes look like {name_list(net.nodes, 3)}; "
            f"columns like {name_list(ctx.features, 3)})"
        )
    return hint


def _without_targets(
    spec: Spec, inputs: np.ndarray, outputs: np.ndarray, match: FeatureMatch, features: list[str]
) -> np.ndarray:
    """The input nodes less those whose data column is a target (`data.target.features`)."""
    wanted = spec.data.target.features if spec.data is not None else None
    if wanted is None:
        return inputs
    if wanted == "network_outputs":
        targets = match.column[outputs]
    else:
        position = {name: i for i, name in enumerate(features)}
        targets = np.array([position.get(name, -1) for name in wanted], dtype=np.int64)
    kept = inputs[~np.isin(match.column[inputs], targets[targets >= 0])]
    if not len(kept):
        raise CompileError(
            spec_problem(
                spec,
                ("network", "inputs"),
                f"all {len(inputs)} input nodes are targets (`data.target.features`), so no "
                "input is left to predict them from",
                "select input nodes whose columns are not targets",
            )
        )
    return kept


def _feature_rule(network: NetworkSpec, table: dict[str, str] | None) -> FeatureRule:
    features = network.features
    return FeatureRule(features.strip_prefix, features.strip_suffix, features.case, table)


Combined = tuple[tuple[str, tuple[str, ...]], ...]


def mapping_table(spec: Spec) -> tuple[dict[str, str] | None, Combined]:
    """`network.features.table`: its renames (node name -> feature name), and under
    `duplicates: sum|mean` the features that combine several (a node mapped to `A` and `B`
    reads feature `A+B`, which the data gains: see `feature_naming`)."""
    table = spec.network.features.table if spec.network is not None else None
    if table is None:
        return None, ()
    columns = {"from_col": table.from_, "to_col": table.to}
    if table.duplicates in ("error", "first"):
        return load_mapping(table.file, **columns, duplicates=table.duplicates), ()
    lists = load_mapping_lists(table.file, **columns)
    renames = {name: "+".join(features) for name, features in lists.items()}
    combined = tuple(("+".join(f), tuple(f)) for f in lists.values() if len(f) > 1)
    return renames, tuple(dict.fromkeys(combined))


def feature_naming(spec: Spec, combined: Combined | None = None) -> FeatureNaming:
    """How the data's features are named (`data.expression.var_names`, `duplicates`), with a
    feature per set of features the mapping table gives one node (`combined`; default: read
    the table): the sum or mean of their columns, named `A+B`."""
    expression = spec.data.expression
    if combined is None:
        combined = mapping_table(spec)[1]
    how = spec.network.features.table.duplicates if combined else "sum"  # type: ignore[union-attr]
    return FeatureNaming(expression.var_names, expression.duplicates, combined, how)


def _mapping_report(
    net: Network, inputs: np.ndarray, match: FeatureMatch, features: list[str]
) -> MappingReport:
    names = np.asarray(net.nodes, dtype=object)
    measured_inputs = match.measured[inputs]
    return MappingReport(
        n_features=len(features),
        n_nodes_measured=int(match.measured.sum()),
        n_inputs=len(inputs),
        n_inputs_measured=int(measured_inputs.sum()),
        unmatched_inputs=tuple(names[inputs[~measured_inputs]].tolist()),
        unused_features=tuple(features[i] for i in match.unmatched_columns()),
    )


def _check_connected(spec: Spec, hygiene: HygieneReport) -> None:
    if spec.network is None or spec.network.unconnected == "drop":
        return
    problems = []
    for names, path, what in (
        (hygiene.isolated_inputs, ("network", "inputs"), "input(s) reach no output"),
        (hygiene.unreached_outputs, ("network", "outputs"), "output(s) are reached by no input"),
    ):
        if names:
            shown = ", ".join(names[:EXAMPLES]) + (" ..." if len(names) > EXAMPLES else "")
            problems.append(
                spec_problem(
                    spec,
                    path,
                    f"{len(names)} {what}: {shown}",
                    "set `network.unconnected: drop` to leave them out",
                )
            )
    if problems:
        raise InfeasiblePruningError(problems)


def _weights(spec: Spec, net: Network) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-edge or per-node weights from `prune.weights` (1 where the file has none); a file
    that names none of the network's edges (nodes) is an error, not all-default weights."""
    weights = spec.prune.weights if spec.prune is not None else None
    if weights is None:
        return None, None
    table = load_weights(weights.file, on=weights.on, column=weights.column)
    names = np.asarray(net.nodes, dtype=object)
    keys = (
        [(n,) for n in net.nodes]
        if weights.on == "nodes"
        else list(zip(names[net.src], names[net.dst], strict=True))
    )
    if table and not any(key in table for key in keys):
        example = " -> ".join(next(iter(table)))
        raise CompileError(
            spec_problem(
                spec,
                ("prune", "weights"),
                f"none of the {len(table)} weights in {Path(weights.file).name} names "
                f"{'a node' if weights.on == 'nodes' else 'an edge'} of the network (e.g. "
                f"`{example}`)",
                "check `on` (edges or nodes) and that the names match the network's",
            )
        )
    values = np.array([table.get(key, 1.0) for key in keys])
    return (None, values) if weights.on == "nodes" else (values, None)


def _prune(
    spec: Spec,
    net: Network,
    inputs: np.ndarray,
    outputs: np.ndarray,
    ctx: SelectionContext,
) -> PruneResult:
    assert spec.prune is not None
    required = np.zeros(0, dtype=np.int64)
    if spec.prune.required is not None:
        wanted = _select(spec, ("prune", "required"), spec.prune.required, ctx)
        wanted_names = [ctx.network.nodes[i] for i in wanted]
        off_path = [n for n in wanted_names if not net.has_node(n)]
        if off_path:
            raise InfeasiblePruningError(
                spec_problem(
                    spec,
                    ("prune", "required"),
                    f"{len(off_path)} required node(s) lie on no input -> output path: "
                    + ", ".join(off_path[:EXAMPLES]),
                )
            )
        required = net.index_of(wanted_names)
    edge_weights, node_weights = _weights(spec, net)
    from pknet.compiler.network.prune import prune

    solver = spec.prune.solver
    try:
        return prune(
            net,
            inputs,
            outputs,
            objective=spec.prune.objective,
            required=required,
            edge_weights=edge_weights,
            node_weights=node_weights,
            formulation=spec.prune.formulation,
            time_limit_s=solver.time_limit_s,
            mip_rel_gap=solver.mip_rel_gap,
            threads=solver.threads,
            verbose=solver.verbose,
        )
    except PknetError as exc:
        raise type(exc)([_in_prune_section(spec, p) for p in exc.problems]) from None


def _in_prune_section(spec: Spec, problem: Problem) -> Problem:
    """Locate a pruning problem at its spec field (`prune.required`, ...) when it has none."""
    if problem.location is not None:
        return problem
    path = tuple(problem.path.split(".")) if problem.path else ()
    path = path if path and path[0] == "prune" else ("prune", *path)
    located = spec_problem(spec, path, problem.message, problem.hint)
    return dataclasses.replace(located, path=".".join(map(str, path)))


def compile_network(spec: Spec) -> CompiledNetwork:
    """Read the network and data feature names, select inputs/outputs, clean and prune."""
    if spec.network is None:
        raise CompileError(spec_problem(spec, (), "the spec has no `network` section to compile"))
    start = perf_counter()
    raw, unknown_terms_dropped = read_network(spec.network)
    table, combined = mapping_table(spec)
    features: list[str] = []  # without data, no node is measured
    if spec.data is not None:
        expression = spec.data.expression
        features = read_feature_names(
            Path(expression.file),
            expression.format,
            expression.layer,
            expression.orientation,
            feature_naming(spec, combined),
        )
    match = match_features(raw.nodes, features, _feature_rule(spec.network, table))
    ctx = SelectionContext(raw, match.measured, tuple(features))
    inputs = _select(spec, ("network", "inputs"), spec.network.inputs, ctx)
    outputs = _select(spec, ("network", "outputs"), spec.network.outputs, ctx)
    inputs = _without_targets(spec, inputs, outputs, match, features)
    mapping = _mapping_report(raw, inputs, match, features)
    if spec.data is not None:  # a network-only spec measures nothing, by design
        _warn_few_measured(raw, inputs, match, features)

    cleaned, hygiene = clean_network(raw, inputs, outputs)
    _check_connected(spec, hygiene)
    input_names = [raw.nodes[i] for i in inputs if cleaned.has_node(raw.nodes[i])]
    output_names = [raw.nodes[i] for i in outputs if cleaned.has_node(raw.nodes[i])]
    if not input_names or not output_names:
        raise InfeasiblePruningError(
            spec_problem(
                spec,
                ("network", "inputs"),
                f"none of the {len(inputs)} inputs reaches any of the {len(outputs)} outputs",
                "check the edge direction (`from` is where information comes from)",
            )
        )
    net = cleaned
    pruning = None
    if spec.prune is not None:
        pruning = _prune(
            spec, cleaned, cleaned.index_of(input_names), cleaned.index_of(output_names), ctx
        )
        net = pruning.network
    final_inputs = net.index_of([n for n in input_names if net.has_node(n)])
    final_outputs = net.index_of([n for n in output_names if net.has_node(n)])
    columns = match.column[raw.index_of([net.nodes[i] for i in final_inputs])]
    return CompiledNetwork(
        network=net,
        inputs=final_inputs,
        outputs=final_outputs,
        input_columns=columns,
        output_columns=match.column[raw.index_of([net.nodes[i] for i in final_outputs])],
        feature_names=tuple(features),
        mapping=mapping,
        hygiene=hygiene,
        pruning=pruning,
        seconds=perf_counter() - start,
        measured=match.measured[raw.index_of(list(net.nodes))],
        hidden_kind="term" if all(s.kind in TERM_SOURCES for s in spec.network.edges) else "hidden",
        report_names=spec.network.report_names,
        unknown_terms_dropped=unknown_terms_dropped,
        names=read_names(spec, net.nodes),
    )
