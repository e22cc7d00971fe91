"""Tests for the imputers: omicsnb.impute.baselines and omicsnb.impute.vae."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from omicsnb.impute.baselines import IterativeSVDImputer, KNNImputer, MeanImputer, RandomImputer
from omicsnb.impute.concordance import rmse_mae
from omicsnb.impute.missing import simulate_missing
from omicsnb.impute.vae import VAEImputer, select_shift_lambda
from omicsnb.validation import OmicsInputError

SMALL = dict(hidden=(64, 32), latent=8, lr=1e-3, batch_size=64, epochs=25, validation_fraction=0.0, patience=None,
             progress=False)


def _low_rank(n=360, G=120, rank=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, G)) + 0.3 * rng.normal(size=(n, G))
    return X + rng.normal(5, 2, size=G)  # gene-specific offsets, like log expression


DATA = _low_rank()
TRAIN, TEST = DATA[:300], DATA[300:]
MASK = simulate_missing(TEST, "mcar", rate=0.1, seed=1)
CORRUPT = np.where(MASK, np.nan, TEST)


@pytest.fixture(scope="module")
def vae():
    return VAEImputer(seed=0, **SMALL).fit(TRAIN)


def _all_imputers(vae):
    return [MeanImputer(), RandomImputer(seed=0), KNNImputer(), IterativeSVDImputer(rank=6), vae]


def test_every_imputer_keeps_observed_entries_and_fills_missing(vae):
    frame = pd.DataFrame(CORRUPT.astype(np.float32), index=[f"s{i}" for i in range(60)])
    for imp in _all_imputers(vae):
        if imp is not vae:
            imp.fit(TRAIN)
        out = imp.transform(frame)
        assert isinstance(out, pd.DataFrame) and out.index.equals(frame.index)
        assert out.dtypes.iloc[0] == np.float32
        assert np.array_equal(out.to_numpy()[~MASK], frame.to_numpy()[~MASK])  # bit-identical
        assert np.isfinite(out.to_numpy()).all()


def test_vae_beats_mean_and_knn_on_low_rank_data(vae):
    err = {type(imp).__name__: rmse_mae(TEST, imp.fit(TRAIN).transform(CORRUPT) if imp is not vae else
                                        vae.transform(CORRUPT), MASK)["rmse"] for imp in _all_imputers(vae)}
    assert err["VAEImputer"] < 0.6 * err["MeanImputer"]
    assert err["IterativeSVDImputer"] < 0.6 * err["MeanImputer"]
    assert err["KNNImputer"] < err["MeanImputer"] < err["RandomImputer"]
    assert len(vae.convergence_) == 3 and vae.convergence_[-1] < vae.convergence_[0]
    assert list(vae.history_.columns) == ["epoch", "loss", "reconstruction", "kl"] and len(vae.history_) == 25
    assert vae.history_["loss"].iloc[-1] < vae.history_["loss"].iloc[0]


def test_entire_gene_missing_is_imputed_from_training_data(vae):
    mask = simulate_missing(TEST, "mnar_genes", rate=0.05, seed=2)
    out = vae.transform(np.where(mask, np.nan, TEST))
    assert rmse_mae(TEST, out, mask)["rmse"] < rmse_mae(TEST, MeanImputer().fit(TRAIN).transform(np.where(
        mask, np.nan, TEST)), mask)["rmse"]


@pytest.mark.parametrize("decoder_sigma", ["output", "learned_per_gene"])
def test_shift_correction_moves_by_exactly_lambda_sigma(vae, decoder_sigma):
    one = vae if decoder_sigma == "output" else VAEImputer(seed=0, decoder_sigma=decoder_sigma,
                                                           **{**SMALL, "epochs": 3}).fit(TRAIN)
    one = copy.deepcopy(one)
    one.n_iterations = 1  # with one pass the decoder sees the same input, so the shift is exactly additive
    plain, shifted = one.transform(CORRUPT), one.transform(CORRUPT, shift_lambda=-0.7)
    scaled_diff = (shifted - plain) / one.scale_sd_
    # the decoder's own standard deviation for each entry (Qiu eq. 8), or the per-gene one
    start = torch.as_tensor(np.where(MASK, 0.0, (CORRUPT - one.scale_mean_) / one.scale_sd_), dtype=torch.float32)
    with torch.no_grad():
        _, log_var = one.model_.decode(one.model_.encode(start)[0])
    sigma = np.broadcast_to(torch.exp(0.5 * log_var).detach().double().numpy(), TEST.shape)
    if decoder_sigma == "output":
        assert np.ptp(sigma[MASK]) > 1e-3  # really per entry, not one value per gene
    else:
        np.testing.assert_allclose(sigma[0], one.sigma_, rtol=1e-6)
    np.testing.assert_allclose(scaled_diff[MASK], -0.7 * sigma[MASK], rtol=1e-4, atol=1e-4)
    assert np.all(scaled_diff[~MASK] == 0)
    assert one.shift_lambda == 0.0  # the per-call override does not stick


def test_encode_returns_latent_mean_and_sd(vae):
    mu, sd = vae.encode(TEST)
    assert mu.shape == sd.shape == (60, 8) and (sd > 0).all()
    np.testing.assert_allclose(mu[:5], vae.encode(TEST[:5])[0], atol=1e-6)
    with pytest.raises(OmicsInputError, match="complete samples"):
        vae.encode(CORRUPT)
    with pytest.raises(OmicsInputError, match="not fitted"):
        VAEImputer(**SMALL).encode(TEST)


def test_select_shift_lambda_prefers_negative_shift(vae):
    best, table = select_shift_lambda(vae, TEST, lambdas=[-1.0, -0.5, -0.25, 0.0], seed=3)
    assert list(table.columns) == ["lambda", "rmse", "mae"] and len(table) == 4
    rmse = table.set_index("lambda")["rmse"]
    assert best < 0 and rmse[best] < rmse[0.0]


def test_vae_is_deterministic_and_variants_train():
    a = VAEImputer(seed=5, **{**SMALL, "epochs": 3}).fit(TRAIN).transform(CORRUPT)
    b = VAEImputer(seed=5, **{**SMALL, "epochs": 3}).fit(TRAIN).transform(CORRUPT)
    c = VAEImputer(seed=6, **{**SMALL, "epochs": 3}).fit(TRAIN).transform(CORRUPT)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    ae = VAEImputer(deterministic=True, beta=0.0, seed=0, **{**SMALL, "epochs": 3}).fit(TRAIN)
    assert (ae.history_["kl"] == 0).all()
    b10 = VAEImputer(beta=10.0, seed=0, **{**SMALL, "epochs": 3}).fit(TRAIN)
    assert np.isfinite(b10.transform(CORRUPT)).all()


def test_svd_records_convergence_and_is_deterministic():
    imp = IterativeSVDImputer(rank=4, tol=1e-3, max_iter=30).fit(TRAIN)
    out = imp.transform(CORRUPT)
    assert imp.convergence_[-1] < 1e-3 and len(imp.convergence_) < 30
    np.testing.assert_array_equal(out, IterativeSVDImputer(rank=4, tol=1e-3, max_iter=30).fit(TRAIN).transform(CORRUPT))


def _exact_iterative_svd(train, corrupted, rank, tol=1e-6, max_iter=200):
    """The textbook algorithm with exact truncated SVDs (numpy.linalg.svd), run to convergence."""
    missing = np.isnan(corrupted)
    stacked = np.vstack([train, np.where(missing, train.mean(axis=0), corrupted)])
    where = np.zeros(stacked.shape, dtype=bool)
    where[len(train):] = missing
    for _ in range(max_iter):
        centre = stacked.mean(axis=0)
        U, s, Vt = np.linalg.svd(stacked - centre, full_matrices=False)
        old = stacked[where]
        stacked[where] = ((U[:, :rank] * s[:rank]) @ Vt[:rank] + centre)[where]
        if np.linalg.norm(stacked[where] - old) < tol * np.linalg.norm(old):
            break
    return stacked[len(train):]


def test_svd_warm_started_passes_reach_the_exact_fixed_point():
    imp = IterativeSVDImputer(rank=4, tol=1e-7, max_iter=200).fit(TRAIN)
    out = imp.transform(CORRUPT)
    exact = _exact_iterative_svd(TRAIN, CORRUPT, rank=4)
    np.testing.assert_allclose(out[MASK], exact[MASK], atol=1e-4)
    assert np.abs(out[MASK] - TEST[MASK]).mean() < 0.6 * np.abs(TRAIN.mean(axis=0) - TEST)[MASK].mean()


def test_imputer_input_errors(vae):
    train_nan = TRAIN.copy()
    train_nan[:, 3] = np.nan
    with pytest.raises(OmicsInputError, match="entirely NaN"):
        MeanImputer().fit(train_nan)
    with pytest.raises(OmicsInputError, match="features, but VAEImputer is expecting"):
        vae.transform(CORRUPT[:, :-1])
    with pytest.raises(OmicsInputError, match="non-numeric"):
        MeanImputer().fit(pd.DataFrame({"a": ["x", "y", "z"], "b": [1.0, 2.0, 3.0]}))
    with pytest.raises(OmicsInputError, match="not real numbers"):
        MeanImputer().fit(TRAIN > 0)
    with pytest.raises(OmicsInputError, match="not fitted"):
        IterativeSVDImputer().transform(CORRUPT)
    empty_row = CORRUPT.copy()
    empty_row[2] = np.nan
    with pytest.raises(OmicsInputError, match="no observed value"):
        vae.transform(empty_row)
    with pytest.raises(OmicsInputError, match="infinite"):
        vae.transform(np.where(MASK, np.inf, TEST))
    with pytest.raises(OmicsInputError, match="exceeds"):
        KNNImputer(n_neighbors=50).fit(TRAIN[:10])


@pytest.mark.parametrize("kwargs, match", [
    (dict(hidden=(10,)), "two layer sizes"),
    (dict(latent=0), "out of range"),
    (dict(beta=-1.0), "out of range"),
    (dict(lr=0.0), "out of range"),
    (dict(deterministic=True), "pass beta=0"),
    (dict(deterministic="yes", beta=0.0), "True or False"),
    (dict(n_iterations=0), "out of range"),
    (dict(train_fill="mean"), "train_fill"),
    (dict(validation_fraction=1.0), "out of range"),
])
def test_vae_bad_parameters(kwargs, match):
    imputer = VAEImputer(**kwargs)  # stored as given (scikit-learn's rule); checked by fit
    with pytest.raises(OmicsInputError, match=match):
        imputer.fit(TRAIN)


def test_select_shift_lambda_bad_inputs(vae):
    with pytest.raises(OmicsInputError, match="fitted VAEImputer"):
        select_shift_lambda(VAEImputer(**SMALL), TEST)
    with pytest.raises(OmicsInputError, match="same NaN entries"):
        select_shift_lambda(vae, CORRUPT, mask_reference=TEST)
    with pytest.raises(OmicsInputError, match="non-empty"):
        select_shift_lambda(vae, TEST, lambdas=[])
