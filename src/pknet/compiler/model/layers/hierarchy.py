"""The `hierarchy` layer (P-NET, BINN, DrugCell, NetworkVI): features -> genes -> terms -> roots.

The network holds gene -> term and child term -> parent term edges (the direction the loaders
give). It is compiled in three stages:

1. `layered_hierarchy` (NumPy/SciPy only) filters the terms and rewrites the network into a
   layered one. Every input gene `g` gets a feature node `g~input` that reads the data column of
   `g` and feeds only `g` (P-NET's diagonal layer), so genes are hidden nodes; the gene -> term
   and term -> term edges among the kept nodes follow. Levels are longest paths: feature nodes
   0, genes 1, a term whose longest path from a gene has `l` edges at `l + 1`. With
   `padding: copy` an edge that would skip levels enters a copy of its target instead: `T~copy1`
   sits one level below `T` and feeds it, `T~copy2` two levels below feeds `T~copy1`, ..., so
   every connection spans one level (P-NET and BINN extend shallow terms down to the genes the
   same way; copying the target keeps one chain per term, not one per gene). With
   `padding: none` connections may skip levels (DrugCell).
2. `wiring.plan_network` lays out that network's units and connections, with one unit per
   feature node, `units_per_gene` per gene, `units_per_term` per term and copy, and one per
   output in the last layer.
3. `plan_hierarchy` gives that plan the layered network's node kinds and the filters' report;
   `NetworkLayer` evaluates it as it does a `kpnn` plan.

Filters, in this order ("genes" are the layer's inputs: the measured genes):

- size: a term is kept when `min_genes <= n <= max_genes`, `n` being the number of genes from
  which the term is reachable in the given network (`n` never shrinks going up, so `min_genes`
  cuts the bottom of the hierarchy and `max_genes` its top);
- depth: a term's level is taken over the size-kept network; terms above `max_depth` are
  dropped;
- tops: a kept term that loses a parent to `max_genes` or `max_depth` and keeps no parent
  becomes an output beside the kept `outputs` (the tops of the cut hierarchy);
- connection: a dropped term takes its edges with it (its children are not rewired to its
  parents), so genes and terms left without a path to an output are dropped as well. A dropped
  gene keeps its feature node, which then feeds nothing.

`HierarchyReport` counts what each step kept, dropped and added.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from pknet.compiler.model.layers.wiring import WiringPlan, node_levels, plan_network
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem

FEATURE_SUFFIX = "~input"
COPY_SUFFIX = "~copy"
MAX_NAMED = 5
GENE_CHUNK = 4096  # genes per pass of `_gene_counts` (its bit rows: n_nodes x 512 bytes)


@dataclass(frozen=True)
class HierarchyReport:
    """What `layered_hierarchy` kept, dropped and added (counts)."""

    n_genes: int  # the layer's inputs (measured genes)
    n_genes_kept: int  # genes on a path to an output
    n_terms: int  # non-input nodes of the given network
    n_terms_kept: int
    n_too_small: int  # terms with fewer than `min_genes` genes
    n_too_large: int  # terms with more than `max_genes` genes
    n_too_deep: int  # terms above `max_depth`
    n_unconnected: int  # terms passing the filters but left without a path to an output
    n_outputs: int
    n_new_outputs: int  # outputs that are tops left by `max_genes` or `max_depth`
    n_copies: int  # copy nodes added by `padding: copy`
    n_levels: int  # term levels (genes and feature nodes not counted)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class LayeredHierarchy:
    """The layered network a `hierarchy` layer evaluates, and how it was obtained.

    `inputs[i]` is the feature node of the given `inputs[i]` (so data column `i` feeds it);
    `node_kind` is `input`, `gene`, `term` or `copy` for every node of `network`.
    """

    network: Network
    inputs: np.ndarray
    outputs: np.ndarray
    node_kind: np.ndarray
    report: HierarchyReport


def _names(names: np.ndarray, nodes: np.ndarray) -> str:
    shown = ", ".join(f"`{names[i]}`" for i in nodes[:MAX_NAMED])
    more = len(nodes) - MAX_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def _check_acyclic(names: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
    n = len(names)
    graph = sp.csr_array((np.ones(len(src), np.int8), (src, dst)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    size = np.bincount(label, minlength=1)
    in_cycle = np.flatnonzero(size[label] > 1)
    if len(in_cycle):
        raise CompileError(
            Problem(
                f"the hierarchy has a cycle through {_names(names, in_cycle)}",
                hint="edges must run gene -> term -> parent term; check `from`/`to` of each "
                "network source, or use a `kpnn` layer with a `prune:` section",
            )
        )


def _gene_counts(
    n: int, genes: np.ndarray, src: np.ndarray, dst: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """How many of `genes` reach each node along the edges (a gene counts itself).

    Each node holds the set of genes below it as a row of bits; level by level (`level`: every
    edge rises), a node ORs in its children's rows. Genes go `GENE_CHUNK` at a time.
    """
    order = np.lexsort((dst, level[dst]))
    src, dst = src[order], dst[order]
    bounds = np.searchsorted(level[dst], np.arange(int(level.max(initial=0)) + 2))
    counts = np.zeros(n, dtype=np.int64)
    for first in range(0, len(genes), GENE_CHUNK):
        chunk = genes[first : first + GENE_CHUNK]
        bits = np.zeros((n, (len(chunk) + 63) // 64), dtype=np.uint64)
        column = np.arange(len(chunk), dtype=np.uint64)
        bits[chunk, column // 64] = np.uint64(1) << (column % 64)
        for lo, hi in itertools.pairwise(bounds):
            if lo == hi:
                continue
            child = dst[lo:hi]
            starts = np.flatnonzero(np.r_[True, child[1:] != child[:-1]])
            bits[child[starts]] |= np.bitwise_or.reduceat(bits[src[lo:hi]], starts, axis=0)
        counts += np.bitwise_count(bits).sum(axis=1, dtype=np.int64)
    return counts


def _nothing_left(
    n_terms: int,
    counts: dict[str, int],
    largest: int,
    min_genes: int,
    max_genes: int | None,
    max_depth: int | None,
) -> CompileError:
    why = ", ".join(f"{count} {what}" for what, count in counts.items() if count)
    hints = []
    if min_genes > 1:
        hints.append(f"lower `min_genes` (now {min_genes}; the largest term has {largest} genes)")
    if max_genes is not None:
        hints.append(f"raise `max_genes` (now {max_genes}) or leave it out")
    if max_depth is not None:
        hints.append(f"raise `max_depth` (now {max_depth})")
    hints.append("check that `network.outputs` are terms above the genes of `network.inputs`")
    return CompileError(
        Problem(
            f"the hierarchy filters leave no term on a path from a gene to an output "
            f"(of {n_terms} terms: {why or 'none kept'})",
            hint="; ".join(hints),
        )
    )


def _copy_edges(
    names: np.ndarray, src: np.ndarray, dst: np.ndarray, level: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges with every span made one level by copies of the targets; also the copy names.

    An edge spanning `s > 1` levels enters `target~copy{s-1}`; each target `v` gets copies
    `v~copy1 .. v~copyK` (K = its longest span - 1) chained `v~copyK -> ... -> v~copy1 -> v`.
    """
    span = level[dst] - level[src]
    target = names[dst].copy()
    far = span > 1
    target[far] = [
        f"{v}{COPY_SUFFIX}{s - 1}" for v, s in zip(names[dst[far]], span[far], strict=True)
    ]
    extra = np.zeros(len(names), dtype=np.int64)
    np.maximum.at(extra, dst, span - 1)
    copied = np.flatnonzero(extra)
    copy_names = [f"{names[v]}{COPY_SUFFIX}{k}" for v in copied for k in range(1, extra[v] + 1)]
    above = [
        names[v] if k == 1 else f"{names[v]}{COPY_SUFFIX}{k - 1}"
        for v in copied
        for k in range(1, extra[v] + 1)
    ]
    source = np.concatenate([names[src], np.asarray(copy_names, dtype=object)])
    target = np.concatenate([target, np.asarray(above, dtype=object)])
    return source, target, np.asarray(copy_names, dtype=object)


def layered_hierarchy(
    network: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    min_genes: int = 1,
    max_genes: int | None = None,
    max_depth: int | None = None,
    padding: Literal["copy", "none"] = "copy",
) -> LayeredHierarchy:
    """Filter the terms of `network` and lay it out in levels (see the module docstring).

    `inputs` (genes) and `outputs` (terms) index `network.nodes`; edges into genes are ignored.
    Raises `CompileError` when the network has a cycle, a gene is an output, or the filters
    leave no term on a gene -> output path.
    """
    inputs = np.asarray(inputs, dtype=np.int64).reshape(-1)
    outputs = np.asarray(outputs, dtype=np.int64).reshape(-1)
    names = np.asarray(network.nodes, dtype=object)
    n = network.n_nodes
    is_gene = np.zeros(n, dtype=bool)
    is_gene[inputs] = True
    is_term = ~is_gene
    if is_gene[outputs].any():
        raise CompileError(
            Problem(
                f"genes selected as outputs: {_names(names, outputs[is_gene[outputs]])}",
                hint="the outputs of a hierarchy layer are terms, e.g. `outputs: roots` with "
                "`inputs: leaves & measured`",
            )
        )
    used = is_term[network.dst]
    src, dst = network.src[used], network.dst[used]
    _check_acyclic(names, src, dst)

    # size: genes below each term in the given network
    n_genes = _gene_counts(n, inputs, src, dst, node_levels(network, is_gene, src, dst))
    too_small = is_term & (n_genes < min_genes)
    too_large = is_term & (n_genes > (np.inf if max_genes is None else max_genes))
    keep = ~(too_small | too_large)
    is_output = np.zeros(n, dtype=bool)
    is_output[outputs] = True
    too_deep = np.zeros(n, dtype=bool)
    if max_depth is not None:  # depth: levels over the size-kept network
        inner = keep[src] & keep[dst]
        too_deep = keep & (node_levels(network, is_gene, src[inner], dst[inner]) > max_depth)
        keep &= ~too_deep
    # tops: a kept term that loses a parent to `max_genes` or `max_depth` and keeps none
    cut = too_large | too_deep
    lost_parent = np.zeros(n, dtype=bool)
    lost_parent[src[keep[src] & cut[dst]]] = True
    kept_parent = np.zeros(n, dtype=bool)
    kept_parent[src[keep[src] & keep[dst]]] = True
    new_output = keep & is_term & lost_parent & ~kept_parent & ~is_output
    is_output = keep & (is_output | new_output)

    # connection: dropped terms take their edges; keep what lies on a gene -> output path
    edge_kept = used & keep[network.src] & keep[network.dst]
    on_path = network.reachable(inputs, edge_mask=edge_kept) & network.reachable(
        np.flatnonzero(is_output), reverse=True, edge_mask=edge_kept
    )
    kept_terms = on_path & is_term
    counts = {
        f"with fewer than {min_genes} genes": int(too_small.sum()),
        f"with more than {max_genes} genes": int(too_large.sum()),
        f"above level {max_depth}": int(too_deep.sum()),
        "cut off from every output": int((keep & is_term & ~on_path).sum()),
    }
    if not kept_terms.any():
        largest = int(n_genes[is_term].max(initial=0))
        raise _nothing_left(int(is_term.sum()), counts, largest, min_genes, max_genes, max_depth)

    # layout: feature -> gene edges, then the kept edges (through copies when padding)
    edge_kept &= on_path[network.src] & on_path[network.dst]
    src, dst = network.src[edge_kept], network.dst[edge_kept]
    level = node_levels(network, is_gene, src, dst)
    genes = inputs[on_path[inputs]]
    features = np.asarray([f"{g}{FEATURE_SUFFIX}" for g in names[inputs]], dtype=object)
    if padding == "copy":
        source, target, copies = _copy_edges(names, src, dst, level)
    else:
        source, target, copies = names[src], names[dst], np.zeros(0, dtype=object)
    clash = sorted((set(features) | set(copies)) & set(network.nodes))
    if clash:
        raise CompileError(
            Problem(
                f"network nodes are named like the hierarchy layer's own nodes: "
                f"{', '.join(f'`{c}`' for c in clash[:MAX_NAMED])}",
                hint=f"rename them: `{FEATURE_SUFFIX}` and `{COPY_SUFFIX}<k>` suffixes are "
                "reserved for feature and copy nodes",
            )
        )
    layered = Network.from_edges(
        np.concatenate([features[on_path[inputs]], source]),
        np.concatenate([names[genes], target]),
        extra_nodes=tuple(features),
    )
    kind = {**dict.fromkeys(features, "input"), **dict.fromkeys(names[genes], "gene")}
    kind |= dict.fromkeys(copies, "copy")
    node_kind = np.asarray([kind.get(name, "term") for name in layered.nodes], dtype=object)
    output_nodes = np.concatenate([outputs[on_path[outputs]], np.flatnonzero(new_output & on_path)])
    report = HierarchyReport(
        n_genes=len(inputs),
        n_genes_kept=len(genes),
        n_terms=int(is_term.sum()),
        n_terms_kept=int(kept_terms.sum()),
        n_too_small=int(too_small.sum()),
        n_too_large=int(too_large.sum()),
        n_too_deep=int(too_deep.sum()),
        n_unconnected=counts["cut off from every output"],
        n_outputs=len(output_nodes),
        n_new_outputs=int((new_output & on_path).sum()),
        n_copies=len(copies),
        n_levels=int(level[kept_terms].max()),
    )
    return LayeredHierarchy(
        network=layered,
        inputs=layered.index_of(tuple(features)),
        outputs=layered.index_of(tuple(names[output_nodes])),
        node_kind=node_kind,
        report=report,
    )


def plan_hierarchy(
    network: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    min_genes: int = 1,
    max_genes: int | None = None,
    max_depth: int | None = None,
    padding: Literal["copy", "none"] = "copy",
    units_per_gene: int = 1,
    units_per_term: int = 1,
    last: bool = True,
) -> WiringPlan:
    """The plan of a `hierarchy` layer: `wiring.plan_network` over `layered_hierarchy`.

    Feature nodes have one unit, genes `units_per_gene`, terms and copies `units_per_term`, and
    outputs one in the last layer. Dropout may zero gene, term and copy units, never the data or
    the outputs. Nodes are of kind `input`, `gene`, `term` or `copy`; the plan carries the
    filters' report.
    """
    layered = layered_hierarchy(
        network,
        inputs,
        outputs,
        min_genes=min_genes,
        max_genes=max_genes,
        max_depth=max_depth,
        padding=padding,
    )
    units = np.where(layered.node_kind == "gene", units_per_gene, units_per_term)
    plan = plan_network(
        layered.network,
        layered.inputs,
        layered.outputs,
        units_per_node=units,
        last=last,
        dropout_rule="uniform",
    )
    return replace(
        plan,
        droppable=plan.droppable & (np.arange(plan.n_slots) >= plan.n_inputs),
        node_kinds=tuple(layered.node_kind.tolist()),
        report=layered.report,
    )
