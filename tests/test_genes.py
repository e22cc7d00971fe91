"""Tests for omicsnb.data.genes: Ensembl version stripping and offline ENSG -> symbol mapping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsnb.data.genes import MappingReport, map_gene_ids, strip_version
from omicsnb.validation import OmicsInputError


# ----------------------------------------------------------------------------------------------------------------------
# strip_version
# ----------------------------------------------------------------------------------------------------------------------
def test_strip_version_kinds_and_edge_cases():
    assert strip_version("ENSG00000141510.17") == "ENSG00000141510"
    assert strip_version("ENSG00000141510") == "ENSG00000141510"
    ids = ["ENSG00000141510.17", "ENSMUSG00000059552.14", "ENST00000269305.9", "RP11-34P13.7", "TP53",
           "ENSG00000002586.20_PAR_Y"]
    expected = ["ENSG00000141510", "ENSMUSG00000059552", "ENST00000269305", "RP11-34P13.7", "TP53",
                "ENSG00000002586_PAR_Y"]
    out = strip_version(ids)
    assert isinstance(out, np.ndarray) and out.tolist() == expected
    index = strip_version(pd.Index(ids, name="gene_id"))
    assert isinstance(index, pd.Index) and index.name == "gene_id" and index.tolist() == expected
    series = strip_version(pd.Series(ids, index=list("abcdef"), name="id"))
    assert isinstance(series, pd.Series) and list(series.index) == list("abcdef") and series.tolist() == expected
    with pytest.raises(OmicsInputError, match="gene IDs must be strings, found nan"):
        strip_version(["ENSG00000141510.1", np.nan])


# ----------------------------------------------------------------------------------------------------------------------
# map_gene_ids on a hand-made fixture
# ----------------------------------------------------------------------------------------------------------------------
IDS = [
    "ENSG00000141510.17",  # TP53 (table symbol " tp53 ", messy)
    "ENSG00000146648",  # EGFR (the table has it versioned)
    "ENSG00000000001.3",  # absent from the table: unmapped
    "ENSG00000000002",  # table row with an empty symbol: unmapped
    "ENSG00000111111.1",  # MYC
    "ENSG00000222222",  # " myc" -> MYC
    "ENSG00000333333.2",  # "MYC" -> MYC
    "ENSG00000444444",  # GAPDH
    "ENSG00000555555.9",  # "gapdh" -> GAPDH
]


@pytest.fixture
def X() -> pd.DataFrame:
    values = np.arange(3 * len(IDS), dtype=float).reshape(3, len(IDS))
    return pd.DataFrame(values, index=["S1", "S2", "S3"], columns=IDS)


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ensembl_id": ["ENSG00000141510", "ENSG00000146648.5", "ENSG00000000002", "ENSG00000111111",
                           "ENSG00000222222", "ENSG00000333333", "ENSG00000444444", "ENSG00000555555",
                           "ENSG00000444444", "ENSG00000999999"],
            "symbol": [" tp53 ", "EGFR", "  ", "MYC", " myc", "MYC", "GAPDH", "gapdh", "Gapdh", "UNUSED"],
        }
    )


def test_map_gene_ids_counts_are_exact(X, table):
    mapped, report = map_gene_ids(X, table)
    assert isinstance(report, MappingReport)
    assert list(mapped.columns) == ["TP53", "EGFR", "MYC", "GAPDH"]  # order of first appearance
    assert mapped.index.equals(X.index)
    assert (report.n_input, report.n_versioned, report.n_unmapped) == (9, 5, 2)
    assert (report.n_duplicate_ids, report.n_symbols_with_duplicates, report.n_output) == (5, 2, 4)
    r = report
    assert r.n_output == r.n_input - r.n_unmapped - r.n_duplicate_ids + r.n_symbols_with_duplicates
    assert report.unmapped_ids == ["ENSG00000000001.3", "ENSG00000000002"]
    assert report.duplicate_groups == {
        "MYC": ["ENSG00000111111.1", "ENSG00000222222", "ENSG00000333333.2"],
        "GAPDH": ["ENSG00000444444", "ENSG00000555555.9"],
    }
    np.testing.assert_allclose(mapped["TP53"], X["ENSG00000141510.17"])
    np.testing.assert_allclose(mapped["MYC"], X[IDS[4:7]].mean(axis=1))
    np.testing.assert_allclose(mapped["GAPDH"], X[IDS[7:9]].mean(axis=1))


def test_map_gene_ids_report_table_and_text(X, table):
    _, report = map_gene_ids(X, table)
    frame = report.to_frame()
    assert list(frame.columns) == ["step", "count"]
    assert frame["count"].tolist() == [9, 5, 2, 5, 2, 4]
    assert frame["step"].iloc[2] == "IDs without a symbol (dropped)"
    text = str(report)
    assert text.splitlines()[0] == "Gene ID mapping: 9 IDs -> 4 genes"
    assert "unmapped, e.g.: ENSG00000000001.3, ENSG00000000002" in text
    assert "MYC <- ENSG00000111111.1+ENSG00000222222+ENSG00000333333.2" in text


@pytest.mark.parametrize("how", ["sum", "first"])
def test_map_gene_ids_other_aggregates(X, table, how):
    mapped, report = map_gene_ids(X, table, aggregate=how)
    expected = X[IDS[4:7]].sum(axis=1) if how == "sum" else X[IDS[4]]
    np.testing.assert_allclose(mapped["MYC"], expected)
    assert report.aggregate == how and f"merged by {how}" in report.to_frame()["step"].iloc[3]


def test_map_gene_ids_keep_unmapped_and_sort(X, table):
    mapped, report = map_gene_ids(X, table, drop_unmapped=False)
    assert list(mapped.columns) == ["TP53", "EGFR", "ENSG00000000001", "ENSG00000000002", "MYC", "GAPDH"]
    assert report.n_unmapped == 2 and report.n_output == 6
    np.testing.assert_allclose(mapped["ENSG00000000001"], X["ENSG00000000001.3"])
    assert "kept under their ID" in report.to_frame()["step"].iloc[2]
    ordered, _ = map_gene_ids(X, table, sort=True)
    assert list(ordered.columns) == ["EGFR", "GAPDH", "MYC", "TP53"]


def test_map_gene_ids_integer_counts_and_table_file(tmp_path, X, table):
    counts = X.astype(np.int64)
    path = tmp_path / "ensembl_to_symbol.tsv"
    table.rename(columns={"ensembl_id": "gene_id", "symbol": "gene_name"}).to_csv(path, sep="\t", index=False)
    summed, _ = map_gene_ids(counts, path, id_column="gene_id", symbol_column="gene_name", aggregate="sum")
    assert summed["MYC"].dtype == np.int64
    averaged, _ = map_gene_ids(counts, path, id_column="gene_id", symbol_column="gene_name")
    assert averaged["MYC"].dtype == np.float64
    np.testing.assert_allclose(averaged["MYC"], counts[IDS[4:7]].mean(axis=1))


def test_map_gene_ids_errors(X, table):
    conflicting = pd.concat([table, pd.DataFrame({"ensembl_id": ["ENSG00000146648.7"], "symbol": ["ERBB1"]})])
    with pytest.raises(
        OmicsInputError,
        match=r"maps 1 ID\(s\) to more than one symbol, e.g. 'ENSG00000146648' -> EGFR, ERBB1",
    ):
        map_gene_ids(X, conflicting)
    with pytest.raises(
        OmicsInputError,
        match="aggregate='median' is not supported; pass one of 'mean', 'sum', 'first'",
    ):
        map_gene_ids(X, table, aggregate="median")
    with pytest.raises(
        OmicsInputError,
        match=r"id_column 'ensembl' not found in the mapping table \(did you mean 'ensembl_id'",
    ):
        map_gene_ids(X, table, id_column="ensembl")
    with pytest.raises(OmicsInputError, match=r"symbol_column 'gene' not found"):
        map_gene_ids(X, table, symbol_column="gene")
    with_label = X.assign(cancer_type="BRCA")
    with pytest.raises(OmicsInputError, match=r"X column 'cancer_type' is not numeric"):
        map_gene_ids(with_label, table)
    with pytest.raises(OmicsInputError, match=r"none of the 2 gene IDs of X is in the mapping table"):
        map_gene_ids(pd.DataFrame(np.ones((2, 2)), columns=["TP53", "EGFR"]), table)
    with pytest.raises(OmicsInputError, match="must be a pandas DataFrame"):
        map_gene_ids(X.to_numpy(), table)
    with pytest.raises(OmicsInputError, match="file not found"):
        map_gene_ids(X, "no_such_table.csv")
