"""Evaluate node selectors (`leaves & measured`, `name(TCR)`, ...) against a network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np

from pknet.compiler.network.network import Network
from pknet.errors import FileProblem, SelectorProblem, name_list
from pknet.files import MAX_TEXT_BYTES, read_capped
from pknet.specs.dsl import (
    AllNodes,
    Degree,
    Difference,
    File,
    Intersection,
    Leaves,
    Match,
    Measured,
    Name,
    Roots,
    Selector,
    Union,
)
from pknet.suggest import closest

_COMPARE = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
}


@dataclass(frozen=True)
class SelectionContext:
    """What a selector is evaluated against: the network, its measured nodes, the data columns."""

    network: Network
    measured: np.ndarray  # bool per node
    features: tuple[str, ...] = ()

    def degree(self, direction: str) -> np.ndarray:
        """Degrees without self-loops, which hygiene drops: a gene with a loop is a leaf."""
        net = self.network
        proper = net.src != net.dst
        incoming = np.bincount(net.dst[proper], minlength=net.n_nodes)
        outgoing = np.bincount(net.src[proper], minlength=net.n_nodes)
        if direction == "in":
            return incoming
        if direction == "out":
            return outgoing
        return incoming + outgoing


def select(selector: Selector, ctx: SelectionContext) -> np.ndarray:
    """A boolean mask over `ctx.network.nodes` of the nodes the selector names."""
    net = ctx.network
    match selector:
        case Leaves():
            return ctx.degree("in") == 0
        case Roots():
            return ctx.degree("out") == 0
        case Measured():
            return ctx.measured.copy()
        case AllNodes():
            return np.ones(net.n_nodes, dtype=bool)
        case Name(names=names):
            return _named(net, names, "name(...)")
        case Match(pattern=pattern):
            return np.fromiter((fnmatchcase(n, pattern) for n in net.nodes), bool, net.n_nodes)
        case File(path=path):
            return _named(net, _read_names(Path(path)), f"file {path}")
        case Degree(direction=direction, op=op, value=value):
            return _COMPARE[op](ctx.degree(direction), value)
        case Union(operands=operands):
            return _any(operands, ctx)
        case Intersection(operands=operands):
            mask = np.ones(net.n_nodes, dtype=bool)
            for operand in operands:
                mask &= select(operand, ctx)
            return mask
        case Difference(operands=(first, *rest)):
            return select(first, ctx) & ~_any(rest, ctx)
    raise TypeError(f"not a selector: {selector!r}")


def _any(selectors: Sequence[Selector], ctx: SelectionContext) -> np.ndarray:
    """The union of `selectors`, one mask at a time (a chain may hold thousands)."""
    mask = np.zeros(ctx.network.n_nodes, dtype=bool)
    for selector in selectors:
        mask |= select(selector, ctx)
    return mask


def _named(net: Network, names: tuple[str, ...] | list[str], where: str) -> np.ndarray:
    unknown = [n for n in names if not net.has_node(n)]
    if unknown:
        close = closest(unknown[0], net.nodes, n=3)
        raise SelectorProblem(
            f"{len(unknown)} name(s) in {where} are not network nodes: {name_list(unknown)}",
            f"did you mean {name_list(close)}?" if close else None,
        )
    mask = np.zeros(net.n_nodes, dtype=bool)
    mask[net.index_of(tuple(names))] = True
    return mask


def _read_names(path: Path) -> list[str]:
    try:
        text = read_capped(path, MAX_TEXT_BYTES).decode("utf-8")
    except FileProblem as exc:
        raise SelectorProblem(f"node list {path} {exc}") from None
    except OSError as exc:
        raise SelectorProblem(f"cannot read node list {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SelectorProblem(f"node list {path} is not UTF-8 text") from None
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]
