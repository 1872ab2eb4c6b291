"""The DSL: selectors and loss expressions parse to the right trees, render canonically, and
report mistakes at the right column."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pknet.specs.dsl import (
    LOSS_TERMS,
    AllNodes,
    Degree,
    Difference,
    DslError,
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
    parse_loss,
    parse_selector,
    selector_files,
    selector_from_names,
    walk,
)
from pknet.specs.dsl.ast import BARE_ARGUMENT
from pknet.specs.dsl.parse import MAX_DEPTH, MAX_LENGTH, _selector_parser

BCE = Term("bce")
L1_BIAS = Term("l1", ("bias",))
L2_BIAS = Term("l2", ("bias",))

# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("leaves & measured", Intersection((Leaves(), Measured()))),
        ("roots", Roots()),
        ("all", AllNodes()),
        ("name(TCR)", Name(("TCR",))),
        ('match("*_gene")', Match("*_gene")),
        ("match(*_gene)", Match("*_gene")),
        ("file(inputs.txt)", File("inputs.txt")),
        ("file('data/my inputs.txt')", File("data/my inputs.txt")),
        ("(leaves | roots) - name(X)", Difference((Union((Leaves(), Roots())), Name(("X",))))),
        ("degree(in > 2)", Degree("in", ">", 2)),
        ("degree(total>=10)", Degree("total", ">=", 10)),
        ("name(R-HSA-109581)", Name(("R-HSA-109581",))),
        ("name(GO:0008150)", Name(("GO:0008150",))),
        ('name(A, B, "C D")', Name(("A", "B", "C D"))),
        ("name( leaves , it's )", Name(("leaves", "it's"))),
        (r'name("say \"hi\"", "C:\data")', Name(('say "hi"', r"C:\data"))),
        ("name(a+b/c@d*e.f)", Name(("a+b/c@d*e.f",))),
        ("leaves-name(R-HSA-1)", Difference((Leaves(), Name(("R-HSA-1",))))),
        ("leaves\n  & measured", Intersection((Leaves(), Measured()))),
    ],
)
def test_selector_parses(text: str, tree: Selector) -> None:
    assert parse_selector(text) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("leaves | roots & measured", Union((Leaves(), Intersection((Roots(), Measured()))))),
        ("leaves & roots - measured", Intersection((Leaves(), Difference((Roots(), Measured()))))),
        ("leaves - roots - measured", Difference((Leaves(), Roots(), Measured()))),
        ("leaves | roots | all", Union((Leaves(), Roots(), AllNodes()))),
        ("leaves & roots | all", Union((Intersection((Leaves(), Roots())), AllNodes()))),
        ("leaves - (roots - all)", Difference((Leaves(), Difference((Roots(), AllNodes()))))),
    ],
)
def test_selector_precedence(text: str, tree: Selector) -> None:
    assert parse_selector(text) == tree
    assert str(tree) == text


def test_selector_columns() -> None:
    tree = parse_selector("(leaves | roots) - name(X)")
    assert isinstance(tree, Difference)
    assert (tree.column, *(o.column for o in tree.operands)) == (1, 2, 20)


def test_canonical_selector_text() -> None:
    text = "(leaves|roots)-name( 'X' ,\"a b\")&match('*')"
    assert str(parse_selector(text)) == '(leaves | roots) - name(X, "a b") & match(*)'


@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        ("leaves & & roots", 10, "unexpected `&`; expected a selector such as `leaves`", None),
        ("leaves &", 9, "expression ends too early; expected a selector", None),
        ("leaves)", 7, "unexpected `)`; expected `|`, `&`, `-` or the end", None),
        ("(leaves", 1, "`(` is never closed", "expected `|`, `&`, `-` or `)` at the end"),
        ("leaves - (roots | name(A", 23, "`(` is never closed", "expected `)` or `,` at the end"),
        ("(leaves &", 10, "expression ends too early; expected a selector", None),
        ("leafs", 1, "unknown selector `leafs`", "did you mean `leaves`? known: all, leaves"),
        ("roots | leafs & x", 9, "unknown selector `leafs`", "did you mean `leaves`"),
        ("TCR", 1, "unknown selector `TCR`", "name(TCR)"),
        ("names(TCR)", 1, "unknown function `names`", "did you mean `name`?"),
        ("name(T cell)", 8, "unexpected `cell`; expected `)` or `,`", 'name("T cell")'),
        ("name()", 6, "unexpected `)`; expected a name", None),
        ('name("")', 6, "an empty name", None),
        ('name("open)', 6, 'unexpected `"`', None),
        ("degree(inn > 2)", 8, "unknown degree direction `inn`", "did you mean `in`?"),
        ("degree(in > -1)", 13, "unexpected `-`; expected a whole number", None),
        ("degree(in 2)", 11, "unexpected `2`; expected `>`, `>=`", None),
        ('"leaves"', 1, 'unexpected `"leaves"`', "quotes are only for"),
        ("leaves $ roots", 8, "unexpected `$`", None),
        ("", 1, "empty expression", None),
        ("   ", 1, "empty expression", None),
    ],
)
def test_selector_errors(text: str, column: int, message: str, hint: str | None) -> None:
    with pytest.raises(DslError) as caught:
        parse_selector(text)
    error = caught.value
    assert error.message.startswith(message)
    assert error.column == column
    assert error.expression == text
    if hint is None:
        assert error.hint is None
    else:
        assert error.hint is not None and hint in error.hint


def test_unknown_selector_lists_known_ones() -> None:
    with pytest.raises(DslError) as caught:
        parse_selector("leafs")
    assert caught.value.hint == (
        "did you mean `leaves`? known: all, leaves, measured, roots, "
        "name(...), match(...), file(...), degree(...)"
    )


def test_error_text_points_at_the_column() -> None:
    with pytest.raises(DslError) as caught:
        parse_selector("leaves & & roots")
    error = caught.value
    assert isinstance(error, ValueError)
    assert str(error).splitlines()[1:] == ["  leaves & & roots", "           ^"]
    with pytest.raises(DslError) as caught:
        parse_selector("leaves\n  & & roots")
    assert (caught.value.column, caught.value.excerpt()) == (12, "    & & roots\n      ^")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.column, copy.expression, copy.hint) == (
        error.message,
        error.column,
        error.expression,
        error.hint,
    )


def test_selector_from_names() -> None:
    assert selector_from_names(["TCR", "R-HSA-1"]) == Name(("TCR", "R-HSA-1"))
    with pytest.raises(ValueError, match="empty list"):
        selector_from_names([])
    with pytest.raises(ValueError, match="non-empty strings"):
        selector_from_names(["A", ""])
    with pytest.raises(TypeError):
        selector_from_names("TCR")


def test_selector_files() -> None:
    tree = parse_selector("file(a.txt) | (file('b c.txt') - file(a.txt)) & leaves")
    assert selector_files(tree) == ("a.txt", "b c.txt")
    assert selector_files(parse_selector("leaves")) == ()
    mapped = map_selector_files(tree, lambda path: f"/data/{path}")
    assert selector_files(mapped) == ("/data/a.txt", "/data/b c.txt")
    assert str(mapped) == 'file(/data/a.txt) | file("/data/b c.txt") - file(/data/a.txt) & leaves'


def test_grammar_and_renderer_agree_on_bare_arguments() -> None:
    assert _selector_parser().get_terminal("BARE").pattern.value == BARE_ARGUMENT.pattern


_NAME_CHARS = st.characters(
    codec="utf-8", categories=("L", "N", "P", "S", "Zs"), include_characters="\\\"' \t"
)
_SPECIAL_NAMES = st.sampled_from(
    ["R-HSA-109581", "GO:0008150", "leaves", "name", "in", "a b", "x,y", "(p)", 'q"t', "it's",
     "'lead", "back\\", "*_gene", "β-catenin", "TCR"]
)  # fmt: skip
_NAMES = st.one_of(_SPECIAL_NAMES, st.text(_NAME_CHARS, min_size=1, max_size=10))

_SELECTOR_ATOMS = st.one_of(
    st.sampled_from([Leaves(), Roots(), Measured(), AllNodes()]),
    st.builds(Name, st.lists(_NAMES, min_size=1, max_size=3).map(tuple)),
    st.builds(Match, _NAMES),
    st.builds(File, _NAMES),
    st.builds(
        Degree,
        st.sampled_from(["in", "out", "total"]),
        st.sampled_from([">", ">=", "<", "<=", "=="]),
        st.integers(0, 10**6),
    ),
)
SELECTORS = st.recursive(
    _SELECTOR_ATOMS,
    lambda inner: st.one_of(
        st.builds(Union, st.tuples(inner, inner)),
        st.builds(Intersection, st.tuples(inner, inner)),
        st.builds(Difference, st.tuples(inner, inner)),
    ),
    max_leaves=8,
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SELECTORS)
def test_selector_round_trip(tree: Selector) -> None:
    text = str(tree)
    parsed = parse_selector(text)
    assert parsed == tree
    assert str(parsed) == text


# ---------------------------------------------------------------------------------------------
# Loss expressions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            "bce + 1e-3 * l1(bias) + 1e-2 * l2(bias)",
            Sum(
                (BCE, Product((Number(0.001), L1_BIAS)), Product((Number(0.01), L2_BIAS))),
                ("+", "+"),
            ),
        ),
        (
            "mse + 0.01 * trace_norm(shared, mode=task)",
            Sum(
                (
                    Term("mse"),
                    Product((Number(0.01), Term("trace_norm", ("shared",), (("mode", "task"),)))),
                ),
                ("+",),
            ),
        ),
        ("trace_norm(shared)", Term("trace_norm", ("shared",), (("mode", "task"),))),
        ("trace_norm(w, last)", Term("trace_norm", ("w",), (("mode", "last"),))),
        ("trace_norm(kpnn_1, mode=all)", Term("trace_norm", ("kpnn_1",), (("mode", "all"),))),
        ("-bce", Neg(BCE)),
        ("2 * -ce", Product((Number(2.0), Neg(Term("ce"))))),
        ("-2 * kl", Product((Neg(Number(2.0)), Term("kl")))),
        (
            "bce - 1.0E-2 * l2(dense_2)",
            Sum((BCE, Product((Number(0.01), Term("l2", ("dense_2",))))), ("-",)),
        ),
        ("bce * .5", Product((BCE, Number(0.5)))),
        ("(1 + 2) * bce", Product((Sum((Number(1.0), Number(2.0)), ("+",)), BCE))),
        (
            "bce + 2 * 3 * mse",
            Sum((BCE, Product((Number(2.0), Number(3.0), Term("mse")))), ("+",)),
        ),
    ],
)
def test_loss_parses(text: str, tree: LossExpr) -> None:
    assert parse_loss(text) == tree


def test_canonical_loss_text() -> None:
    text = "bce+1e-3*(l1(bias)-l2( bias ))+0.01*trace_norm(shared)"
    expected = "bce + 0.001 * (l1(bias) - l2(bias)) + 0.01 * trace_norm(shared, mode=task)"
    assert str(parse_loss(text)) == expected
    assert str(parse_loss("-(2 * bce) - -mse")) == "-(2.0 * bce) - -mse"
    assert str(parse_loss("2 * (3 * bce)")) == "2.0 * (3.0 * bce)"


def test_loss_columns() -> None:
    tree = parse_loss("bce + 0.5 * l1(bias)")
    assert isinstance(tree, Sum) and isinstance(tree.operands[1], Product)
    product = tree.operands[1]
    assert (tree.column, product.column, product.operands[1].column) == (1, 7, 13)


@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        ("bce + * l1(bias)", 7, "unexpected `*`; expected a number, a term", None),
        ("bce +", 6, "expression ends too early; expected a number, a term", None),
        ("bce * mse", 1, "a product needs a number on one side", "0.01 * l2(weights)"),
        ("kl + 2 * (bce + kl) * l1(w)", 6, "a product needs a number on one side", None),
        ("l3(bias)", 1, "unknown loss term `l3`", "known: bce, ce, mse, kl, l1(group), l2(group)"),
        ("bce + bcee", 7, "unknown loss term `bcee`", "did you mean `bce`?"),
        ("tracenorm(w)", 1, "unknown loss term `tracenorm`", "did you mean `trace_norm`?"),
        (
            "trace_norm(w, mode=foo)",
            20,
            "`mode` of `trace_norm` is one of task, all, last, not `foo`",
            "trace_norm(group, mode=task|all|last)",
        ),
        ("trace_norm(w, modes=all)", 15, "`trace_norm` has no option `modes`", None),
        ("trace_norm(w, mode=all, mode=all)", 25, "option `mode` given twice", None),
        ("trace_norm(w, all, mode=all)", 20, "option `mode` given twice", None),
        ("trace_norm(w, mode=all, x)", 25, "a positional argument after a keyword", None),
        ("trace_norm(mode=all)", 1, "wrong number of arguments to `trace_norm`", None),
        ("l1", 1, "wrong number of arguments to `l1`", "l1(group)"),
        ("l1(a, b)", 1, "wrong number of arguments to `l1`", "l1(group)"),
        ("bce(x)", 1, "`bce` takes no arguments", "write `bce`"),
        ("2", 1, "a loss needs at least one term", "known terms: bce"),
        (" 2 * (3 - 1)", 2, "a loss needs at least one term", None),
        ("bce + 2", 7, "a number on its own is not a loss term", None),
        ("-1 + bce", 1, "a number on its own is not a loss term", None),
        ("1e999 * bce", 1, "number `1e999` is too large", None),
        ("bce / 2", 5, "unexpected `/`; expected `+`, `-`, `*`, `(` or the end", None),
        ("(bce", 1, "`(` is never closed", "expected `+`, `-`, `*`, `(` or `)` at the end"),
        ("2 * (bce + l1(w)", 5, "`(` is never closed", None),
        ("(2 * (bce)", 1, "`(` is never closed", None),
        ('l1("w")', 4, 'unexpected `"`', "quotes are only for"),
        ("", 1, "empty expression", None),
    ],
)
def test_loss_errors(text: str, column: int, message: str, hint: str | None) -> None:
    with pytest.raises(DslError) as caught:
        parse_loss(text)
    error = caught.value
    assert error.message.startswith(message), error.message
    assert error.column == column
    assert error.expression == text
    if hint is not None:
        assert error.hint is not None and hint in error.hint


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("bce", ((1.0, BCE),)),
        ("bce + 1e-3 * (l1(bias) - l2(bias))", ((1.0, BCE), (0.001, L1_BIAS), (-0.001, L2_BIAS))),
        ("-(bce - 2 * bce) * 0.5", ((-0.5, BCE), (1.0, BCE))),
        ("(1 + 2) * -(3 - 5) * kl", ((6.0, Term("kl")),)),
        ("l1(bias) * 2 * 3", ((6.0, L1_BIAS),)),
    ],
)
def test_linear_terms(text: str, expanded: tuple[tuple[float, Term], ...]) -> None:
    assert linear_terms(parse_loss(text)) == expanded


def test_linear_terms_rejects_hand_built_nonsense() -> None:
    with pytest.raises(ValueError, match="not a linear combination"):
        linear_terms(Product((BCE, BCE)))
    with pytest.raises(ValueError, match="not a linear combination"):
        linear_terms(Sum((BCE, Number(1.0)), ("+",)))


def test_loss_groups() -> None:
    text = "bce + 0.1 * l2(weights) + 0.01 * trace_norm(shared) + 1e-3 * l1(bias) - l1(weights)"
    assert loss_groups(parse_loss(text)) == ("bias", "shared", "weights")
    assert loss_groups(parse_loss("mse - kl")) == ()


def test_number_is_finite_and_non_negative() -> None:
    for bad in (-1.0, -0.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="finite and non-negative"):
            Number(bad)


_IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_NUMBERS = st.builds(
    Number,
    st.one_of(
        st.floats(min_value=0.0, allow_nan=False, allow_infinity=False),
        st.sampled_from([0.0, 1.0, 2.0, 0.5, 1e-3, 1e-2, 1e20, 5e-324]),
    ),
)


@st.composite
def _terms(draw: st.DrawFn) -> Term:
    name = draw(st.sampled_from(sorted(LOSS_TERMS)))
    signature = LOSS_TERMS[name]
    groups = tuple(draw(_IDENTIFIERS) for _ in range(signature.groups))
    options = tuple((k, draw(st.sampled_from(v))) for k, v in signature.options.items())
    return Term(name, groups, options)


_SIGNS = st.sampled_from(["+", "-"])
_CONSTANTS = st.recursive(
    _NUMBERS,
    lambda inner: st.one_of(
        st.builds(Neg, inner),
        st.builds(Sum, st.tuples(inner, inner), st.tuples(_SIGNS)),
        st.builds(Product, st.tuples(inner, inner)),
    ),
    max_leaves=3,
)
LOSSES = st.recursive(
    _terms(),
    lambda inner: st.one_of(
        st.builds(Neg, inner),
        st.builds(Sum, st.tuples(inner, inner), st.tuples(_SIGNS)),
        st.builds(Product, st.tuples(_CONSTANTS, inner)),
        st.builds(Product, st.tuples(inner, _CONSTANTS)),
    ),
    max_leaves=8,
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LOSSES)
def test_loss_round_trip(tree: LossExpr) -> None:
    text = str(tree)
    parsed = parse_loss(text)
    assert parsed == tree
    assert str(parsed) == text
    terms = [node for node in walk(parsed) if isinstance(node, Term)]
    assert [term for _, term in linear_terms(parsed)] == terms


# ---------------------------------------------------------------------------------------------
# Any text
# ---------------------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [*"()|&-+*,=\"' .:\\$01e\n", "leaves", "roots", "name", "match", "file", "degree", "in", ">",
     "bce", "l1", "trace_norm", "mode", "task", "x", "1e-3"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_any_text_parses_or_raises_dsl_error(text: str) -> None:
    for parse in (parse_selector, parse_loss):
        try:
            parse(text)
        except DslError as error:
            assert 1 <= error.column <= len(text) + 1


# ---------------------------------------------------------------------------------------------
# Long and deep expressions
# ---------------------------------------------------------------------------------------------


def test_a_chain_of_one_operator_is_one_node() -> None:
    assert Union((Union((Leaves(), Roots())), AllNodes())) == Union((Leaves(), Roots(), AllNodes()))
    chain = parse_loss("bce" + " + 1e-3 * l1(bias) - 2 * 3 * l2(bias)" * 500)
    assert isinstance(chain, Sum) and len(chain.operands) == 1001
    assert chain.operators == ("+", "-") * 500
    assert linear_terms(chain)[-2:] == ((0.001, L1_BIAS), (-6.0, L2_BIAS))
    assert max(len(list(walk(o))) for o in chain.operands) == 4


def test_nesting_is_bounded() -> None:
    with pytest.raises(DslError) as caught:
        parse_selector("leaves - (" * (MAX_DEPTH + 1) + "roots" + ")" * (MAX_DEPTH + 1))
    assert caught.value.message == f"the expression nests more than {MAX_DEPTH} levels deep"
    assert caught.value.column == len("leaves - (") * MAX_DEPTH + 1
    deepest = parse_loss("-" * (MAX_DEPTH - 1) + "bce")
    assert linear_terms(deepest) == (((-1.0) ** (MAX_DEPTH - 1), BCE),)


def test_length_is_bounded() -> None:
    with pytest.raises(DslError) as caught:
        parse_selector("leaves" + " " * MAX_LENGTH)
    assert caught.value.message.startswith("the expression is 1,000,006 characters long")
    assert caught.value.hint is not None and "file(nodes.txt)" in caught.value.hint
