"""Rebuild the matrix fixtures from the shared real data (see README.md); not run by the tests.

.venv/bin/python tests/data/matrices/make_fixtures.py /work/shared/data
"""

from __future__ import annotations

import csv
import sys
import warnings
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd
from scipy import sparse

HERE = Path(__file__).parent
T_CELLS = {
    "CD4+/CD25 T Reg",
    "CD4+/CD45RA+/CD25- Naive T",
    "CD4+/CD45RO+ Memory",
    "CD8+ Cytotoxic T",
    "CD8+/CD45RA+ Naive Cytotoxic",
}


def number(value: float) -> str:
    """The shortest text that reads back as the same float32."""
    return str(np.float32(value)) if value != int(value) else str(int(value))


def pbmc(shared: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = anndata.read_h5ad(shared / "pbmc68k" / "pbmc68k_reduced.h5ad")
    labels = full.obs["bulk_labels"].astype(str)
    cells = np.sort(np.concatenate([np.flatnonzero(labels == b)[:4] for b in sorted(set(labels))]))
    raw = full.raw.X[cells].toarray()
    nonzero = (raw > 0).sum(axis=0)
    ranked = np.argsort(-nonzero, kind="stable")
    genes, extra = np.sort(ranked[:50]), np.sort(ranked[:60])
    obs = full.obs.iloc[cells].copy()
    raw_values = raw[:, genes].astype(np.float32)
    small = anndata.AnnData(
        X=full.X[cells][:, genes].astype(np.float32),
        obs=obs,
        var=full.var.iloc[genes].copy(),
        layers={"lognorm": sparse.csr_matrix(raw_values)},
    )
    small.raw = anndata.AnnData(
        X=sparse.csr_matrix(raw[:, extra].astype(np.float32)), var=full.raw.var.iloc[extra].copy()
    )
    small.write_h5ad(HERE / "pbmc68k_40x50.h5ad")

    barcodes = obs.index.astype(str).tolist()
    names = full.var_names[genes].astype(str).tolist()
    with open(HERE / "pbmc68k_raw_40x50.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["barcode", *names])
        writer.writerows(
            [b, *map(number, row)] for b, row in zip(barcodes, raw_values, strict=True)
        )
    with open(HERE / "pbmc68k_raw_40x50_genes_as_rows.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["gene", *barcodes])
        writer.writerows([g, *map(number, col)] for g, col in zip(names, raw_values.T, strict=True))

    by_cell = sparse.csr_matrix(raw_values)  # barcodes x genes CSR == genes x barcodes CSC
    with h5py.File(HERE / "pbmc68k_raw_40x50_10x.h5", "w") as f:
        group = f.create_group("matrix")
        group["data"] = by_cell.data.astype(np.float32)
        group["indices"] = by_cell.indices.astype(np.int64)
        group["indptr"] = by_cell.indptr.astype(np.int64)
        group["shape"] = np.array([len(names), len(barcodes)], dtype=np.int32)
        group["barcodes"] = np.array(barcodes, dtype="S")
        features = group.create_group("features")
        features["name"] = np.array(names, dtype="S")
        features["id"] = np.array(names, dtype="S")
        features["feature_type"] = np.array(["Gene Expression"] * len(names), dtype="S")

    tcr = pd.read_csv(shared / "kpnn_tcr" / "TCR_ClassLabels.csv", dtype=str).head(5)
    rows = [list(r) for r in tcr.itertuples(index=False)]
    for i, (barcode, label) in enumerate(
        zip(barcodes, obs["bulk_labels"].astype(str), strict=True)
    ):
        if i % 4 == 3 and i < 36:
            continue  # 9 fixture cells get no label row
        rows.append([barcode, "" if i == 38 else str(int(label in T_CELLS))])
    with open(HERE / "pbmc68k_tcr_labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["barcode", "TCR"])
        writer.writerows(rows)


def proteomics(shared: Path) -> None:
    folder = shared / "reactome"
    design = pd.read_csv(folder / "plasma_proteomics_design.tsv", sep="\t", dtype=str)
    chosen = pd.concat([design[design.group == g].head(15) for g in ("1", "2")])
    samples = [s for s in design["sample"] if s in set(chosen["sample"])]
    with open(folder / "plasma_proteomics_matrix.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    keep = [0, *(header.index(s) for s in samples)]
    missing = [sum(r[i] == "" for i in keep) for r in rows[1:]]
    complete = [r for r, n in zip(rows[1:], missing, strict=True) if n == 0][:12]
    gappy = [r for r, n in zip(rows[1:], missing, strict=True) if 0 < n <= 10][:8]
    picked = [r for r in rows[1:] if any(r is p for p in complete + gappy)]
    with open(HERE / "plasma_proteomics_20x30.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows([r[i] for i in keep] for r in [header, *picked])
    design[design["sample"].isin(samples)].to_csv(
        HERE / "plasma_proteomics_design_30.tsv", sep="\t", index=False
    )


if __name__ == "__main__":
    shared_data = Path(sys.argv[1])
    pbmc(shared_data)
    proteomics(shared_data)
