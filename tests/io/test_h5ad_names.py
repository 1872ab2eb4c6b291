"""`.h5ad` feature names read with h5py alone equal anndata's, in both on-disk layouts."""

from __future__ import annotations

from pathlib import Path

import anndata
import pytest

from pknet.io.h5ad_names import h5ad_feature_names

ROOT = Path(__file__).parents[2]
FILES = {
    "current": ROOT / "tests" / "data" / "matrices" / "pbmc68k_40x50.h5ad",  # var group, _index
    "legacy": ROOT / "examples" / "kpnn_tcr" / "data" / "pbmc68k_reduced.h5ad",  # compound var
}


def anndata_names(path: Path, layer: str) -> list[str]:
    adata = anndata.read_h5ad(path, backed="r")
    try:
        var = adata.raw.var_names if layer == "raw" else adata.var_names
        return var.astype(str).tolist()
    finally:
        adata.file.close()


@pytest.mark.parametrize("layout", sorted(FILES))
@pytest.mark.parametrize("layer", ["X", "raw"])
def test_names_equal_anndatas(layout: str, layer: str) -> None:
    names = h5ad_feature_names(FILES[layout], layer)
    assert names is not None and names == anndata_names(FILES[layout], layer)


def test_a_named_layer_has_the_var_names() -> None:
    path = FILES["current"]
    assert h5ad_feature_names(path, "lognorm") == anndata_names(path, "X")


def test_what_it_cannot_answer_is_left_to_anndata(tmp_path: Path) -> None:
    assert h5ad_feature_names(FILES["current"], "no-such-layer") is None
    assert h5ad_feature_names(FILES["legacy"], "lognorm") is None
    broken = tmp_path / "broken.h5ad"
    broken.write_text("not hdf5", encoding="utf-8")
    assert h5ad_feature_names(broken, "X") is None
