"""Imputers, scenarios and scores on matrices with real gaps (NaN in every sample)."""

import numpy as np
import pandas as pd
import pytest
import torch

from omicsnb.impute import (
    SCENARIOS,
    IterativeSVDImputer,
    KNNImputer,
    MeanImputer,
    RandomImputer,
    VAEImputer,
    evaluate_imputers,
    rmse_mae,
    select_shift_lambda,
    simulate_missing,
    standardize_observed,
)
from omicsnb.impute.vae import _masked_nll
from omicsnb.validation import OmicsInputError

RNG = np.random.default_rng(7)
N, G = 200, 40
TRUE = RNG.normal(size=(N, 3)) @ RNG.normal(size=(3, G)) + 0.2 * RNG.normal(size=(N, G)) + RNG.normal(5, 2, size=G)
GAPS = RNG.random((N, G)) < 0.06
GAPS[np.arange(N), RNG.integers(0, G, size=N)] = True  # every sample has at least one real gap
REAL = np.where(GAPS, np.nan, TRUE)
VAE_SMALL = dict(hidden=(32, 16), latent=4, lr=3e-3, batch_size=32, epochs=60, progress=False)


def _all():
    return [MeanImputer(), RandomImputer(seed=1), KNNImputer(n_neighbors=5), IterativeSVDImputer(rank=3),
            VAEImputer(seed=0, **VAE_SMALL)]


@pytest.mark.parametrize("imputer", _all(), ids=lambda e: type(e).__name__)
def test_fit_and_transform_a_matrix_where_every_sample_has_gaps(imputer):
    assert np.isnan(REAL).any(axis=1).all()
    out = imputer.fit(REAL).transform(REAL)
    assert np.isfinite(out).all() and np.array_equal(out[~GAPS], REAL[~GAPS])
    err = rmse_mae(TRUE, out, GAPS)["rmse"]
    mean_err = rmse_mae(TRUE, MeanImputer().fit(REAL).transform(REAL), GAPS)["rmse"]
    if isinstance(imputer, (KNNImputer, IterativeSVDImputer, VAEImputer)):
        assert err < 0.6 * mean_err  # they learn the structure from the observed entries alone


def test_mean_and_random_use_observed_training_values_only():
    X = np.array([[1.0, np.nan], [3.0, 10.0], [np.nan, 20.0], [5.0, np.nan]])
    np.testing.assert_allclose(MeanImputer().fit(X).transform(X)[[2, 0], [0, 1]], [3.0, 15.0])
    draws = RandomImputer(seed=0).fit(X).transform(np.column_stack([np.zeros(200), np.full(200, np.nan)]))
    assert set(np.unique(draws[:, 1])) == {10.0, 20.0}  # never NaN, never a fill value


def test_knn_never_imputes_a_fill_value():
    # with K = 1 and uniform weights, a gap takes the value of one donor that *observed* that feature; a KNN fitted
    # on a mean-filled copy would hand the fill values back
    out = KNNImputer(n_neighbors=1, weights="uniform").fit(REAL).transform(REAL)
    for g in range(G):
        observed = set(REAL[~GAPS[:, g], g])
        assert set(out[GAPS[:, g], g]) <= observed
    assert not np.isin(out[GAPS], MeanImputer().fit(REAL).train_mean_).any()


def test_svd_is_em_over_the_observed_entries():
    # an exactly rank-2 matrix (plus column offsets) is recovered from its observed entries
    exact = RNG.normal(size=(60, 2)) @ RNG.normal(size=(2, 15)) + np.arange(15)
    gaps = RNG.random(exact.shape) < 0.1
    out = IterativeSVDImputer(rank=2, tol=1e-10, max_iter=500).fit(np.where(gaps, np.nan, exact)).transform(
        np.where(gaps, np.nan, exact))
    np.testing.assert_allclose(out[gaps], exact[gaps], atol=1e-3)
    # new samples are imputed together with the training gaps
    new = exact[:5].copy()
    new[:, 0] = np.nan
    imp = IterativeSVDImputer(rank=2, tol=1e-10, max_iter=500).fit(np.where(gaps, np.nan, exact)[5:])
    np.testing.assert_allclose(imp.transform(new)[:, 0], exact[:5, 0], atol=1e-3)


def test_masked_nll_matches_a_hand_computation():
    x = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.0, -1.0]])
    mu = torch.tensor([[0.5, 1.0, 3.0], [0.0, 9.0, -2.0]])
    log_var = torch.tensor([[0.0, np.log(4.0), 1.0], [np.log(0.25), 0.0, 0.0]], dtype=torch.float32)
    observed = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    log2pi = np.log(2 * np.pi)
    hand = [0.5 * (0.25 + log2pi) + 0.5 * (1.0 / 4 + np.log(4) + log2pi),
            0.5 * (0.25 / 0.25 + np.log(0.25) + log2pi) + 0.5 * (1.0 + log2pi)]
    np.testing.assert_allclose(_masked_nll(x, mu, log_var, observed).numpy(), hand, rtol=1e-6)
    full = -torch.distributions.Normal(mu, torch.exp(0.5 * log_var)).log_prob(x).sum(1)
    np.testing.assert_allclose(_masked_nll(x, mu, log_var, torch.ones_like(x)).numpy(), full.numpy(), rtol=1e-6)


def test_vae_early_stopping_on_validation_and_per_entry_sigma():
    vae = VAEImputer(seed=0, validation_fraction=0.2, patience=5, **{**VAE_SMALL, "epochs": 400}).fit(REAL)
    h = vae.history_
    assert {"epoch", "loss", "reconstruction", "kl", "val_loss"} <= set(h.columns)
    assert vae.stopped_early_ and len(h) < 400
    assert vae.best_epoch_ == int(h.loc[h["val_loss"].idxmin(), "epoch"]) and len(h) == vae.best_epoch_ + 5
    assert vae.sigma_.shape == (G,) and (vae.sigma_ > 0).all()
    again = VAEImputer(seed=0, validation_fraction=0.2, patience=5, **{**VAE_SMALL, "epochs": 400}).fit(REAL)
    np.testing.assert_array_equal(again.transform(REAL), vae.transform(REAL))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_simulated_masks_never_land_on_real_gaps(scenario):
    kwargs = {"mcar": dict(rate=0.1), "meth_mcar": dict(rate=0.1), "mnar_gc": dict(gc_content=RNG.random(G)),
              "meth_coverage": dict(coverage=RNG.integers(0, 20, size=(N, G)))}.get(scenario, {})
    mask = simulate_missing(REAL, scenario, seed=3, **kwargs)
    assert mask.any() and not (mask & GAPS).any()
    n_obs = int((~GAPS).sum())
    if scenario in ("mcar", "meth_mcar"):
        assert mask.sum() == round(0.1 * n_obs)
    if scenario == "mnar_low":
        assert mask.sum() == round(0.5 * round(0.1 * n_obs))
        assert REAL[mask].max() <= np.sort(REAL[~GAPS])[round(0.1 * n_obs) - 1]


def test_scores_and_trials_ignore_real_gaps():
    mask = simulate_missing(REAL, "mcar", rate=0.1, seed=0)
    imputed = np.where(np.isnan(REAL), 0.0, REAL)
    imputed[mask] = REAL[mask] + 1.0
    assert rmse_mae(REAL, imputed, mask) == {"rmse": 1.0, "mae": 1.0, "n_missing": int(mask.sum())}
    with pytest.raises(OmicsInputError, match="real gaps have no ground truth"):
        rmse_mae(REAL, imputed, mask | GAPS)
    methods = {"mean": MeanImputer().fit(REAL[:150]), "knn": KNNImputer(n_neighbors=5).fit(REAL[:150])}
    res = evaluate_imputers(methods, REAL[150:], {"mcar": {"scenario": "mcar", "rate": 0.1},
                                                  "low": {"scenario": "mnar_low", "quantile": 0.1}},
                            trials=2, progress=False)
    n_obs = int((~GAPS[150:]).sum())
    assert (res.loc[res["scenario"] == "mcar", "n_missing"] == round(0.1 * n_obs)).all()
    assert np.isfinite(res["rmse"]).all()


def test_mask_reference_ranks_the_log_scale_before_scaling():
    _, (Z,) = standardize_observed(REAL)
    res_z = evaluate_imputers({"mean": MeanImputer().fit(Z)}, Z, {"low": {"scenario": "mnar_low"}}, trials=1,
                              progress=False)
    res_log = evaluate_imputers({"mean": MeanImputer().fit(Z)}, Z, {"low": {"scenario": "mnar_low"}}, trials=1,
                                mask_reference=REAL, progress=False)
    mask = simulate_missing(REAL, "mnar_low", seed=0)
    # on the log scale the lowest values sit in the weakly expressed genes: few genes lose values
    assert mask.any(axis=0).sum() < simulate_missing(Z, "mnar_low", seed=0).any(axis=0).sum()
    assert res_z["rmse"].iloc[0] != res_log["rmse"].iloc[0]
    vae = VAEImputer(seed=0, **{**VAE_SMALL, "epochs": 5}).fit(Z)
    best, table = select_shift_lambda(vae, Z, lambdas=[-1.0, 0.0], mask_reference=REAL)
    assert len(table) == 2 and best in (-1.0, 0.0)


def test_standardize_observed_uses_observed_statistics_and_keeps_gaps():
    X = REAL.copy()
    X[:-1, 0] = np.nan  # a feature with a single observed value: centred, scale 1
    scaler, (Z, Z2) = standardize_observed(pd.DataFrame(X), X[:5])
    np.testing.assert_allclose(scaler.mean_[1:], np.nanmean(X, axis=0)[1:])
    np.testing.assert_allclose(scaler.scale_[1:], np.nanstd(X, axis=0)[1:])
    assert scaler.scale_[0] == 1.0 and isinstance(Z, pd.DataFrame)
    assert np.array_equal(np.isnan(Z.to_numpy()), np.isnan(X)) and np.array_equal(np.isnan(Z2), np.isnan(X[:5]))
    np.testing.assert_allclose(scaler.inverse_transform(Z2), X[:5])
    with pytest.raises(OmicsInputError, match="no observed value"):
        standardize_observed(np.full((3, 2), np.nan))


def test_write_imputed_never_overwrites(tmp_path):
    from omicsnb.impute import write_imputed

    frame = pd.DataFrame(TRUE[:4, :3], index=list("abcd"), columns=["g1", "g2", "g3"])
    source = tmp_path / "input.csv"
    frame.to_csv(source)
    out = write_imputed(frame, tmp_path / "imputed.csv", input_path=source)
    pd.testing.assert_frame_equal(pd.read_csv(out, index_col=0), frame)
    with pytest.raises(OmicsInputError, match="already exists"):
        write_imputed(frame, out)
    with pytest.raises(OmicsInputError, match="is the input file"):
        write_imputed(frame, source, input_path=source)
    with pytest.raises(OmicsInputError, match="NaN"):
        write_imputed(frame.where(frame > 6), tmp_path / "x.csv")
    with pytest.raises(OmicsInputError, match="extension"):
        write_imputed(frame, tmp_path / "x.xlsx")


def test_on_complete_data_the_masked_loss_is_the_papers_loss():
    # no gap: the running fill never enters, so both fills train the very same model
    complete = TRUE[:80]
    small = {**VAE_SMALL, "epochs": 3, "validation_fraction": 0.0, "patience": None}
    a = VAEImputer(seed=2, train_fill="running", **small).fit(complete)
    b = VAEImputer(seed=2, train_fill="zero", **small).fit(complete)
    pd.testing.assert_frame_equal(a.history_, b.history_)
    with torch.no_grad():
        x = torch.as_tensor((complete - a.scale_mean_) / a.scale_sd_, dtype=torch.float32)
        mu, log_var = a.model_.decode(a.model_.encode(x)[0])
        full = -torch.distributions.Normal(mu, torch.exp(0.5 * log_var)).log_prob(x).sum(1)
        np.testing.assert_allclose(_masked_nll(x, mu, log_var, torch.ones_like(x)), full, rtol=1e-5)
