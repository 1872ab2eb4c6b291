"""The `diffusion` layer: random walk with restart (RWR) features from a fixed network.

Convention: `A[i, j]` is the weight of the edge `j -> i` (column = source, as in
`pknet.compiler.model.graphs.adjacency`), `D = diag(column sums of A)` the weighted out-degrees and
`W = A D^-1` the column-stochastic walk. A walker restarts at its start distribution `x0` with
probability `1 - alpha` and otherwise steps along `W`; its stationary distribution is `F x0` with

    F = (1 - alpha) (I - alpha W)^-1.

Dangling nodes (no out-edges, a zero column of `A`) get a zero column in `W` (`D^-1` read as 0
there): a walker that reaches one is lost, so a column of `F` sums to 1 exactly when no dangling
node is reachable from its source, and to less otherwise.

`rwr_operator` factorises `I - alpha W` once per alpha (sparse LU, `scipy.sparse.linalg.splu`)
and solves only for the requested source columns, keeping only the requested target rows: a
large network never yields a dense n x n inverse unless every source and target is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from jaxtyping import Array, Float, PRNGKeyArray, UInt

from pknet.compiler.model.graphs import adjacency, graph_from_edges, symmetrize
from pknet.compiler.model.layers.fixed import FixedLayer
from pknet.compiler.model.layers.registry import Wiring, builds
from pknet.compiler.network.network import Network
from pknet.errors import CompileError, Problem
from pknet.specs.schema.model import DiffusionLayerSpec

SOLVE_CHUNK = 512  # source columns solved at once: bounds the dense n x chunk right-hand side


def _check_alphas(alphas: float | Sequence[float]) -> tuple[float, ...]:
    alphas = (alphas,) if np.isscalar(alphas) else tuple(alphas)
    if not alphas:
        raise ValueError("give at least one restart alpha")
    for alpha in alphas:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"a restart alpha lies strictly between 0 and 1; got {alpha}")
    return tuple(float(a) for a in alphas)


def _check_nodes(nodes: Sequence[int] | np.ndarray | None, n: int, label: str) -> np.ndarray:
    if nodes is None:
        return np.arange(n)
    nodes = np.asarray(nodes, dtype=np.int64).reshape(-1)
    if np.any((nodes < 0) | (nodes >= n)):
        raise ValueError(f"{label} must be node indices in [0, {n})")
    return nodes


def walk_matrix(adjacency: scipy.sparse.sparray | scipy.sparse.spmatrix) -> scipy.sparse.csc_array:
    """`W = A D^-1` (columns divided by out-degrees; dangling columns stay zero)."""
    a = scipy.sparse.csc_array(adjacency, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"the adjacency must be a square matrix; got shape {a.shape}")
    if a.nnz and (a.data.min() < 0 or not np.all(np.isfinite(a.data))):
        raise ValueError("edge weights must be finite and non-negative for a random walk")
    out_degree = np.asarray(a.sum(axis=0)).reshape(-1)
    inverse = np.divide(1.0, out_degree, out=np.zeros_like(out_degree), where=out_degree > 0)
    return a @ scipy.sparse.diags_array(inverse, format="csc")


def rwr_operator(
    adjacency: scipy.sparse.sparray | scipy.sparse.spmatrix,
    alphas: float | Sequence[float],
    *,
    sources: Sequence[int] | np.ndarray | None = None,
    targets: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """`F[targets][:, sources]` for each alpha, stacked alpha by alpha along the rows.

    Shape `(n_alphas * n_targets, n_sources)`; sources and targets default to every node.
    """
    alphas = _check_alphas(alphas)
    walk = walk_matrix(adjacency)
    n = walk.shape[0]
    sources = _check_nodes(sources, n, "sources")
    targets = _check_nodes(targets, n, "targets")
    identity = scipy.sparse.eye_array(n, format="csc")
    blocks = []
    for alpha in alphas:
        lu = scipy.sparse.linalg.splu(identity - alpha * walk)
        block = np.empty((len(targets), len(sources)))
        for start in range(0, len(sources), SOLVE_CHUNK):
            chunk = sources[start : start + SOLVE_CHUNK]
            rhs = np.zeros((n, len(chunk)))
            rhs[chunk, np.arange(len(chunk))] = 1.0
            block[:, start : start + len(chunk)] = lu.solve(rhs)[targets]
        blocks.append((1.0 - alpha) * block)
    return np.concatenate(blocks, axis=0)


def _bits(dtype: np.dtype) -> np.dtype:
    return np.dtype(f"uint{np.dtype(dtype).itemsize * 8}")


class DiffusionLayer(FixedLayer):
    """`x0 (n_sources,) -> F x0 (n_alphas * n_targets,)`: RWR scores for each alpha in turn.

    No trainable parameters. The operator is stored as its raw bits (an unsigned integer array)
    so that `eqx.is_inexact_array`, the filter that selects trained leaves, leaves it out: no
    optimiser update, no weight decay, no per-fold copy. It stays an array argument under jit
    rather than a constant baked into the compiled program.
    """

    operator_bits: UInt[Array, "n_out n_sources"]
    alphas: tuple[float, ...] = eqx.field(static=True)
    name: str = eqx.field(static=True)

    def __init__(
        self,
        adjacency: scipy.sparse.sparray | scipy.sparse.spmatrix,
        alphas: float | Sequence[float],
        *,
        sources: Sequence[int] | np.ndarray | None = None,
        targets: Sequence[int] | np.ndarray | None = None,
        name: str = "diffusion",
    ):
        self.alphas = _check_alphas(alphas)
        self.name = name
        dtype = jax.dtypes.canonicalize_dtype(np.float64)  # float32 unless x64 is enabled
        operator = rwr_operator(adjacency, self.alphas, sources=sources, targets=targets)
        self.operator_bits = jnp.asarray(operator.astype(dtype).view(_bits(dtype)))

    @property
    def operator(self) -> Float[Array, "n_out n_sources"]:
        """The fixed operator `F` (alpha blocks stacked along the rows)."""
        bits = self.operator_bits
        return jax.lax.bitcast_convert_type(bits, jnp.dtype(f"float{bits.dtype.itemsize * 8}"))

    @property
    def n_sources(self) -> int:
        return self.operator_bits.shape[-1]

    @property
    def n_targets(self) -> int:
        return self.operator_bits.shape[-2] // len(self.alphas)

    @property
    def n_outputs(self) -> int:
        return self.operator_bits.shape[-2]

    @property
    def n_parameters(self) -> int:
        """Trainable scalars: none, the operator is fixed."""
        return 0

    def __call__(
        self, x0: Float[Array, " n_sources"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " n_out"]:
        """`key` is accepted like other layers' (for dropout) and unused: nothing is dropped."""
        operator = self.operator
        return operator @ jnp.asarray(x0, operator.dtype)


def network_diffusion(
    network: Network,
    inputs: Sequence[int] | np.ndarray,
    outputs: Sequence[int] | np.ndarray,
    *,
    alpha: float | Sequence[float],
    symmetric: bool = True,
    name: str = "diffusion",
) -> DiffusionLayer:
    """The `diffusion` layer over `network`'s weighted edges (both ways when `symmetric`):
    restarts at the `inputs` nodes, values read at the `outputs` nodes."""
    bad = ~np.isfinite(network.weight) | (network.weight < 0)
    if bad.any():
        raise CompileError(
            Problem(
                "a random walk needs finite, non-negative edge weights; the network has "
                f"{int(bad.sum())} edge(s) with others",
                hint="drop the `weight` column of the network, or give weights >= 0",
            )
        )
    if network.n_edges and not np.any(network.weight):
        raise CompileError(
            Problem(
                "every edge weight of the network is 0, so the walk can never step and the "
                "layer would only scale its inputs by (1 - alpha)",
                hint="check the `weight` column, or drop it to weigh every edge 1",
            )
        )
    graph = graph_from_edges(network.n_nodes, network.src, network.dst, network.weight)
    if symmetric:
        graph = symmetrize(graph)
    return DiffusionLayer(adjacency(graph), alpha, sources=inputs, targets=outputs, name=name)


@builds(DiffusionLayerSpec)
def build_diffusion(
    spec: DiffusionLayerSpec, width: int, wiring: Wiring, *, last: bool, key: PRNGKeyArray
) -> tuple[eqx.Module, int]:
    layer = network_diffusion(*wiring, alpha=spec.alpha, symmetric=spec.symmetric, name=spec.name)
    return layer, layer.n_outputs
