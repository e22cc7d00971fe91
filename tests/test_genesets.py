"""Tests for omicsnb.data.genesets: GMT reading and writing, membership matrices and size filtering."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from omicsnb.data.genesets import (
    filter_gene_sets,
    gene_set_coverage,
    gene_sets_to_membership,
    read_gmt,
    write_gmt,
)
from omicsnb.validation import OmicsInputError

SETS = {
    "HALLMARK_P53_PATHWAY": ["TP53", "CDKN1A", "MDM2", "BAX"],
    "IFN_RESPONSE": ["ISG15", "IFIT1", "MX1"],
    "PROLIFERATION": ["MKI67", "TOP2A", "TP53"],
}


# ----------------------------------------------------------------------------------------------------------------------
# read / write
# ----------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sets.gmt", "sets.gmt.gz"])
def test_write_then_read_round_trip(tmp_path, name):
    path = write_gmt(SETS, tmp_path / name, descriptions={"IFN_RESPONSE": "interferon programme"})
    assert path == tmp_path / name
    assert read_gmt(path) == SETS
    sets, descriptions = read_gmt(path, return_descriptions=True)
    assert descriptions == {"HALLMARK_P53_PATHWAY": "NA", "IFN_RESPONSE": "interferon programme", "PROLIFERATION": "NA"}
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as handle:
            assert handle.readline().startswith("HALLMARK_P53_PATHWAY\tNA\tTP53\t")


def test_read_gmt_tolerates_blank_lines_crlf_trailing_tabs_and_repeats(tmp_path):
    path = tmp_path / "messy.gmt"
    path.write_bytes(b"SET_A\thttp://x\tTp53\tMDM2\t\t\r\n\r\n  SET_B \tdesc\tMX1\tMX1\tISG15\n")
    assert read_gmt(path) == {"SET_A": ["Tp53", "MDM2"], "SET_B": ["MX1", "ISG15"]}
    assert read_gmt(path, uppercase=True)["SET_A"] == ["TP53", "MDM2"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("A\tdesc\tG1\nB desc G1 G2\n", r"line 2: expected name<TAB>description<TAB>gene\.\.\., found 1 tab-separated"),
        ("A\tdesc\tG1\n\tdesc\tG2\n", r"line 2: the gene set name \(first field\) is empty"),
        ("A\tdesc\tG1\n\nA\tdesc\tG2\n", r"line 3: gene set 'A' is already defined on line 1"),
        ("A\tdesc\t\t\n", r"line 1: gene set 'A' has no genes"),
        ("A\tdesc\tTP53 MDM2\n", r"line 1: gene 'TP53 MDM2' contains a space"),
        ("\n\n", "contains no gene sets"),
    ],
)
def test_read_gmt_format_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.gmt"
    path.write_text(content)
    with pytest.raises(OmicsInputError, match=message):
        read_gmt(path)


def test_read_gmt_missing_and_binary_files(tmp_path):
    with pytest.raises(OmicsInputError, match="file not found"):
        read_gmt(tmp_path / "absent.gmt")
    binary = tmp_path / "binary.gmt"
    binary.write_bytes(b"\xff\xfe\x00A\tB\tC")
    with pytest.raises(OmicsInputError, match="not UTF-8 text"):
        read_gmt(binary)


def test_write_gmt_never_overwrites_unless_asked(tmp_path):
    path = tmp_path / "mine.gmt"
    path.write_text("KEEP\tme\tG1\n")
    with pytest.raises(OmicsInputError, match=r"mine.gmt already exists; pass overwrite=True"):
        write_gmt(SETS, path)
    assert path.read_text() == "KEEP\tme\tG1\n"
    write_gmt(SETS, path, overwrite=True)
    assert read_gmt(path) == SETS


@pytest.mark.parametrize(
    "sets, kwargs, message",
    [
        ({}, {}, "non-empty dict"),
        ({"A": []}, {}, "gene set 'A' is empty"),
        ({"A": "TP53"}, {}, "must be a list of gene names"),
        ({"A": ["TP53", "TP53"]}, {}, "lists 'TP53' twice"),
        ({"A\tB": ["TP53"]}, {}, "contains a tab or newline"),
        ({"A": ["TP53", ""]}, {}, "must be a non-empty string"),
        ({"A": ["TP53"]}, {"descriptions": {"B": "x"}}, r"descriptions given for 1 unknown gene set\(s\), e.g. 'B'"),
        ({"A": ["TP53"]}, {"descriptions": {"A": "line\nbreak"}}, "contains a tab or newline"),
    ],
)
def test_write_gmt_validates(tmp_path, sets, kwargs, message):
    path = tmp_path / "out.gmt"
    with pytest.raises(OmicsInputError, match=message):
        write_gmt(sets, path, **kwargs)
    assert not path.exists()


def test_write_gmt_missing_folder(tmp_path):
    with pytest.raises(OmicsInputError, match="does not exist; create it first"):
        write_gmt(SETS, tmp_path / "no" / "such" / "out.gmt")


# ----------------------------------------------------------------------------------------------------------------------
# membership, coverage, filtering
# ----------------------------------------------------------------------------------------------------------------------
UNIVERSE = ["MKI67", "TP53", "MDM2", "MX1", "GAPDH", "BAX"]


def test_membership_matrix():
    membership = gene_sets_to_membership(SETS, UNIVERSE)
    assert membership.dtypes.eq(bool).all()
    assert list(membership.index) == UNIVERSE and list(membership.columns) == list(SETS)
    expected = {
        "HALLMARK_P53_PATHWAY": ["TP53", "MDM2", "BAX"],
        "IFN_RESPONSE": ["MX1"],
        "PROLIFERATION": ["MKI67", "TP53"],
    }
    for name, members in expected.items():
        assert sorted(membership.index[membership[name]]) == sorted(members)
    assert not membership.loc["GAPDH"].any()
    assert int(membership.to_numpy().sum()) == 6


def test_membership_warns_for_sets_outside_the_universe_and_fails_without_overlap():
    with pytest.warns(UserWarning, match=r"1 gene set\(s\) have no gene in the data, e.g. 'IFN_RESPONSE'"):
        membership = gene_sets_to_membership(SETS, ["TP53", "MKI67"])
    assert not membership["IFN_RESPONSE"].any()
    with pytest.raises(OmicsInputError, match=r"no gene of any set is among the 2 genes .*uppercase=True"):
        gene_sets_to_membership(SETS, ["ENSG00000141510", "ENSG00000146648"])
    with pytest.raises(OmicsInputError, match="genes lists 'TP53' more than once"):
        gene_sets_to_membership(SETS, ["TP53", "TP53"])
    with pytest.raises(OmicsInputError, match="not a single string"):
        gene_sets_to_membership(SETS, "TP53")
    with pytest.raises(OmicsInputError, match="universe\\) is empty"):
        gene_sets_to_membership(SETS, [])


def test_uppercase_matching_keeps_the_data_spelling():
    mouse = {"T_CELL": ["Cd4", "Cd8a", "Cd3e"]}
    universe = pd.Index(["CD4", "CD3E", "ACTB"])
    with pytest.raises(OmicsInputError, match="no gene of any set"):
        gene_sets_to_membership(mouse, universe)
    membership = gene_sets_to_membership(mouse, universe, uppercase=True)
    assert membership["T_CELL"].tolist() == [True, True, False]
    assert filter_gene_sets(mouse, universe, 1, 5, uppercase=True) == {"T_CELL": ["CD4", "CD3E"]}
    with pytest.raises(OmicsInputError, match=r"'CD4' more than once \(after upper-casing\)"):
        gene_sets_to_membership(mouse, ["CD4", "Cd4"], uppercase=True)


def test_gene_set_coverage():
    coverage = gene_set_coverage(SETS, UNIVERSE)
    assert coverage["size"].tolist() == [4, 3, 3]
    assert coverage["n_found"].tolist() == [3, 1, 2]
    np.testing.assert_allclose(coverage["fraction"], [0.75, 1 / 3, 2 / 3])
    assert coverage.index.name == "gene_set"


def test_filter_gene_sets_counts_sizes_after_restriction():
    kept = filter_gene_sets(SETS, UNIVERSE, min_size=2, max_size=3)
    assert kept == {"HALLMARK_P53_PATHWAY": ["TP53", "MDM2", "BAX"], "PROLIFERATION": ["MKI67", "TP53"]}
    assert list(filter_gene_sets(SETS, UNIVERSE, min_size=1, max_size=2)) == ["IFN_RESPONSE", "PROLIFERATION"]
    with pytest.raises(
        OmicsInputError,
        match=r"no gene set has between 15 and 500 genes in the data \(largest overlap: 3\)",
    ):
        filter_gene_sets(SETS, UNIVERSE)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_size": 0}, "min_size=0 must be a positive integer"),
        ({"min_size": 2.5}, "min_size=2.5 must be a positive integer"),
        ({"max_size": True}, "max_size=True must be a positive integer"),
        ({"min_size": 5, "max_size": 3}, "max_size=3 is smaller than min_size=5"),
    ],
)
def test_filter_gene_sets_bad_sizes(kwargs, message):
    with pytest.raises(OmicsInputError, match=message):
        filter_gene_sets(SETS, UNIVERSE, **kwargs)


def test_bad_gene_set_collections():
    with pytest.raises(OmicsInputError, match="non-empty dict"):
        gene_set_coverage([], UNIVERSE)
    with pytest.raises(OmicsInputError, match="not the string 'TP53'"):
        gene_set_coverage({"A": "TP53"}, UNIVERSE)
