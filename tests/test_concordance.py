"""Tests for omicsnb.impute.concordance."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from omicsnb.impute.concordance import (
    batched_univariate_cox,
    concordance_index,
    mean_ci,
    per_gene_grade_spearman,
    random_imputation,
    rmse_mae,
    wilcoxon_vs,
)
from omicsnb.validation import OmicsInputError

RNG = np.random.default_rng(0)


def _survival(n=150, G=20):
    X = RNG.normal(size=(n, G))
    X[:, 0] *= 4
    X[:, 1] += 5
    t = np.maximum(np.round(RNG.exponential(10 * np.exp(-0.6 * X[:, 2]))), 1.0)  # integer times: many ties
    e = RNG.random(n) < 0.7
    return X, t, e


def test_cox_matches_lifelines_with_ties():
    from lifelines import CoxPHFitter

    X, t, e = _survival()
    assert len(np.unique(t)) < len(t) / 2  # heavy ties
    res = batched_univariate_cox(pd.DataFrame(X, columns=[f"g{j}" for j in range(X.shape[1])]), t, e)
    assert list(res.index[:2]) == ["g0", "g1"] and res["converged"].all()
    ref, ref_se = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(X.shape[1]):
            fit = CoxPHFitter().fit(pd.DataFrame({"x": X[:, j], "T": t, "E": e}), "T", "E",
                                    fit_options={"precision": 1e-10})
            ref.append(fit.params_["x"])
            ref_se.append(fit.standard_errors_["x"])
    np.testing.assert_allclose(res["coef"], ref, atol=1e-4)
    np.testing.assert_allclose(res["se"], ref_se, rtol=1e-3)
    assert res["p"].iloc[2] < 0.01  # the gene that drives hazard


def test_cox_breslow_differs_with_ties_and_equals_efron_without():
    X, t, e = _survival(G=5)
    efron = batched_univariate_cox(X, t, e)["coef"]
    breslow = batched_univariate_cox(X, t, e, ties="breslow")["coef"]
    assert np.abs(efron - breslow).max() > 1e-3
    t_unique = t + RNG.uniform(0, 0.1, size=len(t))
    np.testing.assert_allclose(batched_univariate_cox(X, t_unique, e)["coef"],
                               batched_univariate_cox(X, t_unique, e, ties="breslow")["coef"], atol=1e-10)


def test_cox_chunks_constant_gene_and_bad_inputs():
    X, t, e = _survival(G=7)
    X[:, 4] = 3.0
    full = batched_univariate_cox(X, t, e)
    chunked = batched_univariate_cox(X, t, e, chunk_size=2)
    np.testing.assert_allclose(full["coef"], chunked["coef"], atol=1e-12)
    assert np.isnan(full["coef"][4]) and not full["converged"][4]
    with pytest.raises(OmicsInputError, match="non-positive"):
        batched_univariate_cox(X, -t, e)
    with pytest.raises(OmicsInputError, match="missing or infinite"):
        batched_univariate_cox(X, np.where(t > 5, np.nan, t), e)
    with pytest.raises(OmicsInputError, match="0/1"):
        batched_univariate_cox(X, t, e * 2.0)
    with pytest.raises(OmicsInputError, match="no events"):
        batched_univariate_cox(X, t, np.zeros(len(t)))
    with pytest.raises(OmicsInputError, match="ties="):
        batched_univariate_cox(X, t, e, ties="exact")
    with pytest.raises(OmicsInputError, match="one value per sample"):
        batched_univariate_cox(X, t[:-1], e)


def test_grade_spearman_matches_scipy():
    X = RNG.normal(size=(60, 8))
    grade = RNG.integers(1, 4, size=60)
    X[:, 0] = grade + RNG.normal(0, 0.1, 60)
    X[:, 3] = 1.0
    rho = per_gene_grade_spearman(pd.DataFrame(X), pd.Series(grade))
    for j in (0, 1, 2):
        assert rho[j] == pytest.approx(stats.spearmanr(X[:, j], grade).statistic, abs=1e-12)
    assert np.isnan(rho[3]) and rho[0] > 0.8
    with pytest.raises(OmicsInputError, match="keep only samples with a grade"):
        per_gene_grade_spearman(X, pd.array([1, None] * 30, dtype="Int64"))


def test_rmse_mae_and_concordance():
    truth = np.arange(12.0).reshape(3, 4)
    imputed = truth.copy()
    mask = np.zeros_like(truth, dtype=bool)
    mask[0, 0] = mask[1, 1] = True
    imputed[0, 0] += 3.0
    imputed[1, 1] -= 4.0
    err = rmse_mae(truth, imputed, mask)
    assert err == {"rmse": pytest.approx(np.sqrt(12.5)), "mae": pytest.approx(3.5), "n_missing": 2}
    with pytest.raises(OmicsInputError, match="boolean"):
        rmse_mae(truth, imputed, mask.astype(int))
    with pytest.raises(OmicsInputError, match="nothing to score"):
        rmse_mae(truth, imputed, np.zeros_like(mask))
    a = RNG.normal(size=50)
    assert concordance_index(a, a) == 1.0
    assert concordance_index(a, -a) == 0.0
    assert 0.3 < concordance_index(a, RNG.normal(size=50)) < 0.7
    with pytest.raises(OmicsInputError, match="dropna=True"):
        concordance_index(np.r_[a, np.nan], np.r_[a, 1.0])
    assert concordance_index(np.r_[a, np.nan], np.r_[a, 1.0], dropna=True) == 1.0


def test_random_imputation_draws_training_values():
    train = RNG.normal(size=(30, 5))
    new = RNG.normal(size=(4, 5))
    new[0, 2] = new[3, 1] = np.nan
    out = random_imputation(train, new, seed=1)
    assert out[0, 2] in train[:, 2] and out[3, 1] in train[:, 1]
    np.testing.assert_array_equal(out, random_imputation(train, new, seed=1))


def test_wilcoxon_and_mean_ci():
    a = np.array([0.50, 0.52, 0.49, 0.51, 0.48, 0.50, 0.53, 0.47, 0.50, 0.52])
    b = a + np.linspace(0.02, 0.05, 10)
    res = wilcoxon_vs(a, b, alternative="less")
    assert res["pvalue"] < 0.01 and res["median_difference"] < 0 and res["n"] == 10
    mean, half = mean_ci(a)
    assert mean == pytest.approx(a.mean())
    assert half == pytest.approx(stats.t.ppf(0.975, 9) * a.std(ddof=1) / np.sqrt(10))
    assert mean_ci(a, level=0.5)[1] < half
    with pytest.raises(OmicsInputError, match="at least 2"):
        mean_ci([1.0])
    with pytest.raises(OmicsInputError, match="identical"):
        wilcoxon_vs(a, a)
    with pytest.raises(OmicsInputError, match="equal length"):
        wilcoxon_vs(a, b[:5])
