"""Feature names from an AnnData `var` column, and what a repeated name becomes
(`data.expression.var_names`, `duplicates`), checked against NumPy on a real h5ad."""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata
import numpy as np
import pytest

import pknet
from pknet.api import compile_spec
from pknet.errors import CompileError, PknetError, SpecError
from pknet.io.data import FeatureNaming, read_feature_names, read_matrix

ROOT = Path(__file__).parents[2]
PBMC = ROOT / "examples" / "kpnn_tcr" / "data" / "pbmc68k_reduced.h5ad"
SYMBOLS = "gene_short_name"


@pytest.fixture(scope="module")
def ensembl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, list[str]]:
    """pbmc68k_reduced with made-up Ensembl-like ids as `var_names` (`ENSG00000000000`, ...;
    not the genes' real ids) and the symbols moved to a `gene_short_name` column, where gene 7
    is renamed to gene 2's symbol so that symbol appears twice. Returns (file, X, symbols)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = anndata.read_h5ad(PBMC)
    symbols = adata.var_names.astype(str).tolist()
    symbols[7] = symbols[2]
    adata.var[SYMBOLS] = symbols
    adata.var_names = [f"ENSG{i:011d}" for i in range(adata.n_vars)]
    adata.raw = None
    path = tmp_path_factory.mktemp("ensembl") / "pbmc_ensembl.h5ad"
    adata.write_h5ad(path)
    return path, np.asarray(adata.X, dtype=np.float32), symbols


@pytest.mark.parametrize("duplicates", ["first", "sum", "mean"])
def test_a_var_column_names_the_features_and_repeats_combine(ensembl, duplicates: str) -> None:
    path, x, symbols = ensembl
    naming = FeatureNaming(SYMBOLS, duplicates)
    names = read_feature_names(path, naming=naming)
    assert names == symbols[:7] + symbols[8:]  # the repeat folds into its first position
    repeated = symbols[2]
    columns = np.array([names.index(repeated), 0, names.index(symbols[-1])])
    matrix = read_matrix(path, columns=columns, naming=naming)
    assert matrix.features == (repeated, symbols[0], symbols[-1])
    both = x[:, [2, 7]]
    expected = {"first": both[:, 0], "sum": both.sum(axis=1), "mean": both.mean(axis=1)}
    np.testing.assert_allclose(matrix.values[:, 0], expected[duplicates], rtol=1e-6)
    np.testing.assert_array_equal(matrix.values[:, 1:], x[:, [0, -1]])
    whole = read_matrix(path, naming=naming)  # every column, as `normalize_total` reads them
    assert whole.features == tuple(names) and whole.values.shape == (700, 764)
    np.testing.assert_allclose(whole.values[:, 2], expected[duplicates], rtol=1e-6)


def test_a_repeated_name_is_an_error_by_default(ensembl) -> None:
    path, _, symbols = ensembl
    with pytest.raises(CompileError) as caught:
        read_feature_names(path, naming=FeatureNaming(SYMBOLS))
    problem = caught.value.problems[0]
    assert problem.path == "data.expression.duplicates"
    assert f"feature `{symbols[2]}` appears twice in var column `{SYMBOLS}`" in problem.message
    assert "(at positions 3 and 8)" in problem.message


def spec_text(data: Path, expression: str) -> str:
    return (
        f"extends: {ROOT / 'examples' / 'kpnn_tcr' / 'spec.yaml'}\n"
        f"data:\n  expression: {{file: {data}, layer: X{expression}}}\n"
    )


def test_a_missing_var_column_is_located_and_lists_the_columns(tmp_path: Path, ensembl) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text(ensembl[0], ", var_names: symbol"))
    with pytest.raises(PknetError) as caught:
        compile_spec(pknet.load_spec(spec))
    text = caught.value.format()
    assert "spec.yaml:3:" in text and "data.expression.var_names" in text
    assert "has no var column `symbol`" in text
    assert (
        f"var columns: n_counts, means, dispersions, dispersions_norm, highly_variable, {SYMBOLS}"
        in text
    )


def test_var_names_of_a_table_fail_validation(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    table = ROOT / "tests" / "data" / "matrices" / "pbmc68k_raw_40x50.csv"
    spec.write_text(spec_text(table, f", var_names: {SYMBOLS}").replace(", layer: X", ""))
    with pytest.raises(SpecError, match=r"data\.expression\.var_names"):
        pknet.load_spec(spec)


@pytest.mark.slow
def test_the_kpnn_example_maps_genes_through_the_symbol_column(tmp_path: Path, ensembl) -> None:
    """The measured inputs of the original file (less gene 7, renamed in the copy): symbols,
    not ids, meet the network."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text(ensembl[0], f", var_names: {SYMBOLS}, duplicates: first"))
    (tmp_path / "original.yaml").write_text(spec_text(PBMC, ""))
    compiled = compile_spec(pknet.load_spec(spec))
    original = compile_spec(pknet.load_spec(tmp_path / "original.yaml"))
    lost = read_feature_names(PBMC)[7] + "_gene"
    inputs = [original.network.nodes[i] for i in original.inputs]
    assert lost in inputs
    assert [compiled.network.nodes[i] for i in compiled.inputs] == [n for n in inputs if n != lost]
