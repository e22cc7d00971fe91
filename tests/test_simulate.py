"""Tests for the seeded cohort simulator (chapter 1, *Data and exploration*)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from omicsnb.data.simulate import (
    Cohort,
    latent_signal,
    random_stream,
    sample_nb_counts,
    simulate_cohort,
)
from omicsnb.validation import OmicsInputError

SMALL = dict(n_samples=400, n_genes=3000, n_programmes=20, progress=False)


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return simulate_cohort(**SMALL, seed=0)


@pytest.fixture(scope="module")
def log_expr(cohort) -> np.ndarray:
    return cohort.log_expression()


def _tumour(cohort) -> np.ndarray:
    return (cohort.obs["sample_type"] == "tumour").to_numpy()


# ----------------------------------------------------------------------------------------------------------------------
# Determinism, shapes, dtypes
# ----------------------------------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_cohort(cohort):
    again = simulate_cohort(**SMALL, seed=0)
    np.testing.assert_array_equal(again.counts, cohort.counts)
    pd.testing.assert_frame_equal(again.obs, cohort.obs)
    pd.testing.assert_frame_equal(again.var, cohort.var)
    pd.testing.assert_frame_equal(again.truth.activities, cohort.truth.activities)
    pd.testing.assert_frame_equal(again.gene_id_table, cohort.gene_id_table)


def test_biology_does_not_depend_on_sample_count(cohort):
    fewer = simulate_cohort(**{**SMALL, "n_samples": 100}, seed=0)
    assert fewer.truth.membership.equals(cohort.truth.membership)
    assert fewer.truth.type_means.equals(cohort.truth.type_means)
    pd.testing.assert_frame_equal(fewer.var, cohort.var)


def test_different_seed_differs(cohort):
    other = simulate_cohort(**SMALL, seed=1)
    assert other.counts.shape == cohort.counts.shape
    assert not np.array_equal(other.counts, cohort.counts)
    assert not other.truth.membership.equals(cohort.truth.membership)
    assert not other.var.index.equals(cohort.var.index)


def test_shapes_dtypes_and_indexes(cohort, log_expr):
    n, g = SMALL["n_samples"], SMALL["n_genes"]
    assert cohort.counts.shape == (n, g) and cohort.counts.dtype == np.int32
    assert (cohort.counts >= 0).all()
    assert log_expr.shape == (n, g) and log_expr.dtype == np.float32
    cpm = cohort.counts[0] / cohort.counts[0].sum() * 1e6
    np.testing.assert_allclose(log_expr[0], np.log2(cpm + 1), rtol=1e-5, atol=1e-5)

    obs, var = cohort.obs, cohort.var
    assert obs.index.name == "sample_id" and obs.index.is_unique
    assert all(re.fullmatch(r"SIMA-[0-9A-Z]{2}-[0-9A-Z]{4}-(01|11)A", s) for s in obs.index)
    for column in ("cancer_type", "subtype", "sample_type", "batch", "library_size", "grade", "survival_time", "event"):
        assert column in obs.columns
    np.testing.assert_array_equal(obs["library_size"].to_numpy(), cohort.counts.sum(axis=1))
    assert (obs.index.str.endswith("11A") == (obs["sample_type"] == "normal")).all()

    assert var.index.name == "gene_id" and var.index.is_unique
    assert all(re.fullmatch(r"ENSG\d{11}\.\d+", x) for x in var.index)
    assert var["symbol"].is_unique and (var["symbol"] == var["symbol"].str.upper()).all()
    for column in ("symbol", "gc_content", "base_log_mean", "is_class_signal", "module"):
        assert column in var.columns
    assert var["gc_content"].between(0.3, 0.7).all()
    assert var["base_log_mean"].max() - var["base_log_mean"].min() > np.log(1e4)  # several orders of magnitude
    assert var["is_class_signal"].dtype == bool
    assert set(var["module"].unique()) == {-1, *range(cohort.params["n_modules"])}

    truth = cohort.truth
    assert truth.activities.shape == (n, SMALL["n_programmes"])
    assert truth.activities.index.equals(obs.index)
    assert truth.membership.shape == (g, SMALL["n_programmes"]) and truth.membership.dtypes.eq(bool).all()
    assert truth.type_means.shape == (19, SMALL["n_programmes"])
    assert list(truth.activities.columns[:6]) == ["PROLIFERATION", "IMMUNE_INFILTRATION", "STROMAL", "HYPOXIA",
                                                  "INTERFERON_RESPONSE", "EMT"]
    assert truth.activities.columns[6] == "PROGRAMME_07"
    assert truth.grade_driver == "PROLIFERATION"
    # module genes are in no gene set; gene-set sizes are in the requested range
    assert not truth.membership[var["module"] >= 0].any(axis=None)
    sizes = truth.membership.sum()
    assert sizes.min() >= 15 and sizes.max() <= 200
    assert (truth.membership.sum(axis=1) > 1).sum() > 0  # overlapping membership
    assert (truth.loadings.to_numpy()[truth.membership.to_numpy()] > 0).mean() > 0.8  # mostly positive


def test_to_frame(cohort, log_expr):
    frame = cohort.to_frame()
    assert frame.shape == cohort.counts.shape and frame.columns.equals(cohort.var.index)
    np.testing.assert_array_equal(frame.to_numpy(), log_expr)
    labelled = cohort.to_frame(log=False, with_labels=True)
    assert labelled.shape[1] == cohort.n_genes + 1 and labelled.columns[-1] == "cancer_type"
    assert labelled.iloc[:, :-1].dtypes.eq(np.int32).all()
    assert labelled["cancer_type"].equals(cohort.obs["cancer_type"])


def test_summary(cohort):
    table = cohort.summary()
    assert table.index.name == "statistic" and list(table.columns) == ["value"]
    assert table.loc["samples", "value"] == 400 and table.loc["genes", "value"] == 3000
    assert table.loc["cancer types", "value"] == 19
    assert table.loc["events (tumours)", "value"] == cohort.obs["event"].sum()
    assert table.loc["median library size", "value"] == int(cohort.obs["library_size"].median())


# ----------------------------------------------------------------------------------------------------------------------
# Cancer types, normals, programmes, class signal
# ----------------------------------------------------------------------------------------------------------------------
def test_types_present_and_imbalanced(cohort):
    counts = cohort.obs["cancer_type"].value_counts()
    assert len(counts) == 19 and (counts > 0).all()
    assert counts.idxmax() == "BRCA"
    assert counts.max() / counts.min() >= 5


def test_normal_fraction_and_normal_biology(cohort):
    normal = ~_tumour(cohort)
    assert abs(normal.mean() - 0.08) < 0.01
    obs = cohort.obs
    assert obs.loc[normal, ["grade", "subtype", "event"]].isna().all(axis=None)
    assert obs.loc[normal, "survival_time"].isna().all()
    assert obs.loc[~normal, ["grade", "subtype", "survival_time", "event"]].notna().all(axis=None)
    prolif = cohort.truth.activities["PROLIFERATION"]
    assert prolif[normal].mean() < prolif[~normal].mean() - 1.0
    # normals keep tissue identity: each normal's own-type markers are above the other types' average
    markers = cohort.truth.marker_effects
    expr = cohort.log_expression()
    hits = []
    for i in np.flatnonzero(normal):
        own = (markers[obs["cancer_type"].iloc[i]] > 0).to_numpy()
        hits.append(expr[i, own].mean() > expr[~normal][:, own].mean())
    assert np.mean(hits) > 0.9


def test_programme_members_track_true_activity(cohort, log_expr):
    z = (log_expr - log_expr.mean(axis=0)) / (log_expr.std(axis=0) + 1e-6)
    loadings = cohort.truth.loadings
    corrs = []
    for name in cohort.truth.activities.columns:
        positive = (loadings[name] > 0).to_numpy()
        corrs.append(np.corrcoef(z[:, positive].mean(axis=1), cohort.truth.activities[name])[0, 1])
    assert min(corrs) > 0.7
    assert np.median(corrs) > 0.9


def test_class_signal_genes_have_larger_anova_f(cohort, log_expr):
    tumour = _tumour(cohort)
    types = cohort.obs["cancer_type"].to_numpy()
    groups = [log_expr[tumour & (types == t)] for t in cohort.obs["cancer_type"].cat.categories]
    f, _ = stats.f_oneway(*groups)
    flagged = cohort.var["is_class_signal"].to_numpy()
    assert 0.05 < flagged.mean() < 0.6
    assert np.median(f[flagged]) > 5 * np.median(f[~flagged])
    assert cohort.truth.class_signal.equals(cohort.var["is_class_signal"])


# ----------------------------------------------------------------------------------------------------------------------
# Clinical
# ----------------------------------------------------------------------------------------------------------------------
def test_grade_follows_proliferation(cohort):
    tumour = _tumour(cohort)
    grade = cohort.obs.loc[tumour, "grade"]
    assert str(cohort.obs["grade"].dtype) == "Int64"
    assert set(grade.unique()) == {1, 2, 3}
    rho, _ = stats.spearmanr(grade.astype(float), cohort.truth.activities.loc[tumour, "PROLIFERATION"])
    assert rho > 0.3


def test_cox_recovers_survival_coefficient_signs(cohort):
    from lifelines import CoxPHFitter

    coef = cohort.truth.survival_coef
    drivers = coef[coef != 0]
    assert len(drivers) == 4 and (np.sign(drivers) != 0).all()
    tumour = _tumour(cohort)
    data = cohort.truth.activities.loc[tumour, list(drivers.index)].astype(float)
    data["time"] = cohort.obs.loc[tumour, "survival_time"]
    data["event"] = cohort.obs.loc[tumour, "event"].astype(bool)
    data["type"] = cohort.obs.loc[tumour, "cancer_type"].astype(str)
    assert (data["time"] > 0).all() and 0.1 < data["event"].mean() < 0.7
    fit = CoxPHFitter().fit(data, "time", "event", strata=["type"])
    np.testing.assert_array_equal(np.sign(fit.params_[drivers.index]), np.sign(drivers))


# ----------------------------------------------------------------------------------------------------------------------
# Batches
# ----------------------------------------------------------------------------------------------------------------------
def _batch_difference(c: Cohort) -> tuple[float, float]:
    x = c.log_expression()
    batch = c.obs["batch"].cat.codes.to_numpy()
    expressed = x.mean(axis=0) > 2
    diff = x[batch == 0][:, expressed].mean(axis=0) - x[batch == 1][:, expressed].mean(axis=0)
    return float(np.abs(diff).mean()), float(abs(np.corrcoef(diff, c.var["gc_content"][expressed])[0, 1]))


def test_batch_effect_present_only_when_asked():
    none = simulate_cohort(**SMALL, n_batches=2, batch_strength=0.0)
    strong = simulate_cohort(**SMALL, n_batches=2, batch_strength=1.0)
    for c in (none, strong):
        assert c.obs["batch"].value_counts().tolist() == [200, 200]
    assert (none.truth.batch_gene_shift.to_numpy() == 0).all()
    size_none, gc_none = _batch_difference(none)
    size_strong, gc_strong = _batch_difference(strong)
    assert size_strong > 4 * size_none
    assert gc_strong > 0.3 and gc_none < 0.2
    # same biology and samples apart from the batch effect
    pd.testing.assert_frame_equal(none.truth.activities, strong.truth.activities)


# ----------------------------------------------------------------------------------------------------------------------
# Identifiers and gene sets
# ----------------------------------------------------------------------------------------------------------------------
def test_gene_id_table_is_realistically_messy(cohort):
    table = cohort.gene_id_table
    assert list(table.columns) == ["ensembl_id", "symbol"]
    assert not table["ensembl_id"].str.contains(".", regex=False).any()
    stable = cohort.var.index.str.split(".").str[0]
    mapped = stable.isin(table["ensembl_id"])
    assert 0.005 < (~mapped).mean() < 0.02  # ~1% unmapped
    assert len(table) > cohort.n_genes * 0.99  # plus IDs absent from the cohort
    symbol = table.set_index("ensembl_id")["symbol"].reindex(stable[mapped])
    clean = symbol.str.strip().str.upper()
    shared = clean.value_counts()
    assert (shared > 1).sum() >= 0.005 * cohort.n_genes  # many-to-one
    assert (symbol != symbol.str.strip()).sum() > 0  # whitespace
    assert (symbol.str.strip() != clean).sum() > 0.02 * cohort.n_genes  # lower / mixed case
    # the recorded issues match what the table shows
    issues = cohort.truth.id_issues["issue"].value_counts()
    assert issues["unmapped"] == (~mapped).sum()
    assert issues["many_to_one"] == (shared > 1).sum()
    # and cleaning recovers the true symbol of every other gene
    true = pd.Series(cohort.var["symbol"].to_numpy(), index=stable)[mapped]
    wrong = clean.to_numpy() != true.to_numpy()
    assert wrong.sum() == issues["many_to_one"]


def test_gene_sets_and_gmt_round_trip(cohort, tmp_path):
    sets = cohort.gene_sets()
    assert list(sets) == list(cohort.truth.membership.columns)
    for name, genes in sets.items():
        assert genes == cohort.var.loc[cohort.truth.membership[name], "symbol"].str.upper().tolist()
    by_id = cohort.gene_sets(id="gene_id")
    assert by_id["PROLIFERATION"] == cohort.truth.membership.index[cohort.truth.membership["PROLIFERATION"]].tolist()
    assert all("." not in g for g in cohort.gene_sets(id="ensembl_id")["EMT"])

    path = cohort.write_gmt(tmp_path / "programmes.gmt")
    parsed = {}
    for line in path.read_text().splitlines():
        name, _description, *genes = line.split("\t")
        parsed[name] = genes
    assert parsed == sets

    with pytest.raises(OmicsInputError, match="already exists"):
        cohort.write_gmt(path)
    path.write_text("mine\n")
    with pytest.raises(OmicsInputError, match="overwrite=True"):
        cohort.write_gmt(path)
    assert path.read_text() == "mine\n"
    cohort.write_gmt(path, overwrite=True)
    assert path.read_text().startswith("PROLIFERATION\t")


# ----------------------------------------------------------------------------------------------------------------------
# A second cohort from the same biology
# ----------------------------------------------------------------------------------------------------------------------
def test_new_cohort_shares_truth(cohort):
    mix = {"BRCA": 0.5, "LUAD": 0.3, "KIRC": 0.2}
    second = cohort.new_cohort(300, seed=1, batch_strength=0.8, type_proportions=mix, progress=False)
    assert second.name == "SIMB"
    assert second.biology is cohort.biology
    for attr in ("membership", "loadings", "type_means", "marker_effects", "survival_coef", "class_signal"):
        a, b = getattr(second.truth, attr), getattr(cohort.truth, attr)
        assert a.equals(b), attr
    pd.testing.assert_frame_equal(second.var, cohort.var)
    pd.testing.assert_frame_equal(second.gene_id_table, cohort.gene_id_table)
    assert not set(second.obs.index) & set(cohort.obs.index)
    assert second.obs["batch"].unique().tolist() == ["SIMB-batch1"]
    assert second.truth.batch_gene_shift.abs().to_numpy().max() > 0
    counts = second.obs["cancer_type"].value_counts()
    assert counts[["BRCA", "LUAD", "KIRC"]].tolist() == [150, 90, 60] and counts.drop(mix).eq(0).all()
    # same samples again for the same seed, different for another
    again = cohort.new_cohort(300, seed=1, batch_strength=0.8, type_proportions=mix, progress=False)
    np.testing.assert_array_equal(again.counts, second.counts)
    third = cohort.new_cohort(300, seed=2, batch_strength=0.8, type_proportions=mix, progress=False)
    assert not np.array_equal(third.counts, second.counts)


# ----------------------------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------------------------
def test_negative_binomial_moments():
    rng = random_stream(0, "test")
    mean = np.full((20_000, 3), [2.0, 50.0, 1000.0], dtype=np.float32)
    counts = sample_nb_counts(rng, mean, dispersion=np.array([0.1, 0.1, 0.1]), poisson_dispersion=0.5)
    assert counts.dtype == np.int32
    np.testing.assert_allclose(counts.mean(axis=0), [2, 50, 1000], rtol=0.03)
    phi = 0.1 + 0.5 / mean[0]
    np.testing.assert_allclose(counts.var(axis=0), mean[0] + phi * mean[0] ** 2, rtol=0.1)


def test_latent_signal_and_streams():
    a = np.array([[1.0, 2.0]])
    w = np.array([[0.5, 0.0], [0.0, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose(latent_signal(a, w), [[0.5, -2.0, 3.0]])
    with pytest.raises(OmicsInputError, match="factors"):
        latent_signal(a, w[:, :1])
    assert random_stream(3, "x").random() == random_stream(3, "x").random()
    assert random_stream(3, "x").random() != random_stream(3, "y").random()


# ----------------------------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_types=1), "n_types=1 is too small"),
    (dict(n_types=2.0), "n_types must be an integer"),
    (dict(normal_fraction=1.0), "normal_fraction=1.0 is out of range"),
    (dict(normal_fraction=-0.1), "normal_fraction=-0.1 is out of range"),
    (dict(normal_fraction=float("nan")), "not finite"),
    (dict(n_genes=400, n_programmes=40), "n_genes=400 is too small for n_programmes=40"),
    (dict(n_genes=50), "n_genes=50 is too small"),
    (dict(n_samples=10), "n_samples=10 is smaller than n_types=19"),
    (dict(n_samples=100.0), "n_samples must be an integer"),
    (dict(n_programmes=1), "n_programmes=1 is too small"),
    (dict(n_modules=-1), "n_modules=-1 is too small"),
    (dict(n_batches=0), "n_batches=0 is too small"),
    (dict(batch_strength=-0.5), "batch_strength=-0.5 is out of range"),
    (dict(seed=-1), "seed=-1 is too small"),
    (dict(seed=True), "seed must be an integer"),
    (dict(progress="yes"), "progress must be True or False"),
    (dict(name="sim"), "name='sim' is not a cohort code"),
    (dict(type_separation=-1.0), "type_separation=-1.0 is out of range"),
    (dict(median_library_size=0), "median_library_size=0 is out of range"),
    (dict(type_proportions={"BRCA": 0.5, "XXXX": 0.5}), "unknown cancer types"),
    (dict(type_proportions={"BRCA": 0.5, "LUAD": 0.2}), "sum to 0.7"),
    (dict(type_proportions=[0.5, 0.5]), "has 2 values but there are 19"),
    (dict(type_proportions={"BRCA": 1.5, "LUAD": -0.5}), "negative"),
    (dict(n_samples=20, normal_fraction=0.9), "normal_fraction=0.9 leaves some type without a tumour"),
])
def test_bad_parameters_raise(kwargs, match):
    params = dict(n_samples=200, n_genes=1500, n_programmes=10, progress=False)
    params.update(kwargs)
    with pytest.raises(OmicsInputError, match=re.escape(match)):
        simulate_cohort(**params)


def test_bad_method_arguments_raise(cohort, tmp_path):
    with pytest.raises(OmicsInputError, match="is not a gene identifier type"):
        cohort.gene_sets(id="entrez")
    with pytest.raises(OmicsInputError, match="does not exist"):
        cohort.write_gmt(tmp_path / "missing" / "sets.gmt")
    with pytest.raises(OmicsInputError, match="pseudocount=0"):
        cohort.log_expression(pseudocount=0)
    with pytest.raises(OmicsInputError, match="log must be True or False"):
        cohort.to_frame(log="yes")
    with pytest.raises(OmicsInputError, match="n_samples=5 is smaller than the 19 cancer types"):
        cohort.new_cohort(5, seed=1, progress=False)
    with pytest.raises(OmicsInputError, match="seed must be an integer"):
        cohort.new_cohort(100, seed=None, progress=False)


# ----------------------------------------------------------------------------------------------------------------------
# The non-linear class-signal regime
# ----------------------------------------------------------------------------------------------------------------------
NONLINEAR = dict(n_samples=1500, n_genes=1500, n_programmes=10, n_types=8, type_separation=0.0, progress=False,
                 class_signal="nonlinear", class_signal_strength=1.5, seed=3)
# SMALL at seed 0, taken from the simulator before the non-linear regime existed: total count, the first four
# samples' library sizes, the first three genes' totals. Not a byte checksum: the expression means go through BLAS,
# whose kernels differ by CPU (OPENBLAS_CORETYPE=Prescott moves 44 of 1.2 million counts by 1), so the pin allows
# a count difference of 0.0001% where a changed regime or random stream moves these numbers by percents.
_LINEAR_PIN = (12841781762, (37177199, 38140998, 28882630, 32399808), (464288, 2720500, 575860))


@pytest.fixture(scope="module")
def nonlinear() -> Cohort:
    return simulate_cohort(**NONLINEAR)


def test_default_regime_is_unchanged(cohort):
    total, libraries, genes = _LINEAR_PIN
    np.testing.assert_allclose(cohort.counts.sum(), total, rtol=1e-6)
    np.testing.assert_allclose(cohort.counts[:4].sum(axis=1), libraries, rtol=1e-6)
    np.testing.assert_allclose(cohort.counts[:, :3].sum(axis=0), genes, rtol=1e-6)
    explicit = simulate_cohort(**SMALL, seed=0, class_signal="linear", class_signal_strength=3.0)
    np.testing.assert_array_equal(explicit.counts, cohort.counts)
    assert cohort.truth.class_signal_regime == "linear"
    assert cohort.truth.class_activities.shape == (cohort.n_samples, 0)
    assert cohort.truth.latent_features().equals(cohort.truth.activities)


def test_nonlinear_is_deterministic_and_keeps_the_rest_of_the_biology(nonlinear):
    again = simulate_cohort(**NONLINEAR)
    np.testing.assert_array_equal(again.counts, nonlinear.counts)
    linear = simulate_cohort(**{**NONLINEAR, "class_signal": "linear"})
    pd.testing.assert_frame_equal(linear.truth.activities, nonlinear.truth.activities)
    assert linear.truth.membership.equals(nonlinear.truth.membership)
    assert not np.array_equal(linear.counts, nonlinear.counts)


def test_class_factors_follow_the_documented_model(nonlinear):
    truth = nonlinear.truth
    h = truth.class_activities.to_numpy(float)
    patterns = truth.class_patterns.to_numpy(float)
    k = int(np.ceil(np.log2(8))) + 1
    assert h.shape == (nonlinear.n_samples, k) and patterns.shape == (8, k)
    assert set(np.unique(patterns)) == {-1.0, 1.0}
    # distinct up to a global sign: no two types share an axis
    canonical = {tuple(p * p[0]) for p in patterns}
    assert len(canonical) == 8
    state = nonlinear.latent.class_state.astype(float)
    assert 0.4 < (state > 0).mean() < 0.6
    types = nonlinear.latent.type_code
    signal = 1.5 * state[:, None] * patterns[types]
    residual = h - signal
    assert abs(residual.mean()) < 0.02
    assert residual.std() == pytest.approx(0.5, rel=0.05)
    # the mirror states cancel: every type's mean class activity is near 0 (within 4 standard errors)
    for t in range(8):
        rows = h[types == t]
        se = rows.std(axis=0, ddof=1) / np.sqrt(len(rows))
        assert np.all(np.abs(rows.mean(axis=0)) < 4 * se + 1e-9)
    # loadings: about 10% of genes per factor, small, both signs; those genes are flagged as class signal
    loads = truth.class_loadings.to_numpy()
    assert np.allclose((loads != 0).sum(axis=0), round(0.10 * nonlinear.n_genes))
    assert 0.1 < np.abs(loads[loads != 0]).mean() < 0.2 and (loads < 0).any() and (loads > 0).any()
    assert nonlinear.var["is_class_signal"].to_numpy()[(loads != 0).any(axis=1)].all()
    assert truth.latent_features().shape[1] == 10 + k


def test_logistic_regression_on_genes_is_far_below_a_nonlinear_oracle(nonlinear):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    y = nonlinear.obs["cancer_type"].astype(str).to_numpy()
    train, test = np.arange(1000), np.arange(1000, 1500)
    genes = StandardScaler().fit_transform(nonlinear.log_expression())
    linear = LogisticRegression(C=0.1, max_iter=2000).fit(genes[train], y[train]).score(genes[test], y[test])
    h = nonlinear.truth.class_activities.to_numpy()
    iu = np.triu_indices(h.shape[1])
    quadratic = np.hstack([nonlinear.truth.latent_features().to_numpy(), (h[:, :, None] * h[:, None, :])[:, iu[0], iu[1]]])
    quadratic = StandardScaler().fit(quadratic[train]).transform(quadratic)
    oracle = LogisticRegression(C=1.0, max_iter=3000).fit(quadratic[train], y[train]).score(quadratic[test], y[test])
    assert oracle > 0.85
    assert linear < oracle - 0.4
    # the unlabelled data carry the structure: the class genes co-vary, so the top PCs line up with the factors
    from sklearn.decomposition import PCA

    pcs = PCA(n_components=10, random_state=0).fit_transform(genes)
    r2 = [LogisticRegression().fit(pcs, h[:, j] > 0).score(pcs, h[:, j] > 0) for j in range(h.shape[1])]
    assert min(r2) > 0.8


def test_new_cohort_keeps_the_class_factors(nonlinear):
    other = nonlinear.new_cohort(300, seed=9, progress=False)
    assert other.truth.class_signal_regime == "nonlinear"
    pd.testing.assert_frame_equal(other.truth.class_patterns, nonlinear.truth.class_patterns)
    assert other.truth.class_activities.shape == (300, nonlinear.truth.class_activities.shape[1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(class_signal="quadratic"), "class_signal='quadratic' is unknown"),
    (dict(class_signal="nonlinear", class_signal_strength=-1.0), "class_signal_strength=-1.0 is out of range"),
])
def test_bad_class_signal_raises(kwargs, match):
    with pytest.raises(OmicsInputError, match=re.escape(match)):
        simulate_cohort(n_samples=200, n_genes=1500, n_programmes=10, progress=False, **kwargs)
