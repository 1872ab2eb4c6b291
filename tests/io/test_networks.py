"""Network file loaders: real subsets (counts computed here with plain Python), then errors."""

from __future__ import annotations

import ast
import csv
import gzip
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pknet.errors import CompileError
from pknet.io.networks import (
    EDGE_COLUMNS,
    RELATION,
    SCORE,
    WEIGHT,
    TermSet,
    drop_unknown_terms,
    load_annotation_table,
    load_drugcell_ontology,
    load_edge_list,
    load_gaf,
    load_gmt,
    load_hierarchy,
    load_mapping,
    load_obo,
    load_obo_terms,
    load_regulons,
    load_scored_links,
    load_sif,
)

DATA = Path(__file__).parents[1] / "data" / "networks"
TCR = DATA / "tcr_edgelist_head600.csv"
DOROTHEA = DATA / "dorothea_7tfs.tsv"
SIF = DATA / "dorothea_7tfs.sif"
GMT = DATA / "reactome_pcd.gmt"
REACTOME_HIERARCHY = DATA / "reactome_pcd_hierarchy.tsv"
REACTOME_MEMBERS = DATA / "reactome_pcd_uniprot_to_pathway.tsv"
REACTOME_NAMES = DATA / "reactome_pcd_pathway_names.tsv"
OBO = DATA / "goslim_generic.obo"
GO_HIERARCHY = DATA / "go_bp_hierarchy_apoptosis_tcr.tsv"
GO_TSV = DATA / "human_gene_to_go_bp_5genes.tsv"
GAF = DATA / "human_gene_to_go_bp_5genes.gaf"
DRUGCELL = DATA / "drugcell_go0002697.tsv"
STRING = DATA / "string_human_every140th.tsv"


def rows(path: Path, delimiter: str = "\t") -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def pairs(edges) -> list[tuple[str, str]]:
    return list(zip(edges["source"], edges["target"], strict=True))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_text(excinfo: pytest.ExceptionInfo[CompileError]) -> str:
    return excinfo.value.format()


def check_edge_table(edges) -> None:
    assert list(edges.columns[:4]) == list(EDGE_COLUMNS)
    assert edges["sign"].dtype == np.int8
    assert edges["weight"].dtype == np.float64
    assert all(isinstance(name, str) for name in [*edges["source"], *edges["target"]])
    assert list(edges.index) == list(range(len(edges)))


# --- edge lists ----------------------------------------------------------------------------


def test_edge_list_tcr_flows_child_to_parent():
    edges = load_edge_list(TCR, from_col="child", to_col="parent")
    check_edge_table(edges)
    expected = [(r["child"], r["parent"]) for r in rows(TCR, ",")]
    assert len(expected) == 600
    assert pairs(edges) == expected
    assert pairs(edges)[0] == ("ZAP70", "TCR")
    assert ("KLK2_gene", "AR") in pairs(edges)
    assert (edges["sign"] == 0).all() and (edges["weight"] == 1.0).all()


def test_edge_list_sign_and_weight_columns(tmp_path):
    path = write(
        tmp_path,
        "signed.tsv",
        "src\tdst\teffect\tw\n"
        "NA\tNAN1\t+\t0.5\n"
        "A\tB\t-1\t2\n"
        "\n"
        "B\tC\tinhibition\t1e-3\n"
        "C\tD\tActivation\t1\n"
        "D\tE\t1\t1\n"
        "E\tF\t0\t1\n",
    )
    edges = load_edge_list(path, from_col="src", to_col="dst", sign_col="effect", weight_col="w")
    check_edge_table(edges)
    assert pairs(edges)[0] == ("NA", "NAN1")
    assert edges["sign"].tolist() == [1, -1, -1, 1, 1, 0]
    assert edges["weight"].tolist() == [0.5, 2.0, 1e-3, 1.0, 1.0, 1.0]


def test_edge_list_bad_sign_names_the_line(tmp_path):
    path = write(tmp_path, "edges.csv", "a,b,s\nx,y,1\n\nx,z,maybe\n")
    with pytest.raises(CompileError) as excinfo:
        load_edge_list(path, from_col="a", to_col="b", sign_col="s")
    text = error_text(excinfo)
    assert f"{path}:4" in text and "'maybe'" in text and "inhibition" in text


def test_edge_list_bad_weight_names_the_line(tmp_path):
    path = write(tmp_path, "edges.csv", "a,b,w\nx,y,1\nx,z,heavy\n")
    with pytest.raises(CompileError, match=r"edges\.csv:3: bad number 'heavy' in column 'w'"):
        load_edge_list(path, from_col="a", to_col="b", weight_col="w")


def test_edge_list_missing_column_suggests_the_closest(tmp_path):
    with pytest.raises(CompileError) as excinfo:
        load_edge_list(TCR, from_col="chld", to_col="Parent")
    problems = excinfo.value.problems
    assert len(problems) == 2
    text = error_text(excinfo)
    assert f"{TCR}:1" in text and "tcr_edgelist_head600.csv" in text
    assert "column 'chld' not found" in text and "available columns: parent, child" in text
    assert "did you mean 'child'?" in text and "did you mean 'parent'?" in text


def test_edge_list_empty_node_name_names_the_line(tmp_path):
    path = write(tmp_path, "edges.csv", "a,b\nx,y\n,z\n")
    with pytest.raises(CompileError, match=r"edges\.csv:3: empty node name in column 'a'"):
        load_edge_list(path, from_col="a", to_col="b")


def test_separator_from_suffix_or_given(tmp_path):
    text = "a;b\nx;y\n"
    with pytest.raises(CompileError, match=r"suffix '\.dat'") as excinfo:
        load_edge_list(write(tmp_path, "e.dat", text), from_col="a", to_col="b")
    assert "give the separator" in error_text(excinfo)
    edges = load_edge_list(tmp_path / "e.dat", from_col="a", to_col="b", sep=";")
    assert pairs(edges) == [("x", "y")]
    whitespace = write(tmp_path, "e.txt", "a b\nx   y\n")
    assert pairs(load_edge_list(whitespace, from_col="b", to_col="a")) == [("y", "x")]


def test_wrong_field_count_names_the_line(tmp_path):
    path = write(tmp_path, "edges.csv", "a,b\nx,y\ny,z,w\n")
    with pytest.raises(CompileError, match=r"edges\.csv:3: line has 3 fields where 2"):
        load_edge_list(path, from_col="a", to_col="b")


# --- SIF -------------------------------------------------------------------------------------


def test_sif_from_dorothea_matches_its_rows():
    edges = load_sif(SIF)
    check_edge_table(edges)
    lines = [line.split("\t") for line in SIF.read_text().splitlines()]
    assert len(edges) == sum(len(fields) - 2 for fields in lines) == 275
    regulons = rows(DOROTHEA)
    assert pairs(edges) == [(r["tf"], r["target"]) for r in regulons]
    assert edges["sign"].tolist() == [int(float(r["mor"])) for r in regulons]
    assert set(edges[RELATION]) == {"1", "-1"}
    assert ("STAT3", "BCL2") in pairs(edges)


def test_sif_whitespace_sign_words_and_lone_nodes(tmp_path):
    path = write(tmp_path, "net.sif", "A activates B C\nlonely\nB  inhibits   D\nC pp E\n")
    edges = load_sif(path)
    assert pairs(edges) == [("A", "B"), ("A", "C"), ("B", "D"), ("C", "E")]
    assert edges["sign"].tolist() == [1, 1, -1, 0]
    assert edges[RELATION].tolist() == ["activates", "activates", "inhibits", "pp"]


def test_sif_relation_without_target(tmp_path):
    path = write(tmp_path, "net.sif", "A activates B\nA inhibits\n")
    with pytest.raises(CompileError, match=r"net\.sif:2: SIF line has a relation 'inhibits'"):
        load_sif(path)


# --- GMT -------------------------------------------------------------------------------------


def test_gmt_reactome_members_to_pathways():
    edges = load_gmt(GMT)
    check_edge_table(edges)
    lines = [line.split("\t") for line in GMT.read_text().splitlines()]
    assert len(edges) == sum(len(fields) - 2 for fields in lines) == 346
    assert pairs(edges)[:3] == [(gene, "R-HSA-111446") for gene in lines[0][2:5]]
    assert ("O43521", "R-HSA-111446") in pairs(edges)  # BIM → "Activation of BIM …"
    membership = sorted((r["uniprot"], r["pathway"]) for r in rows(REACTOME_MEMBERS))
    assert sorted(pairs(edges)) == membership


def test_gmt_errors(tmp_path):
    twice = write(tmp_path, "sets.gmt", "S1\tdesc\tA\tB\nS2\tdesc\tC\nS1\tdesc\tD\n")
    with pytest.raises(CompileError, match=r"sets\.gmt:3: gene set 'S1' is defined twice"):
        load_gmt(twice)
    no_description = write(tmp_path, "short.gmt", "S1\tdesc\tA\nS2\n")
    with pytest.raises(CompileError, match=r"short\.gmt:2: a GMT line starts with a set name"):
        load_gmt(no_description)


# --- OBO -------------------------------------------------------------------------------------


def obo_term_links(path: Path) -> tuple[list[tuple[str, str, str, str]], dict[str, str]]:
    """(namespace, child, relation, parent) of [Term] stanzas and each term's namespace,
    by a plain line scan."""
    links, namespace_of, kind, term, namespace = [], {}, None, None, None
    pending: list[tuple[str, str]] = []

    def flush() -> None:
        if kind == "[Term]":
            links.extend((namespace, term, rel, parent) for rel, parent in pending)
            namespace_of[term] = namespace

    for line in path.read_text().splitlines():
        if line.startswith("["):
            flush()
            kind, pending = line.strip(), []
        elif line.startswith("id: "):
            term = line.split()[1]
        elif line.startswith("namespace: "):
            namespace = line.split()[1]
        elif line.startswith("is_a: "):
            pending.append(("is_a", line.split()[1]))
        elif line.startswith("relationship: "):
            pending.append((line.split()[1], line.split()[2]))
    flush()
    return links, namespace_of


def test_obo_goslim_is_a_by_default():
    edges = load_obo(OBO)
    check_edge_table(edges)
    links, _ = obo_term_links(OBO)
    expected = [(c, p) for _, c, rel, p in links if rel == "is_a"]
    assert len(expected) == 148
    assert pairs(edges) == expected
    assert ("GO:0000228", "GO:0005694") in pairs(edges)  # nuclear chromosome is_a chromosome
    assert set(edges[RELATION]) == {"is_a"}


def test_obo_relations_and_namespace():
    links, namespace_of = obo_term_links(OBO)
    edges = load_obo(OBO, relations=("is_a", "part_of"))
    assert len(edges) == sum(rel in ("is_a", "part_of") for *_, rel, _ in links) == 216
    assert ("GO:0000228", "GO:0005634", "part_of") in set(
        zip(edges["source"], edges["target"], edges[RELATION], strict=True)
    )
    process = {term for term, ns in namespace_of.items() if ns == "biological_process"}
    bp = load_obo(OBO, relations=("is_a", "part_of"), namespace="biological_process")
    expected = [
        (c, p)
        for ns, c, rel, p in links
        if ns == "biological_process" and rel in ("is_a", "part_of") and p in process
    ]
    assert pairs(bp) == expected and len(expected) == 86


def test_obo_terms_table():
    terms = load_obo_terms(OBO)
    assert len(terms) == OBO.read_text().count("[Term]") == 149
    assert terms.iloc[0].tolist() == ["GO:0000003", "reproduction", "biological_process"]
    bp = load_obo_terms(OBO, namespace="biological_process")
    assert set(bp["namespace"]) == {"biological_process"}


def test_obo_unknown_relation_or_namespace_suggests(tmp_path):
    with pytest.raises(CompileError, match="relation 'partof' does not occur") as excinfo:
        load_obo(OBO, relations=("is_a", "partof"))
    assert "did you mean 'part_of'?" in error_text(excinfo)
    with pytest.raises(CompileError) as excinfo:
        load_obo(OBO, namespace="biological process")
    assert "did you mean 'biological_process'?" in error_text(excinfo)


OBO_SMALL = """format-version: 1.2

[Term]
id: T:1
name: root
namespace: ns

[Term]
id: T:2
name: child ! with a comment
namespace: ns
is_a: T:1 {source="x"} ! root
relationship: part_of T:3 ! gone

[Term]
id: T:3
namespace: ns
is_obsolete: true
is_a: T:1

[Typedef]
id: part_of
"""


def test_obo_skips_obsolete_terms_and_links_to_them(tmp_path):
    path = write(tmp_path, "small.obo", OBO_SMALL)
    edges = load_obo(path, relations=("is_a", "part_of"))
    assert pairs(edges) == [("T:2", "T:1")]
    assert load_obo_terms(path)["name"].tolist() == ["root", "child"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[Term]\nid: T:1\nthis line has no colon\n", 3, "expected 'tag: value'"),
        ("[Term]\nid: T:1\n\n[Term]\nname: anonymous\n", 4, "[Term] stanza without an id"),
        ("[Term\nid: T:1\n", 1, "malformed stanza header"),
        ("[Term]\nid: T:2\nrelationship: part_of\n", 3, "relationship needs a relation"),
    ],
)
def test_obo_syntax_errors_name_the_line(tmp_path, text, line, message):
    path = write(tmp_path, "bad.obo", text)
    with pytest.raises(CompileError) as excinfo:
        load_obo(path)
    assert f"{path}:{line}: " in error_text(excinfo) and message in error_text(excinfo)


# --- GAF and annotation tables ----------------------------------------------------------------


def test_gaf_and_annotation_table_agree():
    expected = [(r["gene"], r["go_id"], r["evidence"]) for r in rows(GO_TSV)]
    assert len(expected) == 248
    for edges in (
        load_gaf(GAF),
        load_annotation_table(GO_TSV, member_col="gene", term_col="go_id", evidence_col="evidence"),
    ):
        check_edge_table(edges)
        assert list(zip(edges["source"], edges["target"], edges["evidence"], strict=True)) == (
            expected
        )
    assert ("ZAP70", "GO:0050852") in pairs(load_gaf(GAF))  # T cell receptor signaling pathway


def test_evidence_filters():
    codes = Counter(r["evidence"] for r in rows(GO_TSV))
    experimental = ("IDA", "IMP", "IGI", "IEP")
    gaf = load_gaf(GAF, evidence=experimental, aspect="P")
    assert len(gaf) == sum(codes[c] for c in experimental) == 65
    table = load_annotation_table(
        GO_TSV, member_col="gene", term_col="go_id", evidence_col="evidence", evidence=["IEA"]
    )
    assert len(table) == codes["IEA"] == 121
    with pytest.raises(CompileError, match=r"no edges .* after filters: evidence in") as excinfo:
        load_gaf(GAF, evidence=["EXP"])
    assert "codes present: IBA, IC, IDA" in error_text(excinfo)


def test_gaf_not_qualifier_aspect_and_gzip(tmp_path):
    def gaf_line(symbol: str, qualifier: str, term: str, aspect: str) -> str:
        fields = ["DB", symbol, symbol, qualifier, term, "REF", "IDA", "", aspect]
        return "\t".join([*fields, "", "", "protein", "taxon:9606", "20240101", "DB", "", ""])

    text = "!gaf-version: 2.2\n" + "\n".join(
        [
            gaf_line("G1", "involved_in", "GO:1", "P"),
            gaf_line("G2", "NOT|involved_in", "GO:1", "P"),
            gaf_line("G3", "enables", "GO:2", "F"),
        ]
    )
    path = tmp_path / "a.gaf.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    assert pairs(load_gaf(path)) == [("G1", "GO:1"), ("G3", "GO:2")]
    assert pairs(load_gaf(path, aspect="F")) == [("G3", "GO:2")]
    with pytest.raises(CompileError, match="aspect must be one of P, F, C"):
        load_gaf(path, aspect="BP")


def test_gaf_short_line_names_the_line(tmp_path):
    path = write(tmp_path, "x.gaf", "!gaf-version: 2.2\nG1\tGO:1\tIDA\n")
    with pytest.raises(CompileError, match=r"x\.gaf:2: a GAF line has 15 to 17") as excinfo:
        load_gaf(path)
    assert "annotation-table loader" in error_text(excinfo)


def test_annotation_table_reactome_membership():
    edges = load_annotation_table(REACTOME_MEMBERS, member_col="uniprot", term_col="pathway")
    expected = [(r["uniprot"], r["pathway"]) for r in rows(REACTOME_MEMBERS)]
    assert pairs(edges) == expected and len(expected) == 346
    assert list(edges.columns) == list(EDGE_COLUMNS)


def go_slim_terms() -> TermSet:
    return TermSet(frozenset(load_obo_terms(OBO)["term"]), "goslim_generic.obo")


def test_annotations_to_terms_outside_the_ontology_name_their_line():
    slim = go_slim_terms()
    table = rows(GO_TSV)
    unknown = [r for r in table if r["go_id"] not in slim.terms]
    first = next(i for i, r in enumerate(table) if r["go_id"] not in slim.terms)
    message = (
        f"{table[first]['gene']!r} is annotated to {table[first]['go_id']!r}, which is not a term "
        f"of goslim_generic.obo ({len(unknown)} annotation(s) cite "
        f"{len({r['go_id'] for r in unknown})} such term(s))"
    )
    for path, line, load in (
        (GAF, first + 4, lambda: load_gaf(GAF, terms=slim)),  # after three `!` lines
        (
            GO_TSV,
            first + 2,  # after the header
            lambda: load_annotation_table(GO_TSV, member_col="gene", term_col="go_id", terms=slim),
        ),
    ):
        with pytest.raises(CompileError) as excinfo:
            load()
        assert f"{path}:{line}: {message}" in error_text(excinfo)
        assert "unknown_terms: drop" in error_text(excinfo)


def test_only_kept_annotations_must_cite_known_terms():
    iea = [r for r in rows(GO_TSV) if r["evidence"] == "IEA"]
    terms = TermSet(frozenset(r["go_id"] for r in iea), "the IEA terms")
    assert any(r["go_id"] not in terms.terms for r in rows(GO_TSV))  # rows the filter drops
    assert len(load_gaf(GAF, evidence=["IEA"], terms=terms)) == len(iea)
    table = load_annotation_table(
        GO_TSV,
        member_col="gene",
        term_col="go_id",
        evidence_col="evidence",
        evidence=["IEA"],
        terms=terms,
    )
    assert len(table) == len(iea)


def test_drop_unknown_terms_counts_what_it_drops():
    slim = go_slim_terms()
    kept, dropped = drop_unknown_terms(load_gaf(GAF), slim, GAF)
    check_edge_table(kept)
    assert pairs(kept) == [
        (r["gene"], r["go_id"]) for r in rows(GO_TSV) if r["go_id"] in slim.terms
    ]
    assert len(kept) + dropped == 248 and len(kept) == 3
    only_unknown = load_annotation_table(REACTOME_MEMBERS, member_col="uniprot", term_col="pathway")
    with pytest.raises(CompileError, match=r"no edges in .* after filters: annotations to terms"):
        drop_unknown_terms(only_unknown, slim, REACTOME_MEMBERS)


# --- hierarchies -----------------------------------------------------------------------------


def test_reactome_hierarchy_child_to_parent():
    edges = load_hierarchy(REACTOME_HIERARCHY)
    check_edge_table(edges)
    expected = [(r["child"], r["parent"]) for r in rows(REACTOME_HIERARCHY)]
    assert pairs(edges) == expected and len(expected) == 41
    assert ("R-HSA-109581", "R-HSA-5357801") in pairs(edges)  # Apoptosis → Programmed Cell Death


def test_go_hierarchy_relation_filter():
    table = rows(GO_HIERARCHY)
    counts = Counter(r["relation"] for r in table)
    edges = load_hierarchy(GO_HIERARCHY, relation_col="relation")
    assert len(edges) == len(table) == 142
    assert Counter(edges[RELATION]) == counts
    kept = load_hierarchy(GO_HIERARCHY, relation_col="relation", relations=["isa", "part of"])
    assert len(kept) == counts["isa"] + counts["part of"] == 104
    assert pairs(kept) == [
        (r["child"], r["parent"]) for r in table if r["relation"] in ("isa", "part of")
    ]
    assert ("GO:0050852", "GO:0050851") in pairs(kept)  # TCR signaling isa antigen receptor …


def test_go_hierarchy_relation_typo_suggests(tmp_path):
    with pytest.raises(CompileError, match="relation 'part_of' does not occur") as excinfo:
        load_hierarchy(GO_HIERARCHY, relation_col="relation", relations=["isa", "part_of"])
    assert "did you mean 'part of'?" in error_text(excinfo)
    with pytest.raises(CompileError, match="needs the relation column"):
        load_hierarchy(GO_HIERARCHY, relations=["isa"])


def test_drugcell_ontology_directions():
    table = [line.split() for line in DRUGCELL.read_text().splitlines()]
    edges = load_drugcell_ontology(DRUGCELL)
    check_edge_table(edges)
    assert pairs(edges) == [(child, parent) for parent, child, _ in table]
    assert Counter(edges[RELATION]) == Counter(kind for *_, kind in table)
    assert Counter(edges[RELATION]) == {"gene": 251, "default": 18}
    genes = edges[edges[RELATION] == "gene"]
    assert not genes["source"].str.startswith("GO:").any()
    assert genes["target"].str.startswith("GO:").all()


def test_drugcell_bad_type_names_the_line(tmp_path):
    path = write(tmp_path, "onto.txt", "T1 T2 default\nT1 G1 gene\nT2 G2 protein\n")
    with pytest.raises(CompileError, match=r"onto\.txt:3: unknown DrugCell edge type 'protein'"):
        load_drugcell_ontology(path)


# --- STRING-style scored links -----------------------------------------------------------------


def test_scored_links_threshold_both_directions_and_prefix():
    table = rows(STRING)
    strong = [r for r in table if float(r["score"]) >= 0.7]
    assert len(table) == 500 and len(strong) == 62
    edges = load_scored_links(
        STRING, a_col="proteinA", b_col="proteinB", score_col="score", min_score=0.7
    )
    check_edge_table(edges)
    expected = [
        e for r in strong for e in ((r["proteinA"], r["proteinB"]), (r["proteinB"], r["proteinA"]))
    ]
    assert pairs(edges) == expected
    assert edges[SCORE].tolist() == [float(r["score"]) for r in strong for _ in range(2)]
    stripped = load_scored_links(
        STRING, a_col="proteinA", b_col="proteinB", score_col="score", strip_species_prefix=True
    )
    assert len(stripped) == 1000
    assert stripped["source"][0] == table[0]["proteinA"].removeprefix("9606.")


def test_scored_links_keep_each_pair_once(tmp_path):
    path = write(tmp_path, "links.tsv", "a\tb\ts\nA\tB\t0.9\nB\tA\t0.8\nC\tC\t0.9\nA\tD\t0.1\n")
    edges = load_scored_links(path, a_col="a", b_col="b", score_col="s", min_score=0.5)
    assert pairs(edges) == [("A", "B"), ("B", "A"), ("C", "C")]
    assert edges[SCORE].tolist() == [0.9, 0.9, 0.9]


def test_scored_links_weight_is_the_scaled_score(tmp_path):
    table = rows(STRING)
    unit = load_scored_links(STRING, a_col="proteinA", b_col="proteinB", score_col="score")
    assert unit[WEIGHT].tolist() == [1.0] * 1000  # no `score_max`: every link weighs 1
    scored = load_scored_links(
        STRING, a_col="proteinA", b_col="proteinB", score_col="score", score_max=1.0
    )
    assert scored[WEIGHT].tolist() == [float(r["score"]) for r in table for _ in range(2)]
    thousand = write(tmp_path, "links.tsv", "a\tb\ts\nA\tB\t900\nB\tC\t150\n")
    edges = load_scored_links(thousand, a_col="a", b_col="b", score_col="s", score_max=1000)
    assert edges[WEIGHT].tolist() == [0.9, 0.9, 0.15, 0.15]
    with pytest.raises(CompileError) as excinfo:
        load_scored_links(thousand, a_col="a", b_col="b", score_col="s", score_max=1.0)
    text = error_text(excinfo)
    assert "holds scores from 150 to 900, outside 0..score_max=1 (2 kept link(s))" in text
    assert "1000 for STRING's `combined_score`" in text


def test_a_scored_links_source_weighs_edges_by_score_by_default():
    from pknet.compiler.network.read_network import read_source
    from pknet.specs.schema.network import ScoredLinksSpec

    source = ScoredLinksSpec(kind="scored_links", file=str(STRING), min_score=0.7)
    strong = [float(r["score"]) for r in rows(STRING) if float(r["score"]) >= 0.7]
    assert read_source(source)[WEIGHT].tolist() == [w for w in strong for _ in range(2)]
    one = ScoredLinksSpec(kind="scored_links", file=str(STRING), min_score=0.7, weight="one")
    assert set(read_source(one)[WEIGHT]) == {1.0}


def test_scored_links_errors(tmp_path):
    with pytest.raises(CompileError) as excinfo:
        load_scored_links(
            STRING, a_col="proteinA", b_col="proteinB", score_col="score", min_score=700
        )
    text = error_text(excinfo)
    assert "no edges in string_human_every140th.tsv after filters: min_score=700" in text
    assert "scores range from 0.106" in text
    path = write(tmp_path, "links.tsv", "a\tb\ts\nA\tB\t0.9\nB\tC\thigh\n")
    with pytest.raises(CompileError, match=r"links\.tsv:3: bad number 'high' in column 's'"):
        load_scored_links(path, a_col="a", b_col="b", score_col="s")


# --- regulons ----------------------------------------------------------------------------------


def test_regulons_sign_from_mor_and_confidence_filter():
    table = rows(DOROTHEA)
    edges = load_regulons(DOROTHEA)
    check_edge_table(edges)
    assert pairs(edges) == [(r["tf"], r["target"]) for r in table] and len(table) == 275
    assert edges["sign"].tolist() == [1 if r["mor"] == "1.0" else -1 for r in table]
    assert (edges["sign"] == -1).sum() == 86
    assert edges["confidence"].tolist() == [r["confidence"] for r in table]
    ab = load_regulons(DOROTHEA, confidence=["A", "B"])
    assert len(ab) == sum(r["confidence"] in "AB" for r in table) == 176
    signs = dict(zip(pairs(ab), ab["sign"], strict=True))
    assert signs[("REST", "BDNF")] == -1 and signs[("STAT3", "SOCS3")] == 1
    with pytest.raises(CompileError, match=r"confidence in \['D'\] \(levels present: A, B, C\)"):
        load_regulons(DOROTHEA, confidence=["D"])


# --- mapping tables ----------------------------------------------------------------------------


def test_mapping_reactome_names():
    mapping = load_mapping(REACTOME_NAMES)
    table = rows(REACTOME_NAMES)
    assert len(mapping) == len(table) == 42
    assert list(mapping) == [r["pathway"] for r in table]
    assert mapping["R-HSA-5357801"] == "Programmed Cell Death"


def test_mapping_duplicates(tmp_path):
    path = write(tmp_path, "map.csv", "uniprot,symbol\nP1,A\nP2,B\nP1,A\nP3,C\nP2,BB\n")
    with pytest.raises(CompileError) as excinfo:
        load_mapping(path)
    text = error_text(excinfo)
    assert f"{path}:6" in text and "'P2' is mapped twice" in text and "(line 3)" in text
    assert load_mapping(path, duplicates="first") == {"P1": "A", "P2": "B", "P3": "C"}
    with pytest.raises(CompileError, match="name both the from and the to column"):
        load_mapping(write(tmp_path, "three.csv", "a,b,c\n1,2,3\n"))
    assert load_mapping(tmp_path / "three.csv", from_col="c", to_col="a") == {"3": "1"}


# --- file errors -------------------------------------------------------------------------------


def test_missing_file_hints_at_relative_paths(tmp_path):
    write(tmp_path, "edges.csv", "a,b\nx,y\n")
    with pytest.raises(CompileError) as excinfo:
        load_edge_list(tmp_path / "edge.csv", from_col="a", to_col="b")
    text = error_text(excinfo)
    assert "file not found: edge.csv" in text
    assert "did you mean 'edges.csv'?" in text and "folder of the spec file" in text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty.csv is empty"),
        ("blank.sif", b"\n  \n", "blank.sif is empty"),
        ("binary.csv", b"a,b\n\xff\xfe,x\n", "binary.csv is not UTF-8 text"),
        ("header.csv", b"a,b\n", "no edges in header.csv"),
    ],
)
def test_unreadable_or_empty_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    loader = load_sif if name.endswith(".sif") else load_edge_list
    kwargs = {} if loader is load_sif else {"from_col": "a", "to_col": "b"}
    with pytest.raises(CompileError, match=message) as excinfo:
        loader(path, **kwargs)
    assert excinfo.value.problems[0].location.source == str(path)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(CompileError, match="is a folder, not a file"):
        load_gmt(tmp_path)


def test_device_or_fifo_is_not_read(tmp_path):
    """/dev/zero never ends and a FIFO blocks on open: both are refused before opening."""
    fifo = tmp_path / "edges.fifo"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(CompileError, match="is not a regular file"):
            load_edge_list(path, from_col="a", to_col="b")


def test_io_layer_imports_nothing_above_it():
    package = Path(__file__).parents[2] / "src" / "pknet" / "io" / "networks"
    imported = set()
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    above = ("pknet.compiler", "pknet.runtime", "pknet.specs")
    assert not [name for name in imported if name.startswith(above)]
