"""Node name -> data column mapping: stripping, renaming tables, case rules."""

from __future__ import annotations

import numpy as np

from pknet.compiler.network.features import FeatureRule, match_features

NODES = ("CD3E_gene", "zap70_gene", "P12345", "TCR")
FEATURES = ["CD3E", "ZAP70", "LCK", "TRAC"]


def columns(rule: FeatureRule) -> list[int]:
    return match_features(NODES, FEATURES, rule).column.tolist()


def test_suffix_stripping_is_case_sensitive_by_default() -> None:
    assert columns(FeatureRule(strip_suffix="_gene")) == [0, -1, -1, -1]


def test_case_rule_folds_both_sides() -> None:
    assert columns(FeatureRule(strip_suffix="_gene", case="upper")) == [0, 1, -1, -1]


def test_mapping_table_renames_after_stripping() -> None:
    rule = FeatureRule(strip_suffix="_gene", table={"P12345": "LCK", "TCR": "TRAC"})
    assert columns(rule) == [0, -1, 2, 3]


def test_prefix_is_stripped_only_where_present() -> None:
    rule = FeatureRule(strip_prefix="P1", table={"2345": "LCK"})
    assert columns(rule) == [-1, -1, 2, -1]


def test_unmatched_columns_are_reported() -> None:
    match = match_features(NODES, FEATURES, FeatureRule(strip_suffix="_gene", case="lower"))
    assert match.measured.tolist() == [True, True, False, False]
    np.testing.assert_array_equal(match.unmatched_columns(), [2, 3])
