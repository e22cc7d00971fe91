"""Tests for omicsnb.data.preprocess: transforms, variable genes, z-scoring, stratified splits, label fractions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsnb.data.preprocess import (
    cpm,
    fit_standardizer,
    label_fraction_subset,
    log_transform,
    select_variable_genes,
    standardize,
    standardize_per_group,
    stratified_split,
)
from omicsnb.validation import OmicsInputError


@pytest.fixture
def counts() -> pd.DataFrame:
    values = np.random.default_rng(0).poisson(20, size=(8, 5)).astype(float)
    return pd.DataFrame(values, index=[f"S{i}" for i in range(8)], columns=["A", "B", "C", "D", "E"])


def imbalanced_labels(n: int, n_classes: int, seed: int = 0) -> np.ndarray:
    """Labels with geometric class sizes (a few large classes, a long tail), shuffled."""
    weights = 0.8 ** np.arange(n_classes)
    sizes = np.floor(weights / weights.sum() * n).astype(int)
    sizes[0] += n - sizes.sum()
    labels = np.repeat([f"type{c:02d}" for c in range(n_classes)], sizes)
    return np.random.default_rng(seed).permutation(labels)


# ----------------------------------------------------------------------------------------------------------------------
# log_transform and cpm
# ----------------------------------------------------------------------------------------------------------------------
def test_log_transform_values_and_types(counts):
    logged = log_transform(counts)
    assert isinstance(logged, pd.DataFrame)
    assert logged.index.equals(counts.index) and logged.columns.equals(counts.columns)
    np.testing.assert_allclose(logged.to_numpy(), np.log2(counts.to_numpy() + 1))
    as_array = log_transform(counts.to_numpy(), base=10, pseudocount=0.5)
    assert isinstance(as_array, np.ndarray)
    np.testing.assert_allclose(as_array, np.log10(counts.to_numpy() + 0.5))
    np.testing.assert_allclose(log_transform(counts, base=np.e).to_numpy(), np.log1p(counts.to_numpy()))
    integer = log_transform(np.array([[0, 1], [3, 7]]))
    np.testing.assert_allclose(integer, [[0, 1], [2, 3]])


def test_log_transform_rejects_negative_values_and_names_them(counts):
    counts.loc["S3", "C"] = -2.0
    counts.loc["S5", "A"] = -1.0
    with pytest.raises(OmicsInputError, match=r"2 negative value\(s\) \(first at sample 'S3', gene 'C'"):
        log_transform(counts)
    with pytest.raises(OmicsInputError, match=r"1 negative value\(s\) \(first at row 1, column 0"):
        log_transform(np.array([[1.0, 2.0], [-3.0, 4.0]]))


def test_log_transform_nullable_columns_and_no_mutation(counts):
    original = counts.copy()
    log_transform(counts, base=10, pseudocount=0.5)
    pd.testing.assert_frame_equal(counts, original)
    nullable = pd.DataFrame({"A": pd.array([1, None, 3], dtype="Int64"), "B": [1.0, 2.0, 3.0]})
    with pytest.raises(OmicsInputError, match=r"1 missing \(NaN\) value\(s\) \(first at sample 1, gene 'A'\)"):
        log_transform(nullable)
    np.testing.assert_allclose(log_transform(nullable.fillna(0))["A"], [1.0, 0.0, 2.0])


def test_log_transform_nan_handling(counts):
    counts.loc["S1", "B"] = np.nan
    with pytest.raises(
        OmicsInputError,
        match=r"1 missing \(NaN\) value\(s\) \(first at sample 'S1', gene 'B'\).*allow_nan=True",
    ):
        log_transform(counts)
    logged = log_transform(counts, allow_nan=True)
    assert np.isnan(logged.loc["S1", "B"]) and logged.drop(columns="B").notna().all().all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"base": 1}, "not a valid logarithm base"),
        ({"base": -2}, "not a valid logarithm base"),
        ({"base": "2"}, "not a valid logarithm base"),
        ({"pseudocount": -1.0}, "pseudocount=-1.0 is out of range"),
        ({"pseudocount": 0.0}, "zero value.*pseudocount>0"),
    ],
)
def test_log_transform_bad_parameters(kwargs, message):
    with pytest.raises(OmicsInputError, match=message):
        log_transform(np.array([[0.0, 1.0]]), **kwargs)


def test_log_transform_rejects_non_numeric_and_infinite():
    frame = pd.DataFrame({"A": [1.0, 2.0], "B": ["x", "3"]}, index=["S1", "S2"])
    with pytest.raises(OmicsInputError, match=r"column 'B' is not numeric \(e.g. 'x' in row 'S1'\)"):
        log_transform(frame)
    with pytest.raises(OmicsInputError, match="infinite"):
        log_transform(np.array([[1.0, np.inf]]))
    with pytest.raises(OmicsInputError, match="2-D"):
        log_transform(np.array([1.0, 2.0]))
    with pytest.raises(OmicsInputError, match="DataFrame or a 2-D numpy array"):
        log_transform([[1.0, 2.0]])


def test_cpm(counts):
    scaled = cpm(counts)
    np.testing.assert_allclose(scaled.sum(axis=1), 1e6)
    np.testing.assert_allclose(scaled.loc["S2"] / scaled.loc["S2", "A"], counts.loc["S2"] / counts.loc["S2", "A"])
    assert isinstance(cpm(counts.to_numpy()), np.ndarray)
    counts.loc["S4"] = 0.0
    with pytest.raises(OmicsInputError, match=r"1 sample\(s\) have zero total counts \(first: 'S4'\)"):
        cpm(counts)
    with pytest.raises(OmicsInputError, match="negative"):
        cpm(np.array([[1.0, -1.0]]))


# ----------------------------------------------------------------------------------------------------------------------
# select_variable_genes
# ----------------------------------------------------------------------------------------------------------------------
def test_select_variable_genes_ranks_by_variance_with_stable_ties():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(30, 1))
    X = pd.DataFrame(
        np.hstack([base * 1, base * 5, base * 3, base * 5, base * 0.1]), columns=["g1", "g2", "g3", "g4", "g5"]
    )
    assert list(select_variable_genes(X, 3)) == ["g2", "g4", "g3"]  # g2 and g4 tie: the earlier column first
    assert list(select_variable_genes(X, 5)) == ["g2", "g4", "g3", "g1", "g5"]
    positions = select_variable_genes(X.to_numpy(), 2)
    assert positions.tolist() == [1, 3]
    assert list(select_variable_genes(X[["g4", "g2"]], 1)) == ["g4"]


@pytest.mark.parametrize("n_top, message", [(0, "n_top=0 is out of range"), (6, "n_top=6 is out of range"),
                                            (2.5, "must be an integer"), (True, "must be an integer")])
def test_select_variable_genes_bad_n_top(n_top, message):
    with pytest.raises(OmicsInputError, match=message):
        select_variable_genes(np.ones((4, 5)), n_top)


def test_select_variable_genes_needs_two_samples():
    with pytest.raises(OmicsInputError, match="at least 2 samples"):
        select_variable_genes(np.ones((1, 5)), 1)


# ----------------------------------------------------------------------------------------------------------------------
# standardize
# ----------------------------------------------------------------------------------------------------------------------
def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(2)
    genes = ["a", "b", "c", "const"]
    train = pd.DataFrame(rng.normal(5, 2, size=(50, 4)), columns=genes, index=[f"tr{i}" for i in range(50)])
    train["const"] = 7.0
    test = pd.DataFrame(rng.normal(9, 2, size=(20, 4)), columns=genes, index=[f"te{i}" for i in range(20)])
    scaler, (train_z, test_z) = standardize(train, test)
    assert isinstance(train_z, pd.DataFrame) and train_z.index.equals(train.index)
    assert test_z.index.equals(test.index) and list(test_z.columns) == genes
    np.testing.assert_allclose(train_z.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(train_z[["a", "b", "c"]].std(ddof=0), 1)
    # the test split is shifted by +4 (2 SD): with training statistics its mean is about +2, not 0
    assert (test_z[["a", "b", "c"]].mean() > 1).all()
    expected = (test - train.mean()) / train.std(ddof=0).replace(0, 1)
    np.testing.assert_allclose(test_z.to_numpy(), expected.to_numpy())
    # a constant training gene is centred, not scaled: 0 in train, x - 7 elsewhere, never NaN
    assert not train_z.isna().any().any() and not test_z.isna().any().any()
    assert (train_z["const"] == 0).all()
    np.testing.assert_allclose(test_z["const"], test["const"] - 7)
    np.testing.assert_allclose(scaler.mean_, train.mean())


def test_standardize_arrays_and_fit_standardizer():
    rng = np.random.default_rng(3)
    train, other = rng.normal(size=(10, 3)), rng.normal(size=(4, 3))
    scaler, outputs = standardize(train, other)
    assert all(isinstance(o, np.ndarray) for o in outputs)
    np.testing.assert_allclose(fit_standardizer(train).scale_, scaler.scale_)
    np.testing.assert_allclose(outputs[1], (other - train.mean(0)) / train.std(0))


def test_standardize_checks_gene_agreement():
    train = pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=["a", "b", "c"])
    with pytest.raises(OmicsInputError, match=r"position 0: 'b' vs 'a'.*X\[train.columns\]"):
        standardize(train, train[["b", "a", "c"]])
    with pytest.raises(OmicsInputError, match="has 2 genes but the training data had 3"):
        standardize(train, train[["a", "b"]])
    with pytest.raises(OmicsInputError, match="at least 2"):
        fit_standardizer(train.iloc[:1])
    with pytest.raises(OmicsInputError, match="missing"):
        standardize(train.where(train > 0))


def test_standardize_per_group_uses_each_groups_own_statistics():
    rng = np.random.default_rng(4)
    groups = np.repeat(["TCGA", "ARCHS4-b1", "ARCHS4-b2"], [30, 20, 25])
    shift = {"TCGA": 0.0, "ARCHS4-b1": 5.0, "ARCHS4-b2": -3.0}
    values = rng.normal(size=(75, 3)) * np.where(groups == "ARCHS4-b1", 3.0, 1.0)[:, None]
    values += np.array([shift[g] for g in groups])[:, None]
    X = pd.DataFrame(values, columns=["a", "b", "c"], index=[f"s{i}" for i in range(75)])
    X.loc[groups == "ARCHS4-b2", "c"] = 2.0  # constant within one group: centred, not NaN
    Z = standardize_per_group(X, pd.Series(groups))
    assert isinstance(Z, pd.DataFrame) and Z.index.equals(X.index) and Z.columns.equals(X.columns)
    for g in shift:
        part = Z[groups == g]
        np.testing.assert_allclose(part.mean(), 0, atol=1e-12)
        expected = (X[groups == g] - X[groups == g].mean()) / X[groups == g].std(ddof=0).replace(0, 1)
        np.testing.assert_allclose(part.to_numpy(), expected.to_numpy())
    assert (Z.loc[groups == "ARCHS4-b2", "c"] == 0).all()
    arrays = standardize_per_group(values.astype(np.float32), groups)
    assert isinstance(arrays, np.ndarray) and arrays.dtype == np.float32


def test_standardize_per_group_bad_input():
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(OmicsInputError, match="groups has 5 labels but X has 6 samples"):
        standardize_per_group(X, list("aabbc"))
    with pytest.raises(OmicsInputError, match="group 'c' has 1 sample"):
        standardize_per_group(X, list("aabbbc"))
    with pytest.raises(OmicsInputError, match="missing"):
        standardize_per_group(X, ["a", "a", None, "b", "b", "b"])


# ----------------------------------------------------------------------------------------------------------------------
# stratified_split
# ----------------------------------------------------------------------------------------------------------------------
def test_stratified_split_paper_shape_is_disjoint_and_stratified():
    labels = imbalanced_labels(9349, 19)
    sizes = {"pretrain": 7349, "finetune": 1000, "test": 1000}
    parts = stratified_split(labels, sizes, seed=0)
    assert list(parts) == list(sizes)
    assert {name: len(idx) for name, idx in parts.items()} == sizes
    everything = np.concatenate(list(parts.values()))
    assert len(np.unique(everything)) == len(labels)  # disjoint and complete
    overall = pd.Series(labels).value_counts(normalize=True)
    for name, idx in parts.items():
        assert np.all(np.diff(idx) > 0)
        share = pd.Series(labels[idx]).value_counts(normalize=True).reindex(overall.index, fill_value=0)
        # each class within about one sample of its expected count
        assert (np.abs(share - overall) * len(idx) <= 1.5).all(), name
        assert set(labels[idx]) == set(labels)
    again = stratified_split(labels, sizes, seed=0)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    other = stratified_split(labels, sizes, seed=1)
    assert not np.array_equal(parts["test"], other["test"])


def test_stratified_split_fractions_and_leftovers():
    labels = pd.Series(imbalanced_labels(1000, 4, seed=5), index=np.arange(1000) + 500)
    parts = stratified_split(labels, {"train": 0.6, "valid": 0.15, "test": 0.15}, seed=3)
    assert [len(v) for v in parts.values()] == [600, 150, 150]
    assert len(np.unique(np.concatenate(list(parts.values())))) == 900  # 100 samples are left over
    assert max(np.concatenate(list(parts.values()))) < 1000  # positions, not the Series index
    whole = stratified_split(list("ABC") * 7, {"x": 1 / 3, "y": 1 / 3, "z": 1 / 3}, seed=0)
    assert sorted(len(v) for v in whole.values()) == [7, 7, 7]


def test_stratified_split_names_a_class_too_rare_to_stratify():
    labels = ["A"] * 30 + ["B"] * 30 + ["rare"]
    with pytest.raises(OmicsInputError, match=r"class 'rare' has only 1 sample.*split 'train'.*merge rare classes"):
        stratified_split(labels, {"train": 40, "test": 10}, seed=0)
    labels = ["A"] * 30 + ["B"] * 30 + ["C"] * 3
    with pytest.raises(OmicsInputError, match=r"class 'C' has only 1 sample left when drawing split 'test'"):
        stratified_split(labels, {"train": 40, "test": 10}, seed=0)


def test_stratified_split_split_smaller_than_number_of_classes():
    labels = [f"c{i % 6}" for i in range(60)]
    with pytest.raises(
        OmicsInputError,
        match=r"split 'test' \(3 samples\) is smaller than the number of classes \(6\)",
    ):
        stratified_split(labels, {"test": 3, "train": 50}, seed=0)


@pytest.mark.parametrize(
    "sizes, message",
    [
        ({"a": 80, "b": 30}, "sum to 110 but there are only 100 samples"),
        ({"a": -5, "b": 10}, "size of split 'a' is -5; sizes must be positive"),
        ({"a": 0}, "sizes must be positive"),
        ({"a": "10"}, r"is '10' \(str\); pass an int count or a float fraction"),
        ({"a": None}, "pass an int count or a float fraction"),
        ({"a": True}, "pass an int count or a float fraction"),
        ({"a": 10, "b": 0.5}, "mixes counts and fractions"),
        ({"a": 0.7, "b": 0.5}, r"fractions sum to 1.2 > 1"),
        ({"a": 0.001}, "would be empty"),
        ({}, "non-empty dict"),
        ([("a", 10)], "non-empty dict"),
        ({1: 10}, "split names must be non-empty strings"),
    ],
)
def test_stratified_split_bad_sizes(sizes, message):
    with pytest.raises(OmicsInputError, match=message):
        stratified_split(["A", "B"] * 50, sizes, seed=0)


def test_stratified_split_accepts_categorical_and_series_labels():
    labels = pd.Categorical(["x", "y"] * 20)
    parts = stratified_split(labels, {"a": 20, "b": 20}, seed=4)
    assert sorted(np.asarray(labels)[parts["a"]].tolist()) == ["x"] * 10 + ["y"] * 10
    with pytest.raises(OmicsInputError, match="labels must be a 1-D array, list or Series, got DataFrame"):
        stratified_split(pd.DataFrame({"a": [1, 2]}), {"a": 1}, seed=0)


def test_stratified_split_bad_labels():
    with pytest.raises(OmicsInputError, match=r"1 missing value\(s\) \(first at position 2\)"):
        stratified_split(["A", "B", None, "A"], {"a": 2}, seed=0)
    with pytest.raises(OmicsInputError, match="labels is empty"):
        stratified_split([], {"a": 2}, seed=0)
    with pytest.raises(OmicsInputError, match="1-D"):
        stratified_split(np.zeros((3, 2)), {"a": 2}, seed=0)


# ----------------------------------------------------------------------------------------------------------------------
# label_fraction_subset
# ----------------------------------------------------------------------------------------------------------------------
def test_label_fraction_subset_keeps_every_class_at_two_percent():
    labels = imbalanced_labels(1000, 19, seed=2)  # the smallest classes have ~2 samples
    subset = label_fraction_subset(labels, 0.02, seed=0)
    assert set(labels[subset]) == set(labels)
    assert len(subset) == 20


def test_label_fraction_too_small_to_keep_every_class_is_an_error():
    labels = imbalanced_labels(1000, 19, seed=2)
    with pytest.raises(OmicsInputError, match=r"fraction=0.01 of 1000 .* gives 10, too few .* 19 classes; use fraction >= 0.019"):
        label_fraction_subset(labels, 0.01, seed=0)
    big = label_fraction_subset(labels, 0.5, seed=0)
    assert len(big) == 500 and set(labels[big]) == set(labels)
    expected = pd.Series(labels).value_counts() * 0.5
    got = pd.Series(labels[big]).value_counts().reindex(expected.index)
    assert (np.abs(got - expected) <= 1.5).all()


def test_label_fraction_subset_is_nested_deterministic_and_complete_at_one():
    labels = imbalanced_labels(600, 6, seed=4)
    fractions = [0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0]
    subsets = [label_fraction_subset(labels, f, seed=7) for f in fractions]
    for small, large in zip(subsets, subsets[1:]):
        assert set(small) <= set(large)
    assert np.array_equal(subsets[-1], np.arange(600))
    assert [len(s) for s in subsets][2:] == [30, 60, 150, 300, 450, 600]
    assert np.array_equal(label_fraction_subset(labels, 0.1, seed=7), subsets[3])
    assert not np.array_equal(label_fraction_subset(labels, 0.1, seed=8), subsets[3])


def test_label_fraction_subset_min_per_class():
    labels = ["A"] * 50 + ["B"] * 50 + ["C"] * 5
    subset = label_fraction_subset(labels, 0.1, seed=1, min_per_class=3)  # 11 samples, 3 of C although 10% is 0.5
    counts = pd.Series(np.asarray(labels)[subset]).value_counts()
    assert len(subset) == 11 and (counts >= 3).all() and len(counts) == 3
    with pytest.raises(OmicsInputError, match="too few to keep 3 of each of the 3 classes"):
        label_fraction_subset(labels, 0.05, seed=1, min_per_class=3)
    unguarded = label_fraction_subset(labels, 0.02, seed=1, min_per_class=0)
    assert len(unguarded) == 2


@pytest.mark.parametrize(
    "fraction, kwargs, message",
    [
        (0.0, {}, r"fraction=0.0 is out of range; pass a value in \(0, 1\]"),
        (1.5, {}, "fraction=1.5 is out of range"),
        ("half", {}, "must be a number"),
        (0.5, {"min_per_class": 6}, r"class 'C' has 5 sample\(s\), fewer than min_per_class=6"),
        (0.5, {"min_per_class": -1}, "min_per_class=-1 is out of range"),
        (0.5, {"min_per_class": 1.5}, "must be an integer"),
    ],
)
def test_label_fraction_subset_bad_input(fraction, kwargs, message):
    labels = ["A"] * 50 + ["B"] * 50 + ["C"] * 5
    with pytest.raises(OmicsInputError, match=message):
        label_fraction_subset(labels, fraction, seed=0, **kwargs)
