"""Short human lines describing a compiled network (what `pknet compile` prints)."""

from __future__ import annotations

from pknet.compiler.network.compile_network import CompiledNetwork


def compile_summary(compiled: CompiledNetwork) -> list[tuple[str, str]]:
    """(label, text) pairs: network, mapping, prune, result."""
    hygiene, mapping = compiled.hygiene, compiled.mapping
    lines = [
        (
            "network",
            f"{hygiene.n_nodes_before} nodes, {hygiene.n_edges_before} edges -> "
            f"{hygiene.n_nodes_after} nodes, {hygiene.n_edges_after} edges on input->output paths"
            f" ({len(hygiene.self_loops)} self-loops, {hygiene.n_duplicates_merged} duplicates, "
            f"{'acyclic' if hygiene.acyclic else 'has cycles'})",
        ),
        (
            "mapping",
            f"{mapping.n_inputs_measured} of {mapping.n_inputs} inputs measured; "
            f"{mapping.n_features} data columns, {len(mapping.unused_features)} unused",
        ),
    ]
    if compiled.pruning is not None:
        r = compiled.pruning.report
        chosen = " by auto" if r.formulation_requested == "auto" else ""
        lines.append(
            (
                "prune",
                f"{r.formulation}{chosen} ({r.objective_kind}): {r.status}, "
                f"objective {r.objective:g}, bound {r.best_bound:g}, gap {r.gap:.2%}, "
                f"{r.seconds:.2f} s; "
                f"MILP {r.size_after.rows} rows x {r.size_after.cols} cols after presolve "
                f"({r.size_before.rows} x {r.size_before.cols} before)",
            )
        )
    net = compiled.network
    lines.append(
        (
            "result",
            f"{net.n_nodes} nodes, {net.n_edges} edges, "
            f"{len(compiled.inputs)} inputs, {len(compiled.outputs)} outputs",
        )
    )
    return lines
