"""Tests for omicsnb.models.mlp: the MLP/Encoder modules and the MLPClassifier and MLPRegressor estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import log_loss
from torch import nn

from omicsnb.models.mlp import (
    MLP,
    Encoder,
    EncoderClassifier,
    MLPClassifier,
    MLPRegressor,
    random_validation_split,
    stratified_validation_split,
)
from omicsnb.training import torch_seed, train_supervised
from omicsnb.validation import OmicsInputError

FAST = dict(hidden=(32, 16), max_epochs=60, patience=10, batch_size=32, progress=False)


def blobs(n_per_class=60, n_features=20, n_classes=3, shift=3.0, seed=0):
    """Gaussian classes whose means differ by ``shift`` standard deviations along their own feature."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(len(y), n_features))
    X[np.arange(len(y)), y] += shift
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------------------------------------------------
def test_mlp_blocks_and_output_layer():
    net = MLP(10, hidden=(8, 4), out_dim=3, dropout=0.2, batch_norm=True)
    kinds = [type(m) for m in net.layers]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout] * 2 + [nn.Linear]
    assert (net.in_dim, net.out_dim) == (10, 3)
    assert net(torch.zeros(5, 10)).shape == (5, 3)


def test_mlp_without_output_layer_is_an_encoder():
    net = MLP(10, hidden=(8, 4), activation="gelu")
    assert net.out_dim == 4
    assert isinstance(net.layers[-1], nn.Dropout) and isinstance(net.layers[1], nn.GELU)
    enc = Encoder(30)
    assert enc.out_dim == 256
    assert sum(isinstance(m, nn.BatchNorm1d) for m in enc.modules()) == 4
    assert sum(isinstance(m, nn.Linear) for m in enc.modules()) == 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(in_dim=0), "in_dim"),
        (dict(in_dim=5, hidden=(8, 0)), "hidden layer width"),
        (dict(in_dim=5, hidden="256"), "sequence of layer widths"),
        (dict(in_dim=5, dropout=1.0), "dropout"),
        (dict(in_dim=5, activation="swish"), "activation"),
        (dict(in_dim=5, out_dim=0), "out_dim"),
    ],
)
def test_mlp_rejects_bad_architecture(kwargs, match):
    with pytest.raises(OmicsInputError, match=match):
        MLP(**kwargs)


def test_frozen_encoder_classifier_keeps_encoder_in_eval_mode():
    model = EncoderClassifier(Encoder(6, hidden=(4,)), n_classes=2, freeze_encoder=True).train()
    assert model.training and model.head.training
    assert not model.encoder.training
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


# ---------------------------------------------------------------------------------------------------------------------
# learning
# ---------------------------------------------------------------------------------------------------------------------
def test_learns_a_separable_problem():
    X, y = blobs(shift=4.0)
    clf = MLPClassifier(**FAST).fit(X[:120], y[:120])
    assert clf.score(X[120:], y[120:]) > 0.9


def test_beats_chance_on_a_harder_problem():
    X, y = blobs(n_per_class=100, n_classes=4, shift=1.5, seed=1)
    clf = MLPClassifier(**FAST).fit(X[:300], y[:300])
    assert clf.score(X[300:], y[300:]) > 0.25 + 0.2


def test_dataframe_input_and_string_labels():
    X, y = blobs(shift=4.0)
    names = np.array(["BRCA", "LUAD", "COAD"])
    Xdf = pd.DataFrame(X, columns=[f"g{i}" for i in range(X.shape[1])])
    clf = MLPClassifier(**FAST).fit(Xdf.iloc[:120], pd.Series(names[y[:120]]))
    assert list(clf.classes_) == ["BRCA", "COAD", "LUAD"]
    pred = clf.predict(Xdf.iloc[120:])
    assert set(pred) <= set(names) and np.mean(pred == names[y[120:]]) > 0.9
    proba = clf.predict_proba(Xdf.iloc[120:])
    assert proba.shape == (60, 3) and np.allclose(proba.sum(1), 1.0)
    assert np.array_equal(clf.classes_[proba.argmax(1)], pred)
    assert clf.transform(Xdf.iloc[120:]).shape == (60, 16)
    assert list(clf.feature_names_in_) == list(Xdf.columns) and clf.n_features_in_ == 20
    assert list(clf.history_.columns) == ["epoch", "train_loss", "val_loss", "val_accuracy"]


def test_same_seed_gives_identical_results_and_leaves_global_rng_alone():
    X, y = blobs(shift=1.5)
    state = torch.random.get_rng_state()
    a = MLPClassifier(**FAST, seed=3).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = MLPClassifier(**FAST, seed=3).fit(X, y)
    c = MLPClassifier(**FAST, seed=4).fit(X, y)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    pd.testing.assert_frame_equal(a.history_, b.history_)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_early_stopping_on_noise_labels_restores_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 30)).astype(np.float32)
    y = rng.integers(0, 2, 200)
    clf = MLPClassifier(hidden=(64,), lr=3e-3, max_epochs=200, patience=5, val_fraction=0.3, progress=False).fit(X, y)
    hist = clf.history_
    assert clf.n_epochs_ < 200 and clf.n_epochs_ == len(hist)
    assert clf.best_epoch_ == hist.loc[hist["val_loss"].idxmin(), "epoch"]
    assert clf.n_epochs_ == clf.best_epoch_ + 5
    val = clf.validation_indices_
    restored = log_loss(y[val], clf.predict_proba(X[val]), labels=clf.classes_)
    assert restored == pytest.approx(hist["val_loss"].min(), abs=1e-5)
    assert restored < hist["val_loss"].iloc[-1]


def test_without_validation_runs_all_epochs_and_keeps_the_last():
    X, y = blobs()
    clf = MLPClassifier(hidden=(8,), max_epochs=7, val_fraction=0.0, progress=False).fit(X, y)
    assert clf.n_epochs_ == 7 and clf.best_epoch_ == 7
    assert clf.history_["val_loss"].isna().all() and len(clf.validation_indices_) == 0


def test_batch_norm_with_a_lone_last_batch_and_single_sample_prediction():
    X, y = blobs(n_per_class=11)
    clf = MLPClassifier(hidden=(8,), batch_norm=True, batch_size=16, max_epochs=3, val_fraction=0.0, progress=False)
    clf.fit(X, y)  # 33 samples = 2 batches of 16 + 1: the lone sample would make batch norm fail
    assert clf.n_epochs_ == 3
    assert clf.predict(X[:1]).shape == (1,)


def test_validation_split_is_stratified_and_singletons_stay_in_training():
    codes = np.array([0] * 20 + [1] * 10 + [2])
    train, val = stratified_validation_split(codes, 0.2, seed=0)
    assert np.bincount(codes[val], minlength=3).tolist() == [4, 2, 0]
    assert 30 in train and len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 31
    again = stratified_validation_split(codes, 0.2, seed=0)
    assert np.array_equal(again[1], val)


def test_fit_with_a_singleton_class():
    X, y = blobs(shift=4.0)
    y = y.copy()
    y[0] = 7
    clf = MLPClassifier(**FAST).fit(X, y)
    assert 7 in clf.classes_ and 0 not in clf.validation_indices_


def test_tiny_classes_warn_when_no_validation_set_is_possible():
    X = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.warns(UserWarning, match="without early stopping"):
        clf = MLPClassifier(hidden=(4,), max_epochs=3, progress=False).fit(X, [0, 0, 1, 1])
    assert clf.n_epochs_ == 3


# ---------------------------------------------------------------------------------------------------------------------
# fine-tuning a given encoder
# ---------------------------------------------------------------------------------------------------------------------
def make_encoder(n_features=20, seed=0):
    with torch_seed(seed):
        return Encoder(n_features, hidden=(16, 16), dropout=0.1, batch_norm=True)


def test_frozen_encoder_is_unchanged_and_head_trains():
    X, y = blobs(shift=3.0)
    enc = make_encoder()
    original = {k: v.clone() for k, v in enc.state_dict().items()}
    clf = MLPClassifier(encoder=enc, freeze_encoder=True, lr=1e-2, max_epochs=30, patience=30, progress=False)
    clf.fit(X, y)
    assert state_equal(clf.model_.encoder.state_dict(), original)  # weights and batch-norm running statistics
    with torch_seed(clf.seed):
        initial_head = clf._build_module(20, 3).head.state_dict()
    assert not state_equal(clf.model_.head.state_dict(), initial_head)
    assert clf.score(X, y) > 0.6
    assert clf.transform(X).shape == (180, 16)
    # the caller's encoder is untouched: same weights, still trainable, not moved into the classifier
    assert state_equal(enc.state_dict(), original)
    assert all(p.requires_grad for p in enc.parameters()) and clf.model_.encoder is not enc


def test_frozen_fit_on_precomputed_embeddings_matches_training_the_whole_network():
    X, y = blobs(shift=3.0)
    clf = MLPClassifier(encoder=make_encoder(), freeze_encoder=True, lr=1e-2, max_epochs=15, patience=5,
                        progress=False).fit(X, y)
    codes = np.searchsorted(clf.classes_, y)
    with torch_seed(clf.seed):
        slow = clf._build_module(20, 3)
    train_idx, val_idx = stratified_validation_split(codes, clf.val_fraction, seed=clf.seed)
    _, history = train_supervised(slow, X[train_idx].astype(np.float32), codes[train_idx],
                                  X[val_idx].astype(np.float32), codes[val_idx], lr=1e-2, max_epochs=15, patience=5,
                                  seed=clf.seed, progress=False)
    assert len(history) == clf.n_epochs_
    np.testing.assert_allclose(history["val_loss"], clf.history_["val_loss"], rtol=1e-4, atol=1e-6)
    for name, value in slow.head.state_dict().items():
        torch.testing.assert_close(value, clf.model_.head.state_dict()[name], rtol=1e-4, atol=1e-5)


def test_unfrozen_encoder_is_fine_tuned_on_a_copy():
    X, y = blobs(shift=3.0)
    enc = make_encoder()
    original = {k: v.clone() for k, v in enc.state_dict().items()}
    clf = MLPClassifier(encoder=enc, freeze_encoder=False, max_epochs=10, patience=10, progress=False).fit(X, y)
    tuned = clf.model_.encoder.state_dict()
    assert not torch.equal(tuned["layers.0.weight"], original["layers.0.weight"])
    assert state_equal(enc.state_dict(), original)


def test_clone_gives_an_unfitted_estimator_with_the_same_params():
    clf = MLPClassifier(**FAST, encoder=make_encoder())
    twin = clone(clf)
    assert twin.get_params()["hidden"] == (32, 16) and not hasattr(twin, "model_")
    with pytest.raises(NotFittedError):
        twin.predict(np.zeros((2, 20)))


# ---------------------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------------------
X_OK, Y_OK = blobs(n_per_class=10, n_features=5)


def with_value(value, row=0, col=0):
    X = X_OK.copy()
    X[row, col] = value
    return X


@pytest.mark.parametrize(
    "X, y, match",
    [
        (X_OK, Y_OK[:-1], "29 labels but X has 30 samples"),
        (with_value(np.nan), Y_OK, "NaN or infinite"),
        (with_value(np.inf), Y_OK, "NaN or infinite"),
        (X_OK, np.zeros(30), "at least 2 classes"),
        (X_OK.astype(str), Y_OK, "not a numeric type"),
        (X_OK > 0, Y_OK, "not a numeric type"),
        (pd.DataFrame(X_OK).assign(gene="x"), Y_OK, "non-numeric columns"),
        (X_OK[:, 0], Y_OK, "must be 2-D"),
        (X_OK, Y_OK.reshape(-1, 1), "must be 1-D"),
        (X_OK, np.where(Y_OK == 0, None, Y_OK), "missing labels"),
        (X_OK, np.array([1, "a"] * 15, dtype=object), "cannot be sorted"),
        (X_OK, None, "target y is None"),
        (X_OK, np.linspace(0, 1, 30), "y looks continuous"),
        (scipy.sparse.csr_matrix(X_OK), Y_OK, "sparse matrix"),
    ],
)
def test_fit_rejects_bad_data(X, y, match):
    with pytest.raises(OmicsInputError, match=match):
        MLPClassifier(**FAST).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(lr=0.0), "lr=0.0 is out of range"),
        (dict(lr="fast"), "must be a real number"),
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(dropout=1.0), "dropout"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_epochs=1.5), "max_epochs=1.5 must be an integer"),
        (dict(patience=0), "patience"),
        (dict(val_fraction=1.0), "val_fraction"),
        (dict(hidden=(16, -1)), "hidden layer width"),
        (dict(seed=-1), "seed"),
        (dict(encoder=nn.Linear(5, 3)), "integer .out_dim"),
        (dict(device="gpu0"), "not a torch device"),
        (dict(encoder=Encoder(7, hidden=(4,))), "encoder expects 7 input features but X has 5"),
    ],
)
def test_fit_rejects_bad_hyperparameters(params, match):
    with pytest.raises(OmicsInputError, match=match):
        MLPClassifier(**{**FAST, **params}).fit(X_OK, Y_OK)


def test_predict_rejects_features_that_differ_from_fit():
    Xdf = pd.DataFrame(X_OK, columns=list("abcde"))
    clf = MLPClassifier(hidden=(4,), max_epochs=2, progress=False).fit(Xdf, Y_OK)
    with pytest.raises(OmicsInputError, match="X has 4 features but the model was fitted on 5"):
        clf.predict(X_OK[:, :4])
    with pytest.raises(OmicsInputError, match="columns differ"):
        clf.predict_proba(Xdf[list("edcba")])
    with pytest.raises(OmicsInputError, match="NaN or infinite"):
        clf.transform(with_value(np.nan))


# ---------------------------------------------------------------------------------------------------------------------
# regression (chapter VIME: polygenic scores)
# ---------------------------------------------------------------------------------------------------------------------
def regression_problem(n=300, p=10, seed=0):
    """A smooth non-linear target on a trait-like scale (mean 250, SD about 60)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    signal = 2.0 * X[:, 0] - X[:, 1] + np.tanh(2.0 * X[:, 2])
    return X, 250.0 + 25.0 * signal + rng.normal(scale=5.0, size=n)


def test_regressor_learns_on_the_target_scale():
    X, y = regression_problem()
    reg = MLPRegressor(**dict(FAST, lr=3e-3, max_epochs=150, patience=20)).fit(X[:200], y[:200])
    assert reg.score(X[200:], y[200:]) > 0.8  # R^2 on held-out samples
    pred = reg.predict(X[200:])
    assert pred.dtype == np.float64 and pred.shape == (100,)
    assert abs(pred.mean() - y[200:].mean()) < 10  # back on the trait scale, not z-scored
    train_idx = np.setdiff1d(np.arange(200), reg.validation_indices_)
    assert reg.target_mean_ == pytest.approx(y[train_idx].mean()) and reg.target_scale_ == pytest.approx(y[train_idx].std())
    h = reg.history_
    assert list(h.columns) == ["epoch", "train_loss", "val_loss", "val_accuracy"] and h["val_accuracy"].isna().all()
    assert h["val_loss"].min() < 0.3  # squared error in target standard deviations
    assert reg.transform(X).shape == (300, 16)


def test_regressor_is_deterministic_and_its_validation_split_is_random_but_seeded():
    X, y = regression_problem(n=120)
    a = MLPRegressor(**dict(FAST, max_epochs=5)).fit(X, y)
    b = MLPRegressor(**dict(FAST, max_epochs=5)).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    train, val = random_validation_split(120, 0.15, seed=0)
    assert len(val) == 18 and len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 120
    np.testing.assert_array_equal(a.validation_indices_, val)
    assert len(random_validation_split(3, 0.9, seed=0)[0]) == 1  # one sample is always left for training


def test_regressor_with_a_frozen_encoder_trains_only_the_head():
    X, y = regression_problem(p=20)
    enc = make_encoder()
    original = {k: v.clone() for k, v in enc.state_dict().items()}
    reg = MLPRegressor(encoder=enc, freeze_encoder=True, lr=1e-2, max_epochs=20, patience=20, progress=False)
    reg.fit(X, y)
    assert state_equal(reg.model_.encoder.state_dict(), original)
    assert reg.model_.head.out_features == 1
    assert reg.score(X, y) > 0.1  # a linear read-out of a random 16-unit encoder: better than the mean


@pytest.mark.parametrize("y, match", [
    (np.array(["a", "b"] * 15), "finite numbers"),
    (np.r_[np.nan, np.ones(29)], "missing labels"),
    (np.r_[np.inf, np.ones(29)], "finite numbers"),
    (np.ones(29), "30 samples"),
    (None, "y is None"),
])
def test_regressor_rejects_bad_targets(y, match):
    with pytest.raises(OmicsInputError, match=match):
        MLPRegressor(**FAST).fit(np.zeros((30, 4)), y)
