"""Tests for omicsnb.evaluate: metrics, label-fraction sweeps, clustering agreement, explained variance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid

from omicsnb.evaluate import (
    SWEEP_COLUMNS,
    area_under_label_curve,
    as_feature_matrix,
    aupc,
    classification_metrics,
    cluster_agreement,
    collapsed_dimensions,
    effective_rank,
    embedding_spectrum,
    explained_variance_curve,
    group_effect,
    label_fraction_sweep,
    labels_to_reach,
    summarise_sweep,
)
from omicsnb.validation import OmicsInputError


def blobs(n_per_class=30, n_features=8, classes=("BRCA", "COAD", "LUAD", "SKCM"), shift=6.0, seed=0):
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(len(classes)), n_per_class)
    X = rng.normal(size=(len(codes), n_features))
    X[np.arange(len(codes)), codes] += shift
    order = rng.permutation(len(codes))
    return X[order], np.asarray(classes)[codes[order]]


def stratified_subset(labels, fraction, *, seed):
    """Test stand-in for omicsnb.data.preprocess.label_fraction_subset: ceil(fraction * n_c) of each class."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.permutation(np.flatnonzero(labels == c))[: int(np.ceil(fraction * np.sum(labels == c)))]
        for c in np.unique(labels)
    ]
    return np.sort(np.concatenate(picks))


# ---------------------------------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------------------------------
def test_classification_metrics_by_hand():
    scores = classification_metrics(list("aabbcc"), list("aabccc"))
    assert scores["accuracy"] == pytest.approx(5 / 6)
    assert scores["balanced_accuracy"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert scores["macro_f1"] == pytest.approx((1 + 2 / 3 + 0.8) / 3)


def test_classification_metrics_rejects_length_mismatch():
    with pytest.raises(OmicsInputError, match="y_pred has 2 labels"):
        classification_metrics(["a", "b", "c"], ["a", "b"])


def test_as_feature_matrix_converts_integers_and_keeps_shape():
    out = as_feature_matrix(pd.DataFrame({"g1": [1, 2], "g2": [3.5, 4.0]}))
    assert out.dtype == np.float32 and out.tolist() == [[1.0, 3.5], [2.0, 4.0]]
    with pytest.raises(OmicsInputError, match="X is empty"):
        as_feature_matrix(np.zeros((0, 3)))
    with pytest.raises(OmicsInputError, match="1 NaN or infinite"):
        as_feature_matrix(pd.DataFrame({"g": pd.array([1, None], dtype="Int64")}))


# ---------------------------------------------------------------------------------------------------------------------
# label-fraction sweep
# ---------------------------------------------------------------------------------------------------------------------
def test_sweep_is_tidy_complete_and_keeps_every_class():
    X, y = blobs()
    X_test, y_test = blobs(n_per_class=10, seed=1)
    seen = []

    def recording_subset(labels, fraction, *, seed):
        index = stratified_subset(labels, fraction, seed=seed)
        seen.append((fraction, seed, index))
        return index

    df = label_fraction_sweep(
        lambda seed: NearestCentroid(), X, y, X_test, y_test,
        fractions=(0.1, 0.5, 1.0), repeats=3, seed=10, subset_fn=recording_subset, progress=False,
    )
    assert list(df.columns) == SWEEP_COLUMNS and len(df) == 9
    assert (df["model"] == "NearestCentroid").all()
    assert df["fraction"].tolist() == [0.1] * 3 + [0.5] * 3 + [1.0] * 3
    assert df["repeat"].tolist() == [0, 1, 2] * 3 and df["seed"].tolist() == [10, 11, 12] * 3
    assert df["n_train"].tolist() == [12] * 3 + [60] * 3 + [120] * 3
    for _, _, index in seen:
        assert set(y[index]) == set(y)
    assert df[["accuracy", "macro_f1", "balanced_accuracy"]].min().min() > 0.9
    # subsets differ between repeats of a fraction
    assert not np.array_equal(seen[0][2], seen[1][2])


def test_sweep_is_deterministic_and_model_independent_in_its_subsets():
    X, y = blobs(shift=1.0)
    X_test, y_test = blobs(n_per_class=10, seed=1, shift=1.0)
    subsets = {}

    def recording_subset(labels, fraction, *, seed):
        index = stratified_subset(labels, fraction, seed=seed)
        subsets.setdefault((fraction, seed), []).append(index)
        return index

    def run(make, name):
        return label_fraction_sweep(make, X, y, X_test, y_test, fractions=(0.3, 0.6), repeats=2,
                                    subset_fn=recording_subset, name=name, progress=False)

    a = run(lambda s: LogisticRegression(random_state=s, max_iter=200), "logreg")
    b = run(lambda s: LogisticRegression(random_state=s, max_iter=200), "logreg")
    run(lambda s: NearestCentroid(), "centroid")
    pd.testing.assert_frame_equal(a, b)
    assert (a["model"] == "logreg").all()
    for indices in subsets.values():
        assert all(np.array_equal(indices[0], other) for other in indices[1:])


def test_sweep_accepts_dataframes():
    X, y = blobs()
    Xdf = pd.DataFrame(X, columns=[f"g{i}" for i in range(X.shape[1])])
    df = label_fraction_sweep(lambda s: NearestCentroid(), Xdf, pd.Series(y), Xdf, y, fractions=(0.5,),
                              repeats=1, subset_fn=stratified_subset, progress=False)
    assert df["accuracy"].iloc[0] > 0.9


def test_sweep_passes_fit_params_to_every_fit():
    X, y = blobs()
    extra = np.ones((5, X.shape[1]))
    calls = []

    class NeedsUnlabeled(NearestCentroid):
        def fit(self, X, y, X_unlabeled=None):
            calls.append(X_unlabeled)
            return super().fit(X, y)

    df = label_fraction_sweep(lambda s: NeedsUnlabeled(), X, y, X, y, fractions=(0.5, 1.0), repeats=2,
                              subset_fn=stratified_subset, progress=False, fit_params={"X_unlabeled": extra})
    assert len(df) == 4 and len(calls) == 4 and all(c is extra for c in calls)


def test_sweep_with_the_default_subset_function():
    preprocess = pytest.importorskip("omicsnb.data.preprocess")
    if not hasattr(preprocess, "label_fraction_subset"):
        pytest.skip("omicsnb.data.preprocess.label_fraction_subset is not written yet")
    X, y = blobs()
    df = label_fraction_sweep(lambda s: NearestCentroid(), X, y, X, y, fractions=(0.1, 1.0), repeats=2,
                              progress=False)
    assert len(df) == 4 and df["n_train"].max() == len(y)
    assert (df["n_train"] >= len(set(y))).all()  # the sweep raises if a subset loses a class


SWEEP_DATA = blobs()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(fractions=(0.0, 0.5)), "fraction=0.0 is out of range"),
        (dict(fractions=(1.5,)), "fraction=1.5 is out of range"),
        (dict(fractions=()), "fractions is empty"),
        (dict(fractions=("half",)), "must be a real number"),
        (dict(repeats=0), "repeats"),
        (dict(subset_fn=lambda labels, fraction, seed: np.flatnonzero(labels == labels[0])), "lost 3 class"),
        (dict(subset_fn=lambda labels, fraction, seed: np.array([0, 0, 1])), "repeated positions"),
        (dict(subset_fn=lambda labels, fraction, seed: np.array([0.5, 1.5])), "integer array"),
    ],
)
def test_sweep_rejects_bad_arguments(kwargs, match):
    X, y = SWEEP_DATA
    kwargs = {"subset_fn": stratified_subset, **kwargs}
    with pytest.raises(OmicsInputError, match=match):
        label_fraction_sweep(lambda s: NearestCentroid(), X, y, X, y, progress=False, **kwargs)


def test_sweep_rejects_mismatched_lengths():
    X, y = SWEEP_DATA
    with pytest.raises(OmicsInputError, match="y_test has 119 labels"):
        label_fraction_sweep(lambda s: NearestCentroid(), X, y, X, y[:-1], subset_fn=stratified_subset,
                             progress=False)


# ---------------------------------------------------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------------------------------------------------
HAND_SWEEP = pd.DataFrame(
    {
        "model": ["A"] * 6 + ["B"] * 3,
        "fraction": [0.1, 0.1, 0.5, 0.5, 1.0, 1.0, 0.1, 0.5, 1.0],
        "n_train": [10, 10, 50, 50, 100, 100, 10, 50, 100],
        "accuracy": [0.4, 0.6, 0.6, 0.8, 0.9, 0.9, 0.8, 0.8, 0.8],
    }
)


def test_summarise_sweep_by_hand():
    summary = summarise_sweep(HAND_SWEEP)
    assert list(summary.columns) == ["model", "fraction", "n_train", "mean", "sd", "n"]
    a = summary[summary["model"] == "A"]
    assert a["mean"].tolist() == pytest.approx([0.5, 0.7, 0.9])
    assert a["sd"].tolist() == pytest.approx([np.sqrt(0.02), np.sqrt(0.02), 0.0])
    assert a["n"].tolist() == [2, 2, 2] and a["n_train"].tolist() == [10, 50, 100]
    assert summary.loc[summary["model"] == "B", "sd"].isna().all()  # a single repeat has no sd


def test_area_under_label_curve_by_hand():
    area = area_under_label_curve(summarise_sweep(HAND_SWEEP)).set_index("model")
    # A: trapezoids 0.4 * (0.5 + 0.7) / 2 + 0.5 * (0.7 + 0.9) / 2 = 0.64, over a range of 0.9
    assert area.loc["A", "area"] == pytest.approx(0.64 / 0.9)
    assert area.loc["B", "area"] == pytest.approx(0.8)  # a flat curve has the area of its height
    assert area["n_fractions"].tolist() == [3, 3]


def test_summaries_reject_bad_frames():
    with pytest.raises(OmicsInputError, match=r"lacks column\(s\) \['balanced_accuracy'\]"):
        summarise_sweep(HAND_SWEEP, metric="balanced_accuracy")
    with pytest.raises(OmicsInputError, match="is empty"):
        summarise_sweep(HAND_SWEEP.iloc[:0])
    one_fraction = summarise_sweep(HAND_SWEEP[HAND_SWEEP["fraction"] == 0.5])
    with pytest.raises(OmicsInputError, match="fewer than 2 distinct fractions"):
        area_under_label_curve(one_fraction)
    with pytest.raises(OmicsInputError, match="summarise_sweep"):
        area_under_label_curve(HAND_SWEEP)


# ---------------------------------------------------------------------------------------------------------------------
# unsupervised structure
# ---------------------------------------------------------------------------------------------------------------------
def test_cluster_agreement_is_perfect_on_separated_blobs():
    X, y = blobs(shift=30.0)
    result = cluster_agreement(X, y)
    assert result["ari"] == pytest.approx(1.0) and result["nmi"] == pytest.approx(1.0)
    assert result["n_clusters"] == 4 and result["clusters"].shape == (len(y),)
    assert pd.crosstab(y, result["clusters"]).gt(0).sum(axis=1).eq(1).all()


def test_cluster_agreement_is_near_zero_for_random_labels_and_respects_k():
    X, y = blobs(shift=30.0)
    shuffled = np.random.default_rng(0).permutation(y)
    assert abs(cluster_agreement(X, shuffled)["ari"]) < 0.05
    result = cluster_agreement(X, y, n_clusters=2, seed=1)
    assert result["n_clusters"] == 2 and len(np.unique(result["clusters"])) == 2 and result["ari"] < 1


@pytest.mark.parametrize(
    "embedding, labels, kwargs, match",
    [
        (np.full((4, 2), np.nan), [0, 0, 1, 1], {}, "embedding contains 8 NaN"),
        (np.zeros((4, 2)), [0, 1, 1], {}, "labels has 3 labels"),
        (np.zeros((4, 2)), [0, 1, 1, 0], {"n_clusters": 1}, "n_clusters=1 is out of range"),
        (np.zeros((4, 2)), [0, 1, 1, 0], {"n_clusters": 5}, "exceeds the 4 samples"),
    ],
)
def test_cluster_agreement_rejects_bad_input(embedding, labels, kwargs, match):
    with pytest.raises(OmicsInputError, match=match):
        cluster_agreement(embedding, labels, **kwargs)


def test_explained_variance_curve_matches_sklearn():
    X, _ = blobs()
    curve = explained_variance_curve(X, n_components=5)
    assert list(curve.columns) == ["component", "explained_variance_ratio", "cumulative"]
    assert curve["component"].tolist() == [1, 2, 3, 4, 5]
    expected = PCA(n_components=5).fit(X).explained_variance_ratio_
    assert curve["explained_variance_ratio"].to_numpy() == pytest.approx(expected, rel=1e-6)
    assert np.all(np.diff(curve["cumulative"]) > 0) and curve["cumulative"].iloc[-1] <= 1.0
    assert curve["cumulative"].to_numpy() == pytest.approx(np.cumsum(expected))


def test_explained_variance_curve_rejects_too_many_components():
    with pytest.raises(OmicsInputError, match="n_components=9 exceeds"):
        explained_variance_curve(np.random.default_rng(0).normal(size=(20, 8)), n_components=9)


# ----------------------------------------------------------------------------------------------------------------------
# aupc, labels_to_reach and the collapse spectrum (the self-supervised chapters)
# ----------------------------------------------------------------------------------------------------------------------
def curves(fractions, **means):
    return pd.DataFrame(
        [{"model": m, "fraction": f, "n_train": int(round(f * 1000)), "mean": v}
         for m, values in means.items() for f, v in zip(fractions, values)]
    )


def test_aupc_of_a_constant_gap_is_the_gap_and_is_antisymmetric():
    f = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
    base = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
    summary = curves(f, base=base, pre=[b + 0.05 for b in base])
    assert aupc(summary, "pre", "base") == pytest.approx(0.05)
    assert aupc(summary, "base", "pre") == pytest.approx(-0.05)
    assert aupc(summary, "base", "base") == 0.0


def test_aupc_integrates_a_linear_gap_with_uneven_steps():
    f = np.array([0.02, 0.03, 0.1, 0.3, 0.6])
    gap = (f - 0.02) / 0.28 * 0.1  # 0 at 0.02, 0.1 at 0.3: mean gap over [0.02, 0.3] is 0.05
    summary = curves(f, base=np.zeros(5), pre=gap)
    assert aupc(summary, "pre", "base") == pytest.approx(0.05)
    assert aupc(summary, "pre", "base", low=0.1, high=0.6) > 0.1  # another window uses other points


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"low": 0.05, "high": 0.3}, "must share fractions 0.05 and 0.3"),
        ({"low": 0.3, "high": 0.1}, "high=0.1 must be larger than low=0.3"),
        ({"low": 0.0}, "low=0.0 is out of range"),
    ],
)
def test_aupc_refuses_ranges_it_cannot_integrate(kwargs, message):
    summary = curves([0.02, 0.1, 0.3], a=[0.1, 0.2, 0.3], b=[0.1, 0.1, 0.1])
    with pytest.raises(OmicsInputError, match=message):
        aupc(summary, "a", "b", **kwargs)
    with pytest.raises(OmicsInputError, match="model 'c' is not in the summary"):
        aupc(summary, "c", "b")


def test_labels_to_reach_finds_the_first_point_at_or_above_the_target():
    summary = curves([0.02, 0.1, 0.3, 1.0], base=[0.5, 0.7, 0.8, 0.9], pre=[0.6, 0.9, 0.92, 0.93])
    best = summary.loc[summary["model"] == "base", "mean"].max()
    assert labels_to_reach(summary, "pre", best) == 100
    assert labels_to_reach(summary, "base", best) == 1000
    assert np.isnan(labels_to_reach(summary, "base", 0.95))


def test_embedding_spectrum_counts_collapsed_dimensions():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((500, 2)) @ rng.standard_normal((2, 6))  # rank 2 in 6 dimensions
    s = embedding_spectrum(Z)
    assert s.shape == (6,) and np.all(np.diff(s) <= 1e-12)
    assert collapsed_dimensions(s) == 4
    full = embedding_spectrum(rng.standard_normal((2000, 6)))
    assert collapsed_dimensions(full) == 0 and full.max() / full.min() < 1.5
    cov = np.cov(Z, rowvar=False, bias=True)
    assert np.allclose(s, np.sort(np.linalg.eigvalsh(cov))[::-1], atol=1e-10)
    with pytest.raises(OmicsInputError, match="fewer than 2 samples"):
        embedding_spectrum(Z[:1])


def test_normalised_spread_is_zero_for_a_collapse_and_about_one_over_sqrt_k_when_spread():
    from omicsnb.evaluate import normalised_spread

    rng = np.random.default_rng(0)
    direction = rng.normal(size=64)
    collapsed = np.outer(rng.uniform(0.5, 2.0, size=500), direction)  # same direction, different lengths
    assert normalised_spread(collapsed) == pytest.approx(0.0, abs=1e-12)
    spread = normalised_spread(rng.normal(size=(5000, 64)))
    assert spread == pytest.approx(1 / np.sqrt(64), rel=0.02)
    with pytest.raises(OmicsInputError, match="fewer than 2 samples"):
        normalised_spread(np.ones((1, 3)))


def test_effective_rank_counts_equal_dimensions_and_sees_decay():
    assert effective_rank(np.array([4.0, 4.0, 4.0, 0.0, 0.0])) == pytest.approx(3.0)
    assert effective_rank(np.array([9.0])) == pytest.approx(1.0)
    decaying = 10.0 ** -np.arange(8.0)  # no zero eigenvalue, yet few dimensions carry the variance
    assert collapsed_dimensions(decaying) <= 3 and 1.0 < effective_rank(decaying) < 3.0
    rng = np.random.default_rng(0)
    assert effective_rank(embedding_spectrum(rng.standard_normal((4000, 10)))) > 9.5
    with pytest.raises(OmicsInputError, match="not all zero"):
        effective_rank(np.zeros(3))


def test_group_effect_sees_a_shift_and_not_its_absence():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 20))
    groups = np.repeat(["target", "source"], 100)
    shifted = X.copy()
    shifted[groups == "source"] += rng.normal(size=20) * 2.0
    strong, none = group_effect(shifted, groups, seed=0), group_effect(X, groups, seed=0)
    assert strong["chance"] == none["chance"] == 0.5
    assert strong["variance_share"] > 0.3 and strong["knn_accuracy"] > 0.95
    assert group_effect(shifted, groups, n_components=1)["variance_share"] > 0.9  # the shift is the top component
    assert none["variance_share"] < 0.05 and abs(none["knn_accuracy"] - 0.5) < 0.15
    # exactly centred groups: no variance explained; the k-NN still sees a difference of spread
    spread = X.copy()
    spread[groups == "source"] *= 4.0
    spread -= pd.DataFrame(spread).groupby(groups).transform("mean").to_numpy()
    centred = group_effect(spread, groups, n_components=5)
    assert centred["variance_share"] < 1e-12 and centred["knn_accuracy"] > 0.65
    assert group_effect(shifted, groups, seed=0) == strong  # deterministic


def test_group_effect_bad_input():
    X, groups = np.zeros((12, 4)), np.repeat(["a", "b"], 6)
    with pytest.raises(OmicsInputError, match="single group"):
        group_effect(X, np.repeat("a", 12), n_components=2)
    with pytest.raises(OmicsInputError, match="fewer than folds=5"):
        group_effect(X, np.r_[np.repeat("a", 9), np.repeat("b", 3)], n_components=2)
    with pytest.raises(OmicsInputError, match="n_components"):
        group_effect(X, groups, n_components=10)
    with pytest.raises(OmicsInputError, match="n_neighbors=15 exceeds"):
        group_effect(X + np.arange(48).reshape(12, 4) ** 0.5, groups, n_components=2)
    with pytest.raises(OmicsInputError, match="one label per sample"):
        group_effect(X, groups[:5], n_components=2)
