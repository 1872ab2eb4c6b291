"""The pknet DSL: node selectors and loss expressions, parsed by lark grammars into frozen trees.

    parse_selector("(leaves | roots) - name(TCR)")  # Difference((Union((Leaves(), Roots())), ...))
    parse_loss("bce + 1e-3 * l1(bias)")  # Sum((Term("bce"), Product((Number(0.001), ...))), ("+",))

`str()` of any tree is its canonical text, which parses back to an equal tree. A chain of one
operator is one node, and parsing refuses nesting deeper than `parse.MAX_DEPTH`, so that walking
a parsed tree never runs out of stack. Mistakes raise
`DslError` (a ValueError) with the column where they start. Loss terms are listed once, in
`terms.LOSS_TERMS`.
"""

from pknet.errors import DslError
from pknet.specs.dsl.ast import (
    AllNodes,
    Degree,
    Difference,
    File,
    Intersection,
    Leaves,
    LossExpr,
    Match,
    Measured,
    Name,
    Neg,
    Number,
    Product,
    Roots,
    Selector,
    Sum,
    Term,
    Union,
    linear_terms,
    loss_groups,
    map_selector_files,
    selector_files,
    walk,
)
from pknet.specs.dsl.parse import parse_loss, parse_selector, selector_from_names
from pknet.specs.dsl.terms import DATA_TERMS, LOSS_TERMS, VAE_TERMS, TermSignature

__all__ = [
    "DATA_TERMS",
    "LOSS_TERMS",
    "VAE_TERMS",
    "AllNodes",
    "Degree",
    "Difference",
    "DslError",
    "File",
    "Intersection",
    "Leaves",
    "LossExpr",
    "Match",
    "Measured",
    "Name",
    "Neg",
    "Number",
    "Product",
    "Roots",
    "Selector",
    "Sum",
    "Term",
    "TermSignature",
    "Union",
    "linear_terms",
    "loss_groups",
    "map_selector_files",
    "parse_loss",
    "parse_selector",
    "selector_files",
    "selector_from_names",
    "walk",
]
