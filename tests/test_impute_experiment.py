"""Tests for omicsnb.impute.experiment: trial grids, summaries, clinical concordance and iteration curves."""

import numpy as np
import pandas as pd
import pytest

from omicsnb.impute import KNNImputer, MeanImputer, VAEImputer
from omicsnb.impute.experiment import (
    ClinicalConcordance,
    evaluate_imputers,
    iteration_curve,
    select_svd_rank,
    summarise_errors,
)
from omicsnb.validation import OmicsInputError

RNG = np.random.default_rng(0)
_FACTORS = RNG.normal(size=(100, 3))
DATA = _FACTORS @ RNG.normal(size=(3, 30)) + 0.3 * RNG.normal(size=(100, 30))
TRAIN, TEST = DATA[:80], DATA[80:]
SCENARIOS = {"MCAR 10%": {"scenario": "mcar", "rate": 0.1}, "genes": {"scenario": "mnar_genes", "rate": 0.1}}


@pytest.fixture(scope="module")
def results():
    methods = {"knn": KNNImputer(n_neighbors=5).fit(TRAIN), "mean": MeanImputer().fit(TRAIN)}
    return evaluate_imputers(methods, TEST, SCENARIOS, trials=4, seed=3, progress=False)


def test_evaluate_imputers_is_paired_tidy_and_correct(results):
    assert list(results.columns) == ["scenario", "trial", "method", "rmse", "mae", "n_missing", "seconds"]
    assert len(results) == 2 * 4 * 2
    # the same mask for every method of a trial, and the mask the scenario specifies
    counts = results.groupby(["scenario", "trial"])["n_missing"].nunique()
    assert (counts == 1).all()
    assert (results.loc[results["scenario"] == "MCAR 10%", "n_missing"] == round(0.1 * TEST.size)).all()
    assert (results.loc[results["scenario"] == "genes", "n_missing"] == 3 * 20).all()
    # the mean imputer's error recomputed by hand for one trial
    from omicsnb.impute import simulate_missing
    mask = simulate_missing(TEST, "mcar", rate=0.1, seed=3 + 2)
    expected = np.sqrt(np.mean((TEST - TRAIN.mean(axis=0))[mask] ** 2))
    got = results.query("scenario == 'MCAR 10%' and trial == 2 and method == 'mean'")["rmse"].item()
    assert got == pytest.approx(expected)


def test_summarise_errors_reports_ci_and_paired_wilcoxon(results):
    summary = summarise_errors(results, reference="knn")
    assert list(summary["scenario"].unique()) == ["MCAR 10%", "genes"]
    row = summary.query("scenario == 'MCAR 10%' and method == 'mean'").iloc[0]
    values = results.query("scenario == 'MCAR 10%' and method == 'mean'")["rmse"]
    assert row["mean"] == pytest.approx(values.mean()) and row["n"] == 4 and row["ci"] > 0
    assert row["median_diff_vs_reference"] < 0  # KNN beats the mean on low-rank data
    assert np.isnan(summary.query("method == 'knn'")["p_vs_reference"]).all()
    with pytest.raises(OmicsInputError, match="not a method"):
        summarise_errors(results, reference="vae")


def test_clinical_concordance_is_one_for_the_truth_and_lower_for_noise():
    grade = np.repeat([1, 2, 3], [7, 7, 6])
    time = RNG.uniform(1, 100, size=20)
    event = RNG.integers(0, 2, size=20)
    scorer = ClinicalConcordance(TEST, grade=grade, time=time, event=event)
    assert scorer(TEST, TEST) == {"grade_cindex": 1.0, "cox_cindex": 1.0}
    noisy = scorer(TEST, TEST + RNG.normal(size=TEST.shape))
    assert 0.4 < noisy["grade_cindex"] < 1.0 and 0.4 < noisy["cox_cindex"] < 1.0
    assert set(ClinicalConcordance(TEST, grade=grade)(TEST, TEST)) == {"grade_cindex"}
    scored = evaluate_imputers({"mean": MeanImputer().fit(TRAIN)}, TEST, SCENARIOS, trials=3, extra=scorer,
                               extra_trials=2, progress=False)
    assert scored["cox_cindex"].notna().tolist() == [True, True, False] * 2
    assert (scored["grade_cindex"].dropna() < 1).all()  # a gene made constant counts as "no association"
    # only the masked genes are compared: 8 wholly shuffled genes concord by chance, not at about 1 - 8/30
    genes = np.zeros(TEST.shape, dtype=bool)
    genes[:, :8] = True
    shuffled = TEST.copy()
    shuffled[:, :8] = np.random.default_rng(1).permuted(TEST[:, :8], axis=0)
    masked_only, everything = scorer(TEST, shuffled, genes), scorer(TEST, shuffled)
    assert masked_only["grade_cindex"] < 0.6 < 0.75 < everything["grade_cindex"], (masked_only, everything)
    with pytest.raises(OmicsInputError, match="at least 2 genes"):
        scorer(TEST, TEST, genes[:, :1] & False)
    with pytest.raises(OmicsInputError, match="together"):
        ClinicalConcordance(TEST, time=time)
    with pytest.raises(OmicsInputError, match="same test matrix"):
        scorer(TEST, TEST[:, :5])


def test_iteration_curve_and_bad_inputs():
    vae = VAEImputer((16, 8), 3, lr=1e-2, batch_size=40, epochs=3, validation_fraction=0.0, patience=None, seed=0,
                     progress=False).fit(TRAIN)
    corrupted = TEST.copy()
    corrupted[RNG.random(TEST.shape) < 0.2] = np.nan
    curve = iteration_curve(vae, corrupted, TEST, max_iterations=4)
    assert list(curve.columns) == ["iteration", "rmse", "mae", "change"] and list(curve["iteration"]) == [1, 2, 3, 4]
    assert vae.n_iterations == 3  # the fitted imputer is left as it was
    np.testing.assert_allclose(curve["rmse"].iloc[2], np.sqrt(np.nanmean(
        ((vae.transform(corrupted) - TEST)[np.isnan(corrupted)]) ** 2)))
    with pytest.raises(OmicsInputError, match="fitted VAEImputer"):
        iteration_curve(MeanImputer().fit(TRAIN), corrupted, TEST)
    with pytest.raises(OmicsInputError, match="no missing value"):
        iteration_curve(vae, TEST, TEST)
    with pytest.raises(OmicsInputError, match="fitted imputer or a function"):
        evaluate_imputers({"x": 3}, TEST, SCENARIOS, progress=False)
    with pytest.raises(OmicsInputError, match="without 'seed'"):
        evaluate_imputers({"m": MeanImputer().fit(TRAIN)}, TEST, {"a": {"scenario": "mcar", "rate": 0.1, "seed": 1}})
    with pytest.raises(OmicsInputError, match="same NaN entries"):
        evaluate_imputers({"m": MeanImputer().fit(TRAIN)}, np.where(TEST > 1, np.nan, TEST), SCENARIOS,
                          mask_reference=TEST)
    assert isinstance(evaluate_imputers({"f": lambda X: np.nan_to_num(X)}, pd.DataFrame(TEST), SCENARIOS, trials=1,
                                        progress=False), pd.DataFrame)


def test_select_svd_rank_finds_the_true_rank_region():
    best, table = select_svd_rank(TRAIN, TEST, [1, 3, 15], n_trials=2, seed=1)
    assert list(table.columns) == ["rank", "rmse", "mae"] and list(table["rank"]) == [1, 3, 15]
    assert best == 3 and table["rmse"].min() == table.set_index("rank").loc[3, "rmse"]
    with pytest.raises(OmicsInputError, match="empty"):
        select_svd_rank(TRAIN, TEST, [])
