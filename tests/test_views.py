"""Tests for omicsnb.data.views.simulate_methylation."""

import numpy as np
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
