"""Gene counts of the hierarchy's size filter against brute-force reachability, and the plan
cache that lets a program plan each network-wired layer once."""

from __future__ import annotations

import numpy as np
import pytest

from pknet.compiler.model.layers import hierarchy as hierarchy_module
from pknet.compiler.model.layers.plan_cache import cached_plan
from pknet.compiler.model.layers.wiring import node_levels
from pknet.compiler.network.network import Network


def _random_hierarchy(seed: int) -> tuple[Network, np.ndarray]:
    """Genes g0..g29 annotated to terms t00..t19; a term's parents have larger numbers."""
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for g in range(30):
        for t in rng.choice(20, rng.integers(0, 4), replace=False):
            src.append(f"g{g:02d}")
            dst.append(f"t{t:02d}")
    for t in range(19):
        for p in rng.choice(np.arange(t + 1, 20), min(rng.integers(1, 3), 19 - t), replace=False):
            src.append(f"t{t:02d}")
            dst.append(f"t{p:02d}")
    net = Network.from_edges(src, dst, extra_nodes=("g99",))
    genes = np.flatnonzero([name.startswith("g") for name in net.nodes])
    return net, genes


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_gene_counts_match_brute_force_reachability(monkeypatch, seed: int, chunk: int) -> None:
    monkeypatch.setattr(hierarchy_module, "GENE_CHUNK", chunk)
    net, genes = _random_hierarchy(seed)
    is_gene = np.zeros(net.n_nodes, dtype=bool)
    is_gene[genes] = True
    used = ~is_gene[net.dst]
    src, dst = net.src[used], net.dst[used]
    counts = hierarchy_module._gene_counts(
        net.n_nodes, genes, src, dst, node_levels(net, is_gene, src, dst)
    )
    want = np.zeros(net.n_nodes, dtype=np.int64)
    for g in genes:
        want += net.reachable(np.array([g]), edge_mask=used)
    np.testing.assert_array_equal(counts, want)


def test_a_plan_is_built_once_per_network_nodes_and_options() -> None:
    net, genes = _random_hierarchy(0)
    outputs = net.index_of(["t19"])
    built = []

    def plan(**options):
        def build():
            built.append(options)
            return hierarchy_module.plan_hierarchy(net, genes, outputs, **options)

        return cached_plan(net, genes, outputs, tuple(options.items()), build)

    first = plan(min_genes=1)
    assert plan(min_genes=1) is first
    assert plan(min_genes=2) is not first
    other, _ = _random_hierarchy(0)  # an equal network, another object: planned again
    again = cached_plan(other, genes, outputs, (("min_genes", 1),), lambda: "new")
    assert again == "new" and len(built) == 2
