"""Tests for omicsnb.data.loaders, on small files in every supported format written by the tests themselves."""

from __future__ import annotations

import gzip
import sys
import types

import h5py
import numpy as np
import pandas as pd
import pytest

from omicsnb.data.loaders import ExpressionData, load_archs4, load_expression, load_xena
from omicsnb.validation import OmicsInputError

GENES = ["TP53", "EGFR", "MYC", "GAPDH", "HLA-DRB1"]
SAMPLES = [f"S{i}" for i in range(1, 7)]
LABELS = ["BRCA", "BRCA", "LUAD", "LUAD", "COAD", "COAD"]


@pytest.fixture
def expression() -> pd.DataFrame:
    values = np.arange(30, dtype=float).reshape(6, 5) / 4
    return pd.DataFrame(values, index=pd.Index(SAMPLES, name="sample"), columns=GENES)


@pytest.fixture
def labelled(expression) -> pd.DataFrame:
    """Samples x genes with a sample column, a label column and a metadata column, as a reader would export it."""
    frame = expression.reset_index()
    frame.insert(1, "cancer_type", LABELS)
    frame.insert(2, "age", [50, 61, 47, 70, 58, 66])
    return frame


# ----------------------------------------------------------------------------------------------------------------------
# Formats and orientations
# ----------------------------------------------------------------------------------------------------------------------
def check_matrix(data: ExpressionData, expression: pd.DataFrame) -> None:
    assert isinstance(data, ExpressionData)
    assert list(data.X.index) == SAMPLES and list(data.X.columns) == GENES
    assert data.X.dtypes.eq(np.float64).all()
    np.testing.assert_allclose(data.X.to_numpy(), expression.to_numpy())
    assert (data.n_samples, data.n_genes) == (6, 5)


def test_csv_samples_by_genes_with_label_and_metadata(tmp_path, labelled, expression):
    path = tmp_path / "cohort.csv"
    labelled.to_csv(path, index=False)
    data = load_expression(path, label_column="cancer_type", metadata_columns=["age"])
    check_matrix(data, expression)
    assert data.y.name == "cancer_type" and list(data.y) == LABELS and data.y.index.equals(data.X.index)
    assert list(data.meta.columns) == ["age"] and data.meta["age"].tolist()[:2] == [50, 61]
    assert data.X.index.name == "sample"
    text = repr(data)
    assert "6 samples x 5 genes from cohort.csv" in text and "3 classes" in text and "metadata: age" in text
    explicit = load_expression(path, sample_id_column="sample", label_column="cancer_type", metadata_columns="age")
    assert explicit.X.equals(data.X)


@pytest.mark.parametrize("name, sep", [("m.tsv", "\t"), ("m.txt", "\t"), ("m.csv.gz", ","), ("m.tsv.gz", "\t")])
def test_text_formats_and_gzip(tmp_path, labelled, expression, name, sep):
    path = tmp_path / name
    labelled.to_csv(path, sep=sep, index=False)  # pandas gzips by extension
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as handle:
            assert handle.readline().startswith("sample")
    data = load_expression(path, label_column="cancer_type", metadata_columns=["age"])
    check_matrix(data, expression)


def test_custom_separator_and_extensionless_file(tmp_path, expression):
    path = tmp_path / "matrix_semicolon.csv"
    expression.to_csv(path, sep=";")
    check_matrix(load_expression(path, sep=";"), expression)
    bare = tmp_path / "tcga_matrix"
    expression.T.to_csv(bare, sep="\t")
    check_matrix(load_expression(bare, sep="\t", orientation="genes_by_samples"), expression)


def test_parquet_with_index_and_with_column(tmp_path, labelled, expression):
    path = tmp_path / "m.parquet"
    expression.to_parquet(path)  # index "sample" stored by pandas
    check_matrix(load_expression(path), expression)
    path2 = tmp_path / "m2.parquet"
    labelled.to_parquet(path2, index=False)
    data = load_expression(path2, label_column="cancer_type", metadata_columns=["age"])
    check_matrix(data, expression)


def test_csv_genes_by_samples_is_detected_and_transposed(tmp_path, expression):
    ensembl = [f"ENSG0000014151{i}.{i + 2}" for i in range(5)]
    frame = expression.set_axis(ensembl, axis=1).T
    frame.index.name = "gene_id"
    path = tmp_path / "genes_by_samples.csv"
    frame.to_csv(path)
    data = load_expression(path)
    assert list(data.X.index) == SAMPLES and list(data.X.columns) == ensembl
    np.testing.assert_allclose(data.X.to_numpy(), expression.to_numpy())
    assert data.y is None and data.meta.shape == (6, 0)
    forced = load_expression(path, orientation="genes_by_samples")
    assert forced.X.equals(data.X)


def test_orientation_from_sample_barcodes_and_symbols(tmp_path, expression):
    barcodes = [f"TCGA-A{i}-000{i}-01" for i in range(6)]
    frame = expression.set_axis(barcodes, axis=0).T  # genes (symbols) as rows, barcodes as columns
    path = tmp_path / "xena_like.tsv"
    frame.to_csv(path, sep="\t")
    data = load_expression(path)
    assert list(data.X.index) == barcodes and list(data.X.columns) == GENES
    # symbols as columns, no sample IDs at all: rows numbered 0..n-1
    path2 = tmp_path / "no_ids.csv"
    expression.to_csv(path2, index=False)
    plain = load_expression(path2)
    assert list(plain.X.index) == list(range(6)) and list(plain.X.columns) == GENES


def test_numeric_gene_ids_in_genes_by_samples_file(tmp_path, expression):
    barcodes = [f"TCGA-A{i}-000{i}-01" for i in range(6)]
    frame = expression.set_axis(barcodes, axis=0).set_axis([7157, 1956, 4609, 2597, 3123], axis=1).T
    frame.index.name = "entrez"
    path = tmp_path / "entrez.tsv"
    frame.to_csv(path, sep="\t")
    data = load_expression(path)  # detected from the barcodes; the numeric first column is the gene ID
    assert list(data.X.columns) == [7157, 1956, 4609, 2597, 3123] and list(data.X.index) == barcodes
    np.testing.assert_allclose(data.X.to_numpy(), expression.to_numpy())


def test_r_style_header_one_field_short(tmp_path, expression):
    path = tmp_path / "r_export.tsv"
    lines = ["\t".join(GENES)] + [
        "\t".join([s, *map(str, row)]) for s, row in zip(SAMPLES, expression.to_numpy())
    ]
    path.write_text("\n".join(lines) + "\n")
    check_matrix(load_expression(path), expression)


def test_ambiguous_orientation_asks_for_it(tmp_path):
    frame = pd.DataFrame(np.ones((3, 3)), index=["A1", "B2", "C3"], columns=["X1", "Y2", "Z3"])
    path = tmp_path / "ambiguous.csv"
    frame.to_csv(path)
    with pytest.raises(
        OmicsInputError,
        match="cannot tell whether the rows of ambiguous.csv are samples or genes.*orientation=",
    ):
        load_expression(path)
    assert load_expression(path, orientation="genes_by_samples").X.shape == (3, 3)


# ----------------------------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------------------------
def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(OmicsInputError, match="file not found: .*nope.csv; check the path"):
        load_expression(tmp_path / "nope.csv")
    with pytest.raises(OmicsInputError, match="is a directory"):
        load_expression(tmp_path)
    weird = tmp_path / "matrix.xlsx"
    weird.write_bytes(b"PK\x03\x04")
    with pytest.raises(OmicsInputError, match=r"unknown file format for matrix.xlsx; use .csv, .tsv.*sep="):
        load_expression(weird)
    with pytest.raises(OmicsInputError, match="orientation='sideways' is not known"):
        load_expression(weird, orientation="sideways")


def test_label_column_absent_suggests_and_lists(tmp_path, labelled):
    path = tmp_path / "cohort.csv"
    labelled.to_csv(path, index=False)
    with pytest.raises(
        OmicsInputError,
        match=r"label column 'cancer_typ' not found in cohort.csv \(did you mean 'cancer_type'\?\); "
        r"available columns: sample, cancer_type, age, TP53",
    ):
        load_expression(path, label_column="cancer_typ")
    with pytest.raises(OmicsInputError, match=r"label column 'zzz' not found in cohort.csv; available columns"):
        load_expression(path, label_column="zzz")
    with pytest.raises(OmicsInputError, match=r"sample ID column 'Sample' not found.*did you mean 'sample'"):
        load_expression(path, sample_id_column="Sample", label_column="cancer_type", metadata_columns=["age"])
    with pytest.raises(OmicsInputError, match=r"metadata column 'ages' not found.*did you mean 'age'"):
        load_expression(path, label_column="cancer_type", metadata_columns=["ages"])
    with pytest.raises(OmicsInputError, match="given twice"):
        load_expression(path, label_column="cancer_type", metadata_columns=["cancer_type"])
    with pytest.raises(OmicsInputError, match="need samples as rows"):
        load_expression(path, label_column="cancer_type", orientation="genes_by_samples")


def test_non_numeric_expression_names_the_column(tmp_path, labelled):
    path = tmp_path / "cohort.csv"
    labelled.to_csv(path, index=False)
    with pytest.raises(
        OmicsInputError,
        match=r"expression in cohort.csv column 'cancer_type' is not numeric .*metadata_columns=",
    ):
        load_expression(path, metadata_columns=["age"])
    labelled["MYC"] = labelled["MYC"].astype(object)
    labelled.loc[3, "MYC"] = "n/a?"
    labelled.to_csv(path, index=False)
    with pytest.raises(OmicsInputError, match=r"column 'MYC' is not numeric \(e.g. 'n/a\?' in row 'S4'\)"):
        load_expression(path, label_column="cancer_type", metadata_columns=["age"])


def test_non_numeric_sample_in_genes_by_samples_file(tmp_path, expression):
    frame = expression.T.astype(object)
    frame.loc["MYC", "S3"] = "high"
    path = tmp_path / "gbs.tsv"
    frame.to_csv(path, sep="\t")
    with pytest.raises(OmicsInputError, match=r"column 'S3' is not numeric \(e.g. 'high' in row 'MYC'\)"):
        load_expression(path, orientation="genes_by_samples")


def test_nan_rejected_unless_allowed(tmp_path, expression):
    expression.loc["S2", "EGFR"] = np.nan
    path = tmp_path / "holes.csv"
    expression.to_csv(path)
    with pytest.raises(
        OmicsInputError,
        match=r"1 missing \(NaN\) value\(s\) \(first at sample 'S2', gene 'EGFR'\).*allow_nan=True",
    ):
        load_expression(path)
    data = load_expression(path, allow_nan=True)
    assert np.isnan(data.X.loc["S2", "EGFR"]) and int(data.X.isna().sum().sum()) == 1


def test_duplicated_sample_ids_and_gene_names(tmp_path, expression):
    path = tmp_path / "dup_samples.csv"
    expression.set_axis(["S1", "S2", "S3", "S3", "S5", "S6"], axis=0).to_csv(path)
    with pytest.raises(OmicsInputError, match=r"1 duplicated sample ID\(s\), e.g. 'S3' \(IDs from the first column"):
        load_expression(path)
    labelled_dup = expression.reset_index().assign(sample=["S1", "S1", "S3", "S4", "S5", "S6"])
    labelled_dup.insert(1, "cancer_type", LABELS)
    labelled_dup.to_csv(path, index=False)
    with pytest.raises(OmicsInputError, match=r"e.g. 'S1' \(IDs from column 'sample'; pass sample_id_column="):
        load_expression(path, label_column="cancer_type")
    path = tmp_path / "dup_genes.csv"
    expression.set_axis(["TP53", "EGFR", "TP53", "GAPDH", "MYC"], axis=1).to_csv(path)
    with pytest.raises(OmicsInputError, match=r"1 duplicated gene name\(s\), e.g. 'TP53'.*map_gene_ids"):
        load_expression(path)
    path = tmp_path / "dup_gene_rows.tsv"
    expression.T.set_axis(["TP53", "EGFR", "MYC", "MYC", "GAPDH"], axis=0).to_csv(path, sep="\t")
    with pytest.raises(OmicsInputError, match=r"duplicated gene name\(s\), e.g. 'MYC'"):
        load_expression(path, orientation="genes_by_samples")
    path = tmp_path / "dup_sample_columns.tsv"
    expression.T.set_axis(["S1", "S1", "S3", "S4", "S5", "S6"], axis=1).to_csv(path, sep="\t")
    with pytest.raises(OmicsInputError, match=r"duplicated sample ID\(s\), e.g. 'S1'"):
        load_expression(path, orientation="genes_by_samples")


def test_empty_inputs(tmp_path, labelled):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(OmicsInputError, match="empty.csv is empty"):
        load_expression(path)
    header_only = tmp_path / "header_only.csv"
    header_only.write_text("sample,TP53,EGFR\n")
    with pytest.raises(OmicsInputError, match="has no samples"):
        load_expression(header_only, orientation="samples_by_genes")
    only_meta = tmp_path / "only_meta.csv"
    labelled[["sample", "cancer_type"]].to_csv(only_meta, index=False)
    with pytest.raises(OmicsInputError, match="has no expression columns"):
        load_expression(only_meta, label_column="cancer_type")


def test_h5ad_without_anndata_gives_install_hint(tmp_path, monkeypatch):
    path = tmp_path / "cells.h5ad"
    path.write_bytes(b"\x89HDF\r\n")
    monkeypatch.setitem(sys.modules, "anndata", None)  # makes `import anndata` fail even where it is installed
    with pytest.raises(OmicsInputError, match=r"needs the optional package anndata: run `pip install anndata`"):
        load_expression(path)


def test_h5ad_with_anndata(tmp_path, monkeypatch, expression):
    """The .h5ad path, with a stand-in for anndata.read_h5ad (anndata is not a dependency)."""
    obs = pd.DataFrame({"cell_type": LABELS, "batch": list("ababab")}, index=expression.index)

    class FakeAnnData:
        def __init__(self):
            self.obs = obs

        def to_df(self):
            return expression.copy()

    fake = types.ModuleType("anndata")
    fake.read_h5ad = lambda path: FakeAnnData()
    monkeypatch.setitem(sys.modules, "anndata", fake)
    path = tmp_path / "cells.h5ad"
    path.write_bytes(b"")
    data = load_expression(path, label_column="cell_type", metadata_columns=["batch"])
    check_matrix(data, expression)
    assert list(data.y) == LABELS and list(data.meta.columns) == ["batch"]
    with pytest.raises(OmicsInputError, match=r"label column 'celltype' not found in cells.h5ad \(obs\).*'cell_type'"):
        load_expression(path, label_column="celltype")


def test_expression_data_checks_alignment(expression):
    with pytest.raises(OmicsInputError, match="must be a DataFrame"):
        ExpressionData(X=expression.to_numpy())
    with pytest.raises(OmicsInputError, match="same index"):
        ExpressionData(X=expression, y=pd.Series(LABELS[::-1], index=expression.index[::-1]))


# ----------------------------------------------------------------------------------------------------------------------
# UCSC Xena recipe
# ----------------------------------------------------------------------------------------------------------------------
@pytest.fixture
def xena_files(tmp_path):
    rng = np.random.default_rng(0)
    barcodes = [f"TCGA-0{i}-AB{i}C-01" for i in range(5)]
    genes = ["ENSG00000141510.17", "ENSG00000146648.18", "ENSG00000136997.21"]
    log_values = np.log2(rng.poisson(50, size=(3, 5)) + 1.0)
    matrix = pd.DataFrame(log_values, index=pd.Index(genes, name="sample"), columns=barcodes)
    matrix_path = tmp_path / "tcga_expression.tsv.gz"
    matrix.to_csv(matrix_path, sep="\t")
    phenotype = pd.DataFrame(
        {
            "sample": [barcodes[3], barcodes[0], barcodes[1], "TCGA-99-ZZZZ-01", barcodes[4]],
            "_primary_disease": ["breast", "lung", "lung", "colon", None],
            "sample_type": ["Primary Tumor"] * 5,
        }
    )
    phenotype_path = tmp_path / "phenotype.tsv"
    phenotype.to_csv(phenotype_path, sep="\t", index=False)
    return matrix_path, phenotype_path, matrix, barcodes


def test_load_xena_aligns_and_reports(xena_files, caplog):
    matrix_path, phenotype_path, matrix, barcodes = xena_files
    with caplog.at_level("INFO", logger="omicsnb.data.loaders"):
        data = load_xena(matrix_path, phenotype_path, label_column="_primary_disease")
    kept = [barcodes[0], barcodes[1], barcodes[3], barcodes[4]]  # matrix order; barcodes[2] has no phenotype row
    assert list(data.X.index) == kept and data.X.index.name == "sample"
    assert list(data.X.columns) == list(matrix.index)
    np.testing.assert_allclose(data.X.to_numpy(), matrix[kept].T.to_numpy())
    assert data.y.tolist()[:3] == ["lung", "lung", "breast"] and pd.isna(data.y.iloc[3])
    assert list(data.meta.columns) == ["sample_type"]
    a = data.alignment
    assert (a.n_matrix, a.n_phenotype, a.n_shared) == (5, 5, 4)
    assert a.dropped_from_matrix == [barcodes[2]] and a.dropped_from_phenotype == ["TCGA-99-ZZZZ-01"]
    assert a.n_missing_label == 1
    assert "1 of 5 matrix samples had no phenotype row" in str(a) and "alignment:" in repr(data)
    assert "4 samples kept" in caplog.text


def test_load_xena_extensionless_downloads(tmp_path, xena_files):
    matrix_path, phenotype_path, matrix, barcodes = xena_files
    bare_matrix, bare_phenotype = tmp_path / "tcga_RSEM_gene_tpm", tmp_path / "TCGA_phenotype_denseDataOnlyDownload"
    matrix.to_csv(bare_matrix, sep="\t")
    bare_phenotype.write_bytes(phenotype_path.read_bytes())
    with pytest.raises(OmicsInputError, match="unknown file format for tcga_RSEM_gene_tpm.*sep="):
        load_xena(bare_matrix, bare_phenotype, label_column="_primary_disease")
    data = load_xena(bare_matrix, bare_phenotype, label_column="_primary_disease", sep="\t")
    assert data.n_samples == 4 and data.alignment.n_shared == 4


def test_load_xena_errors(tmp_path, xena_files):
    matrix_path, phenotype_path, _, _ = xena_files
    with pytest.raises(
        OmicsInputError,
        match=r"label column 'primary_disease' not found in phenotype.tsv \(did you mean '_primary_disease'",
    ):
        load_xena(matrix_path, phenotype_path, label_column="primary_disease")
    with pytest.raises(OmicsInputError, match=r"sample column 'barcode' not found in phenotype.tsv"):
        load_xena(matrix_path, phenotype_path, label_column="_primary_disease", phenotype_sample_column="barcode")
    patients = pd.DataFrame({"patient": ["TCGA-00-AB0C", "TCGA-01-AB1C"], "type": ["a", "b"]})
    patients_path = tmp_path / "patients.csv"
    patients.to_csv(patients_path, index=False)
    with pytest.raises(OmicsInputError, match=r"no sample ID is shared by tcga_expression.tsv.gz .*barcode length"):
        load_xena(matrix_path, patients_path, label_column="type", phenotype_sample_column="patient")
    duplicated = pd.DataFrame({"sample": ["TCGA-00-AB0C-01"] * 2, "type": ["a", "b"]})
    duplicated_path = tmp_path / "dup.csv"
    duplicated.to_csv(duplicated_path, index=False)
    with pytest.raises(OmicsInputError, match=r"1 duplicated sample ID\(s\) in 'sample', e.g. 'TCGA-00-AB0C-01'"):
        load_xena(matrix_path, duplicated_path, label_column="type")
    with pytest.raises(OmicsInputError, match="file not found"):
        load_xena(matrix_path, tmp_path / "missing.tsv", label_column="type")


# ----------------------------------------------------------------------------------------------------------------------
# ARCHS4 recipe
# ----------------------------------------------------------------------------------------------------------------------
N_GENES, N_SAMPLES = 6, 11
ARCHS4_SYMBOLS = ["TP53", "EGFR", "MYC", "GAPDH", "ACTB", "MYC"]  # ARCHS4 symbols repeat


@pytest.fixture
def archs4_file(tmp_path):
    counts = np.arange(N_GENES * N_SAMPLES, dtype=np.uint32).reshape(N_GENES, N_SAMPLES)  # genes x samples
    path = tmp_path / "human_gene_v2.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data/expression", data=counts, chunks=(N_GENES, 2))
        strings = h5py.string_dtype()
        handle.create_dataset("meta/genes/symbol", data=ARCHS4_SYMBOLS, dtype=strings)
        handle.create_dataset("meta/genes/ensembl_gene", data=[f"ENSG{i:011d}" for i in range(N_GENES)], dtype=strings)
        accessions = [f"GSM{100 + j}" for j in range(N_SAMPLES)]
        handle.create_dataset("meta/samples/geo_accession", data=accessions, dtype=strings)
        tissues = ["liver", "lung", "blood"] * 4
        handle.create_dataset("meta/samples/source_name_ch1", data=tissues[:N_SAMPLES], dtype=strings)
        handle.create_dataset("meta/samples/series_id", data=[f"GSE{j // 4}".encode() for j in range(N_SAMPLES)])
        handle.create_dataset("meta/samples/readsaligned", data=np.arange(N_SAMPLES) * 1000)
    return path, counts


def test_load_archs4_reads_in_chunks_without_loading_the_matrix(archs4_file, monkeypatch):
    path, counts = archs4_file
    destinations, original_read, original_getitem = [], h5py.Dataset.read_direct, h5py.Dataset.__getitem__

    def spy_read(self, dest, source_sel=None, dest_sel=None):
        destinations.append(dest)  # kept alive, so ids stay distinct
        return original_read(self, dest, source_sel, dest_sel)

    def no_fancy_read(self, key):
        assert self.name != "/data/expression", "the matrix must be read block by block with read_direct"
        return original_getitem(self, key)

    monkeypatch.setattr(h5py.Dataset, "read_direct", spy_read)
    monkeypatch.setattr(h5py.Dataset, "__getitem__", no_fancy_read)
    wanted = ["GSM109", "GSM101", "GSM102", "GSM107", "GSM104", "GSM105", "GSM100"]
    data = load_archs4(path, samples=wanted, chunk_size=3, label_field="source_name_ch1",
                       gene_field="ensembl_gene", progress=False)
    blocks = {id(d): d.shape for d in destinations}
    assert sorted(shape[1] for shape in blocks.values()) == [1, 3, 3]  # 7 samples in blocks of 3, never all 11
    assert len(destinations) > len(blocks)  # scattered samples: several runs per block
    assert list(data.X.index) == wanted and data.X.index.name == "geo_accession"
    columns = [int(s[3:]) - 100 for s in wanted]
    np.testing.assert_array_equal(data.X.to_numpy(), counts[:, columns].T)  # raw counts, samples as rows
    assert data.X.dtypes.eq(np.float64).all()
    assert data.y.tolist() == ["liver", "lung", "blood", "lung", "lung", "blood", "liver"]
    assert list(data.meta.columns) == ["readsaligned", "series_id"]
    assert data.meta["series_id"].tolist() == ["GSE2", "GSE0", "GSE0", "GSE1", "GSE1", "GSE1", "GSE0"]
    assert data.meta["readsaligned"].tolist() == [c * 1000 for c in columns]


def test_load_archs4_positions_genes_and_duplicate_symbols(archs4_file):
    path, counts = archs4_file
    subset = load_archs4(path, samples=[4, 5, 6, 7], genes=["EGFR", "TP53"], meta_fields=[], progress=False)
    assert list(subset.X.columns) == ["TP53", "EGFR"]  # file order
    np.testing.assert_array_equal(subset.X.to_numpy(), counts[:2, 4:8].T)
    assert subset.meta.shape == (4, 0) and subset.y is None
    with pytest.raises(
        OmicsInputError,
        match=r"1 symbol name\(s\) occur more than once .*'MYC'.*aggregate_duplicates='sum'",
    ):
        load_archs4(path, samples=[0, 1], progress=False)
    summed = load_archs4(path, samples=[0, 1], aggregate_duplicates="sum", progress=False)
    assert list(summed.X.columns) == ["TP53", "EGFR", "MYC", "GAPDH", "ACTB"]
    np.testing.assert_array_equal(summed.X["MYC"], counts[2, :2] + counts[5, :2])
    everything = load_archs4(path, gene_field="ensembl_gene", chunk_size=4, progress=False)
    np.testing.assert_array_equal(everything.X.to_numpy(), counts.T)


def test_load_archs4_errors(tmp_path, archs4_file):
    path, _ = archs4_file
    with pytest.raises(OmicsInputError, match=r"1 samples not found in human_gene_v2.h5, e.g. 'GSM999'"):
        load_archs4(path, samples=["GSM100", "GSM999"], progress=False)
    with pytest.raises(OmicsInputError, match="position 11 is out of range"):
        load_archs4(path, samples=[11], progress=False)
    with pytest.raises(OmicsInputError, match="lists an entry twice"):
        load_archs4(path, samples=["GSM100", "GSM100"], progress=False)
    with pytest.raises(OmicsInputError, match=r"genes not found .*'TP35'.*did you mean 'TP53'"):
        load_archs4(path, samples=[0], genes=["TP35"], progress=False)
    with pytest.raises(OmicsInputError, match=r"sample field 'tissue' not found .*available columns: "):
        load_archs4(path, samples=[0], label_field="tissue", gene_field="ensembl_gene", progress=False)
    with pytest.raises(
        OmicsInputError,
        match=r"dataset 'meta/genes/gene_symbol' not found in human_gene_v2.h5 "
        r"\(found under 'meta/genes': ensembl_gene, symbol\)",
    ):
        load_archs4(path, samples=[0], gene_field="gene_symbol", progress=False)
    with pytest.raises(OmicsInputError, match="chunk_size=0 must be a positive integer"):
        load_archs4(path, chunk_size=0)
    with pytest.raises(OmicsInputError, match="aggregate='median' is not supported"):
        load_archs4(path, aggregate_duplicates="median")
    broken = tmp_path / "no_matrix.h5"
    with h5py.File(broken, "w") as handle:
        handle.create_dataset("meta/samples/geo_accession", data=["GSM1"], dtype=h5py.string_dtype())
    with pytest.raises(OmicsInputError, match=r"dataset 'data/expression' not found in no_matrix.h5"):
        load_archs4(broken, progress=False)
    transposed = tmp_path / "transposed.h5"
    with h5py.File(transposed, "w") as handle:
        handle.create_dataset("data/expression", data=np.zeros((3, 2)))
        handle.create_dataset("meta/genes/symbol", data=["A", "B"], dtype=h5py.string_dtype())
        handle.create_dataset("meta/samples/geo_accession", data=["G1", "G2", "G3"], dtype=h5py.string_dtype())
    with pytest.raises(OmicsInputError, match=r"has shape \(3, 2\), expected genes x samples = \(2, 3\)"):
        load_archs4(transposed, progress=False)
    not_hdf5 = tmp_path / "fake.h5"
    not_hdf5.write_text("hello")
    with pytest.raises(OmicsInputError, match="not a readable HDF5 file"):
        load_archs4(not_hdf5)


def test_load_gse7390_shapes_grade_and_survival():
    from omicsnb.data.loaders import load_gse7390

    data = load_gse7390()
    assert data.X.shape == (198, 76) and data.X.index[0] == "patient_000" and np.isfinite(data.X.to_numpy()).all()
    assert data.y.name == "grade" and str(data.y.dtype) == "Int64"
    assert data.y.value_counts().to_dict() == {2: 83, 3: 83, 1: 30} and data.y.isna().sum() == 2
    assert set(data.meta["er"]) == {"positive", "negative"} and data.meta["event"].dtype == bool
    assert (data.meta["time"] > 0).all() and int(data.meta["event"].sum()) == 51


# ----------------------------------------------------------------------------------------------------------------------
# What the data contract relies on: text metadata kept, other separators and encodings, barcodes, repeated headers
# ----------------------------------------------------------------------------------------------------------------------
def test_keep_text_columns_keeps_every_other_text_column(tmp_path, labelled, expression):
    frame = labelled.drop(columns="age")
    frame.insert(2, "stage", ["I", "II", "I", "III", "II", "I"])
    frame.insert(3, "treated", [True, False, True, False, True, False])
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(OmicsInputError, match="column 'stage' is not numeric"):
        load_expression(path, label_column="cancer_type")
    data = load_expression(path, label_column="cancer_type", keep_text_columns=True)
    check_matrix(data, expression)
    assert list(data.meta.columns) == ["stage", "treated"]


def test_semicolon_in_a_csv_is_detected(tmp_path, labelled, expression):
    path = tmp_path / "cohort.csv"
    labelled.drop(columns="age").to_csv(path, index=False, sep=";", decimal=".")
    check_matrix(load_expression(path, label_column="cancer_type"), expression)


def test_latin1_file_is_read(tmp_path, labelled, expression):
    frame = labelled.drop(columns="age")
    frame["cancer_type"] = ["Bréast", "Bréast", "Lung", "Lung", "Cölon", "Cölon"]
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False, encoding="latin-1")
    data = load_expression(path, label_column="cancer_type")
    check_matrix(data, expression)
    assert data.y.iloc[0] == "Bréast"


def test_cell_barcodes_are_sample_ids_for_orientation(tmp_path, expression):
    barcodes = ["AAACCTGAGCATCATC-1", "AAACCTGCAGTCAGCC-1", "AAACGGGTCTGATTCT-1", "AAAGATGCATTGCGGC-1",
                "AAAGCAAGTCTTGCGG-1", "AACACGTGGTCTTTAG-1"]
    genes_by_cells = expression.set_axis(barcodes, axis=0).T.rename_axis("gene")
    path = tmp_path / "cells.csv"
    genes_by_cells.to_csv(path)
    data = load_expression(path)  # auto: the column names are barcodes, so rows are genes
    assert list(data.X.index) == barcodes and list(data.X.columns) == GENES


def test_a_repeated_label_column_is_named(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("sample,cancer_type,cancer_type,TP53\nS1,a,a,1.0\nS2,b,b,2.0\n")
    with pytest.raises(OmicsInputError, match="column 'cancer_type' appears 2 times in the header of twice.csv"):
        load_expression(path, label_column="cancer_type")
