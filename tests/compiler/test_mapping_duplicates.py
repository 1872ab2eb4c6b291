"""A mapping table that maps a node to several features (`network.features.table.duplicates`):
an error, the first row, or the node reads the sum or mean of their columns."""

from __future__ import annotations

from pathlib import Path

import anndata
import numpy as np
import pytest

import pknet
from pknet.compiler.dataset import load_dataset
from pknet.errors import PknetError

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "matrices" / "pbmc68k_40x50.h5ad"


def spec(tmp_path: Path, duplicates: str) -> pknet.Spec:
    (tmp_path / "map.csv").write_text("node,gene\nBTG1,BTG1\nBTG1,CD52\nCALM1,PARK7\n")
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"extends: {ROOT / 'examples' / 'kpnn_tcr' / 'spec.yaml'}\n"
        f"data:\n  expression: {{file: {DATA}, layer: lognorm}}\n"
        "network:\n  features:\n    strip_suffix: _gene\n"
        f"    table: {{file: map.csv, from: node, to: gene, duplicates: {duplicates}}}\n"
    )
    return pknet.load_spec(path)


@pytest.fixture(scope="module")
def lognorm() -> dict[str, np.ndarray]:
    adata = anndata.read_h5ad(DATA)
    values = adata.layers["lognorm"].toarray().astype(np.float32)  # stored sparse
    return {name: values[:, i] for i, name in enumerate(adata.var_names)}


@pytest.mark.parametrize("duplicates", ["first", "sum", "mean"])
def test_a_node_mapped_twice_reads_what_the_rule_says(
    tmp_path: Path, lognorm, duplicates: str
) -> None:
    loaded = spec(tmp_path, duplicates)
    compiled = pknet.compile_spec(loaded)
    dataset = load_dataset(loaded, compiled.input_columns, compiled)
    inputs = [compiled.network.nodes[i] for i in compiled.inputs]
    btg1, calm1 = dataset.x[:, inputs.index("BTG1_gene")], dataset.x[:, inputs.index("CALM1_gene")]
    both = np.stack([lognorm["BTG1"], lognorm["CD52"]], axis=1)
    expected = {"first": both[:, 0], "sum": both.sum(axis=1), "mean": both.mean(axis=1)}
    np.testing.assert_allclose(btg1, expected[duplicates], rtol=1e-6)
    np.testing.assert_array_equal(calm1, lognorm["PARK7"])  # a single row renames


def test_a_node_mapped_twice_is_an_error_by_default(tmp_path: Path) -> None:
    with pytest.raises(PknetError, match=r"'BTG1' is mapped twice: to 'BTG1' .* and to 'CD52'"):
        pknet.compile_spec(spec(tmp_path, "error"))
