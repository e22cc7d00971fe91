"""The data contract (omicsnb.data.contract and load_or_simulate): one rule per test, checked against hand values."""

from __future__ import annotations

import nbformat
import numpy as np
import pandas as pd
import pytest

from omicsnb import data
from omicsnb.data.contract import CONTRACT_DEFAULTS, contract_parameter_lines, read_user_data
from omicsnb.runner import NOTEBOOK_DIR
from omicsnb.validation import OmicsInputError

# chapters whose loading cell passes every contract parameter to load_or_simulate (checked below)
WIRED = ("01_data", "02_baseline", "03_vime", "04_scarf_byol", "05_label_fractions", "06_representations",
         "07_transfer")
INTERNAL_NAMES = ("allow_nan", "metadata_columns", "n_top", "sep=", "orientation=", "label_column=",
                  "sample_id_column=", "load_xena", "keep_text_columns")


def _frame(n_per_class=(6, 6, 6), n_genes=8, seed=0, integer=False):
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"type_{k}" for k in range(len(n_per_class))], n_per_class)
    n = len(labels)
    values = rng.poisson(20, size=(n, n_genes)).astype(float) if integer else rng.normal(5, 1, size=(n, n_genes))
    genes = [f"GENE{j}" for j in range(n_genes)]
    frame = pd.DataFrame(values, columns=genes, index=pd.Index([f"sample_{i}" for i in range(n)], name="sample"))
    frame.insert(0, "cancer_type", labels)
    return frame


def _write(frame, tmp_path, name="data.csv", index=True):
    path = tmp_path / name
    frame.to_csv(path, index=index)
    return str(path)


def _no_internal_names(message: str) -> None:
    assert "\n" not in message
    for name in INTERNAL_NAMES:
        assert name not in message, (name, message)


# ----------------------------------------------------------------------------------------------------------------------
# One place for the parameters, and every chapter uses it
# ----------------------------------------------------------------------------------------------------------------------
def test_contract_lines_are_in_every_chapter_that_takes_user_data():
    lines = contract_parameter_lines()
    assert [line.split(" = ")[0] for line in lines] == list(CONTRACT_DEFAULTS)
    checked = 0
    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        if "data_path = " not in cell.source:
            continue
        present = cell.source.splitlines()
        missing = [line for line in lines if line not in present]
        assert not missing, f"{path.name} lacks contract lines: {missing}"
        checked += 1
        if path.stem in WIRED:
            loader = [c.source for c in nb.cells if "load_or_simulate(" in c.source]
            assert loader and all(f"{name}={name}" in loader[0] for name in CONTRACT_DEFAULTS), path.name
    assert checked >= 7


def test_running_page_documents_every_contract_parameter():
    text = (NOTEBOOK_DIR.parent / "book" / "running.md").read_text()
    for name in CONTRACT_DEFAULTS:
        assert f"| `{name}` |" in text, name
    assert "load_pbmc68k_reduced" in text


def test_misspelt_keyword_is_an_error():
    with pytest.raises(OmicsInputError, match=r"unknown keyword 'n_sample' \(did you mean 'n_samples'\?\)"):
        data.load_or_simulate(n_sample=100)
    with pytest.raises(OmicsInputError, match="unknown keyword 'data_knd'"):
        data.load_or_simulate("x.csv", data_knd="log")


@pytest.mark.parametrize("name, value", [("orientation", "rows"), ("data_kind", "tpm"), ("missing", "zero")])
def test_unknown_choice_names_the_chapter_parameter(name, value):
    with pytest.raises(OmicsInputError, match=rf"{name}='{value}' is not known; pass -p {name} <one of"):
        data.load_or_simulate("x.csv", **{name: value})


def test_min_class_size_must_be_positive():
    with pytest.raises(OmicsInputError, match="-p min_class_size 5"):
        data.load_or_simulate("x.csv", min_class_size=0)


def test_file_parameters_without_data_path_are_refused():
    with pytest.raises(OmicsInputError, match="labels_path is set but data_path is empty; pass -p data_path"):
        data.load_or_simulate(labels_path="labels.csv", n_samples=50)


# ----------------------------------------------------------------------------------------------------------------------
# Orientation and a separate labels file
# ----------------------------------------------------------------------------------------------------------------------
def test_genes_by_samples_with_labels_file(tmp_path):
    frame = _frame()
    matrix = frame.drop(columns="cancer_type").T  # genes x samples
    matrix.index.name = "gene"
    data_path = _write(matrix, tmp_path, "matrix.csv")
    labels = frame[["cancer_type"]].iloc[::-1].reset_index()  # other order; a text column too
    labels["site"] = "left"
    labels_path = _write(labels, tmp_path, "labels.csv", index=False)
    for orientation in ("auto", "genes_by_samples"):
        source = data.load_or_simulate(data_path, labels_path=labels_path, orientation=orientation)
        assert source.log_expression.shape == (18, 8)
        assert list(source.log_expression.index) == list(frame.index)  # the matrix's order
        assert (source.labels.to_numpy() == frame["cancer_type"].to_numpy()).all()
        assert list(source.obs.columns) == ["site"]
        np.testing.assert_allclose(source.log_expression.to_numpy(), frame.iloc[:, 1:].to_numpy(), rtol=1e-6)


def test_labels_file_join_reports_unmatched_samples(tmp_path):
    frame = _frame()
    data_path = _write(frame.drop(columns="cancer_type").T, tmp_path, "matrix.csv")
    labels = frame[["cancer_type"]].iloc[:15].reset_index()
    labels.loc[len(labels)] = ["sample_99", "type_0"]
    labels_path = _write(labels, tmp_path, "labels.csv", index=False)
    source = data.load_or_simulate(data_path, labels_path=labels_path, orientation="genes_by_samples",
                                   min_class_size=1)
    assert len(source.labels) == 15
    assert any("15 samples are in both files: 3 of 18 matrix samples" in note and "1 of 16 rows" in note
               for note in source.notes)


def test_labels_file_errors_name_parameters(tmp_path):
    frame = _frame()
    data_path = _write(frame.drop(columns="cancer_type").T, tmp_path, "matrix.csv")
    labels_path = _write(frame[["cancer_type"]].reset_index(), tmp_path, "labels.csv", index=False)
    with pytest.raises(OmicsInputError, match="pass -p label_column NAME"):
        data.load_or_simulate(data_path, labels_path=labels_path, label_column="tissue")
    with pytest.raises(OmicsInputError, match="labels_sample_column 'id' not found"):
        data.load_or_simulate(data_path, labels_path=labels_path, labels_sample_column="id")
    other = _write(pd.DataFrame({"id": ["x1", "x2"], "cancer_type": ["a", "b"]}), tmp_path, "other.csv", index=False)
    with pytest.raises(OmicsInputError, match="no sample ID is shared") as info:
        data.load_or_simulate(data_path, labels_path=other)
    _no_internal_names(str(info.value))


def test_genes_by_samples_without_labels_file_asks_for_one(tmp_path):
    data_path = _write(_frame().drop(columns="cancer_type").T, tmp_path, "matrix.csv")
    with pytest.raises(OmicsInputError, match="pass -p labels_path FILE"):
        data.load_or_simulate(data_path, orientation="genes_by_samples")
    with pytest.raises(OmicsInputError, match="-p labels_path FILE") as info:
        data.load_or_simulate(data_path)  # auto: the label column is not among the columns
    _no_internal_names(str(info.value))


def test_extra_text_columns_are_kept_as_metadata(tmp_path):
    frame = _frame()
    frame.insert(1, "stage", ["I", "II", "III"] * 6)
    frame.insert(2, "sex", ["f", "m"] * 9)
    source = data.load_or_simulate(_write(frame, tmp_path))
    assert list(source.obs.columns) == ["stage", "sex"]
    assert source.log_expression.shape == (18, 8)


# ----------------------------------------------------------------------------------------------------------------------
# data_kind
# ----------------------------------------------------------------------------------------------------------------------
def test_auto_calls_non_negative_integers_counts_and_takes_log_cpm(tmp_path):
    frame = _frame(integer=True)
    source = data.load_or_simulate(_write(frame, tmp_path))
    assert source.data_kind == "counts" and source.value_label == "log2(CPM + 1)"
    counts = frame.iloc[:, 1:].to_numpy()
    expected = np.log2(counts / counts.sum(axis=1, keepdims=True) * 1e6 + 1)
    np.testing.assert_allclose(source.log_expression.to_numpy(), expected, rtol=1e-5)
    assert any("read as counts" in note for note in source.notes)


def test_auto_keeps_non_integer_values_as_log(tmp_path):
    frame = _frame()
    source = data.load_or_simulate(_write(frame, tmp_path))
    assert source.data_kind == "log"
    np.testing.assert_allclose(source.log_expression.to_numpy(), frame.iloc[:, 1:].to_numpy(), rtol=1e-6)


def test_auto_warns_about_unlogged_non_integer_values(tmp_path):
    frame = _frame()
    frame.iloc[:, 1:] = np.exp(frame.iloc[:, 1:].to_numpy())  # TPM-like, not logged
    source = data.load_or_simulate(_write(frame, tmp_path))
    assert source.data_kind == "log"
    assert any("log-transform the file first" in note for note in source.notes)


def test_negative_counts_name_data_kind_log(tmp_path):
    frame = _frame()
    frame.iloc[:, 1:] -= 5.0  # centred log values
    path = _write(frame, tmp_path)
    with pytest.raises(OmicsInputError, match=r"negative value\(s\).*pass -p data_kind log") as info:
        data.load_or_simulate(path, data_kind="counts")
    _no_internal_names(str(info.value))
    assert data.load_or_simulate(path).data_kind == "log"  # auto: negative values are not counts
    zscored = data.load_or_simulate(path, data_kind="zscored")
    assert zscored.value_label == "expression (z-scores, as given)"


def test_counts_with_an_empty_sample_drop_it_with_a_note(tmp_path):
    frame = _frame(integer=True)
    frame.iloc[0, 1:] = 0
    source = data.load_or_simulate(_write(frame, tmp_path))
    assert len(source.labels) == 17
    assert any("zero total counts" in note for note in source.notes)


# ----------------------------------------------------------------------------------------------------------------------
# missing values
# ----------------------------------------------------------------------------------------------------------------------
@pytest.fixture
def gappy(tmp_path):
    frame = _frame()
    frame.iloc[0, 1] = np.nan  # sample_0, GENE0
    frame.iloc[3, 1] = np.nan  # sample_3, GENE0
    frame.iloc[3, 4] = np.nan  # sample_3, GENE3
    return frame, _write(frame, tmp_path)


def test_missing_error_names_the_choices(gappy):
    _, path = gappy
    with pytest.raises(OmicsInputError, match=r"3 missing values .* in 2 of 8 genes and 2 of 18 samples; pass "
                                              r"-p missing drop_genes") as info:
        data.load_or_simulate(path)
    _no_internal_names(str(info.value))


def test_missing_drop_genes_and_drop_samples(gappy):
    _, path = gappy
    genes = data.load_or_simulate(path, missing="drop_genes")
    assert list(genes.log_expression.columns) == ["GENE1", "GENE2", "GENE4", "GENE5", "GENE6", "GENE7"]
    assert any("dropped the 2 genes" in note for note in genes.notes)
    samples = data.load_or_simulate(path, missing="drop_samples", min_class_size=1)
    assert len(samples.labels) == 16 and "sample_0" not in samples.log_expression.index
    assert any("dropped the 2 samples" in note for note in samples.notes)


def test_missing_impute_fills_gene_means(gappy):
    frame, path = gappy
    source = data.load_or_simulate(path, missing="impute")
    X = source.log_expression
    assert not X.isna().any().any()
    expected = frame["GENE0"].drop(["sample_0", "sample_3"]).mean()
    assert X.loc["sample_0", "GENE0"] == pytest.approx(expected, rel=1e-6)
    assert X.loc["sample_3", "GENE0"] == pytest.approx(expected, rel=1e-6)
    assert any("3 missing values" in note and "gene's mean" in note for note in source.notes)


def test_missing_keep_for_code_that_imputes(gappy):
    _, path = gappy
    user = read_user_data(path, missing="keep")
    assert int(user.X.isna().sum().sum()) == 3


# ----------------------------------------------------------------------------------------------------------------------
# labels: empty labels, small classes
# ----------------------------------------------------------------------------------------------------------------------
def test_nan_labels_are_dropped_with_a_count(tmp_path):
    frame = _frame()
    frame.loc[["sample_1", "sample_7"], "cancer_type"] = np.nan
    source = data.load_or_simulate(_write(frame, tmp_path), min_class_size=1)
    assert len(source.labels) == 16 and "nan" not in set(source.labels)
    assert "dropped 2 samples with no 'cancer_type' label" in source.notes


def test_small_classes_are_dropped_with_a_note(tmp_path):
    frame = _frame(n_per_class=(6, 6, 1))
    source = data.load_or_simulate(_write(frame, tmp_path))  # default min_class_size 5
    assert set(source.labels) == {"type_0", "type_1"}
    assert any("dropped 1 classes with fewer than min_class_size=5 samples: type_2 (1)" in note
               for note in source.notes)
    kept = data.load_or_simulate(_write(frame, tmp_path), min_class_size=1)
    assert kept.labels.nunique() == 3


def test_one_class_left_is_an_error_naming_min_class_size(tmp_path):
    frame = _frame(n_per_class=(6, 2, 2))
    with pytest.raises(OmicsInputError, match="-p min_class_size N"):
        data.load_or_simulate(_write(frame, tmp_path))


def test_sample_id_column_and_bad_label_column(tmp_path):
    frame = _frame().reset_index()
    frame["sample"] = [f"id{i}" for i in range(len(frame))]
    path = _write(frame, tmp_path, index=False)
    source = data.load_or_simulate(path, sample_id_column="sample")
    assert source.log_expression.index[0] == "id0"
    with pytest.raises(OmicsInputError, match=r"did you mean 'cancer_type'\?.*-p label_column NAME") as info:
        data.load_or_simulate(path, label_column="cancer_typ")
    _no_internal_names(str(info.value))


# ----------------------------------------------------------------------------------------------------------------------
# Sizes that scale
# ----------------------------------------------------------------------------------------------------------------------
def test_fit_split_sizes_shrinks_with_a_note_and_accepts_shares(capsys):
    assert data.fit_split_sizes(3000, 19, n_finetune=1000, n_test=1000) == (1000, 1000)
    assert capsys.readouterr().out == ""
    # 38 samples: pretraining keeps 20 (at least 20 or half on a small set), the rest is split in proportion
    assert data.fit_split_sizes(38, 3, n_finetune=1000, n_test=1000) == (9, 9)
    assert "leave too little of the 38 samples" in capsys.readouterr().out
    # 700 samples: pretraining keeps a quarter
    assert data.fit_split_sizes(700, 10, n_finetune=1000, n_test=1000) == (262, 262)
    assert "using n_finetune=262 and n_test=262" in capsys.readouterr().out
    assert data.fit_split_sizes(200, 4, n_finetune=0.25, n_test=0.2) == (50, 40)
    with pytest.raises(OmicsInputError, match="-p n_test 0.25"):
        data.fit_split_sizes(200, 4, n_finetune=10, n_test=1.5)
    with pytest.raises(OmicsInputError, match="too few for a test set"):
        data.fit_split_sizes(12, 5, n_finetune=1000, n_test=1000)


def test_fit_counts_clip_to_the_genes(capsys):
    assert data.fit_count("n_hvg", 2000, 500) == 500
    assert "n_hvg=2000 is more than the data allow; using 500" in capsys.readouterr().out
    assert data.fit_count("n_hvg", 100, 500) == 100
    assert data.fit_counts("hvg_sizes", [500, 1000, 2000], 800) == [500, 800]
    assert "using [500, 800]" in capsys.readouterr().out
    with pytest.raises(OmicsInputError, match="-p n_hvg"):
        data.fit_count("n_hvg", 0, 500)


def test_feasible_fractions_skip_with_a_note(capsys):
    labels = np.repeat(["a", "b", "c", "d"], 10)  # 40 labelled samples, 4 classes
    assert data.feasible_fractions([0.05, 0.1, 0.5, 1.0], labels) == [0.1, 0.5, 1.0]
    out = capsys.readouterr().out
    assert "fractions [0.05] give fewer than 4 of the 40 labelled samples" in out and "skipped" in out
    assert data.feasible_fractions([0.01, 0.02], labels) == [0.1]  # none works: the smallest that does
    assert data.feasible_fractions([0.01, 0.02], labels, at_least=2) == [0.1, 1.0]  # an AUPC needs two
    assert data.feasible_fractions([0.05, 0.3], labels, at_least=2) == [0.1, 0.3]


def test_fit_aupc_range_ends_on_fractions_that_ran(capsys):
    assert data.fit_aupc_range([0.02, 0.05, 0.1, 0.3, 1.0], 0.02, 0.3) == (0.02, 0.3)
    assert capsys.readouterr().out == ""
    assert data.fit_aupc_range([0.1, 0.3, 1.0], 0.02, 0.3) == (0.1, 0.3)  # the low fractions were skipped
    assert data.fit_aupc_range([0.445, 1.0], 0.02, 0.3) == (0.445, 1.0)  # nothing left below 0.3
    assert "moved to [0.445, 1]" in capsys.readouterr().out
    with pytest.raises(OmicsInputError, match="two label fractions"):
        data.fit_aupc_range([1.0], 0.02, 0.3)


def test_prepare_classification_on_a_38_by_500_matrix(tmp_path, capsys):
    frame = _frame(n_per_class=(13, 13, 12), n_genes=500)
    source = data.load_or_simulate(_write(frame, tmp_path))
    splits = data.prepare_classification(source, n_finetune=1000, n_test=1000, n_hvg=2000)
    out = capsys.readouterr().out
    assert "using n_finetune=9 and n_test=9" in out and "n_hvg=2000 is more than the data allow; using 500" in out
    assert (len(splits.y_pretrain), len(splits.y_finetune), len(splits.y_test)) == (20, 9, 9)
    assert len(splits.genes) == 500
    for part in (splits.y_pretrain, splits.y_finetune, splits.y_test):
        assert set(part) == {"type_0", "type_1", "type_2"}


def test_simulator_sizes_are_unchanged():
    source = data.load_or_simulate(n_samples=300, n_genes=600, n_programmes=12, progress=False)
    assert source.simulated and source.label_name == "cancer_type" and source.notes == []
    splits = data.prepare_classification(source, n_finetune=100, n_test=100, n_hvg=200)
    assert (len(splits.y_pretrain), len(splits.y_finetune), len(splits.y_test)) == (100, 100, 100)


# ----------------------------------------------------------------------------------------------------------------------
# pbmc68k_reduced
# ----------------------------------------------------------------------------------------------------------------------
def test_load_pbmc68k_reduced():
    pytest.importorskip("anndata")
    pbmc = data.load_pbmc68k_reduced()
    assert pbmc.X.shape == (700, 765)
    assert pbmc.y.name == "bulk_labels" and pbmc.y.nunique() == 10
    assert pbmc.X.to_numpy().min() >= 0  # the log-normalised layer
    scaled = data.load_pbmc68k_reduced(values="scaled")
    assert scaled.X.to_numpy().min() < 0
    assert "phase" in pbmc.meta.columns
