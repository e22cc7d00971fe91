"""Tests for omicsnb.impute.missing.simulate_missing (the paper's missing-data scenarios)."""

import numpy as np
import pandas as pd
import pytest

from omicsnb.impute.missing import simulate_missing
from omicsnb.validation import OmicsInputError

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 60))
GC = RNG.uniform(0.3, 0.7, size=60)


@pytest.mark.parametrize("rate", [0.05, 0.10, 0.30])
@pytest.mark.parametrize("scenario", ["mcar", "meth_mcar"])
def test_mcar_exact_count(scenario, rate):
    mask = simulate_missing(X, scenario, rate=rate, seed=1)
    assert mask.dtype == bool and mask.shape == X.shape
    assert mask.sum() == round(rate * X.size)


def test_mnar_gc_masks_half_of_top_gc_genes_only():
    mask = simulate_missing(X, "mnar_gc", gc_content=GC, seed=2)
    top = np.argsort(-GC)[:6]
    assert mask.sum() == round(0.5 * 40 * 6)
    assert set(np.flatnonzero(mask.any(axis=0))) <= set(top)
    assert not mask[:, np.setdiff1d(np.arange(60), top)].any()


@pytest.mark.parametrize("scenario", ["mnar_genes", "meth_sites"])
def test_entire_features_missing(scenario):
    mask = simulate_missing(X, scenario, seed=3)
    cols = mask.any(axis=0)
    assert cols.sum() == round(0.05 * 60)
    assert mask[:, cols].all() and mask.sum() == 40 * cols.sum()


@pytest.mark.parametrize("q", [0.05, 0.10, 0.20, 0.30])
def test_mnar_low_global_quantile(q):
    mask = simulate_missing(X, "mnar_low", quantile=q, seed=4)
    m = round(q * X.size)
    assert mask.sum() == round(0.5 * m)
    threshold = np.sort(X.ravel())[m - 1]
    assert X[mask].max() <= threshold  # only the globally lowest values are masked


def test_mnar_low_breaks_ties_at_random():
    tied = np.zeros((100, 10))  # every value ties: the eligible set must not be the first rows
    tied[:, 5:] = 1.0
    mask = simulate_missing(tied, "mnar_low", quantile=0.1, within=1.0, seed=4)
    assert mask.sum() == 100 and not mask[:, 5:].any()
    assert mask.any(axis=1).sum() > 50  # spread over the samples, not rows 0-19


def test_meth_coverage_masks_low_coverage_entries():
    cov = RNG.poisson(7, size=X.shape)
    mask = simulate_missing(X, "meth_coverage", coverage=cov, seed=5)
    np.testing.assert_array_equal(mask, cov < 6)
    half = simulate_missing(X, "meth_coverage", coverage=cov, within=0.5, seed=5)
    assert half.sum() == round(0.5 * (cov < 6).sum()) and not half[cov >= 6].any()


def test_deterministic_and_seed_dependent_and_frame_input():
    a = simulate_missing(pd.DataFrame(X), "mcar", rate=0.1, seed=7)
    assert np.array_equal(a, simulate_missing(X, "mcar", rate=0.1, seed=7))
    assert not np.array_equal(a, simulate_missing(X, "mcar", rate=0.1, seed=8))


@pytest.mark.parametrize("kwargs, match", [
    (dict(scenario="nope", seed=0), "unknown scenario"),
    (dict(scenario="mcar", seed=0), "needs rate"),
    (dict(scenario="mcar", rate=1.5, seed=0), "out of range"),
    (dict(scenario="mcar", rate=0.1, seed=-1), "out of range"),
    (dict(scenario="mnar_gc", seed=0), "needs gc_content"),
    (dict(scenario="mnar_gc", gc_content=GC[:5], seed=0), "one value per column"),
    (dict(scenario="mnar_low", quantile=0.0, seed=0), "out of range"),
    (dict(scenario="meth_coverage", seed=0), "coverage has shape"),
    (dict(scenario="meth_coverage", coverage=-np.ones(X.shape), seed=0), "non-negative"),
    (dict(scenario="mnar_low", rate=0.1, seed=0), "rate is not used"),
    (dict(scenario="mcar", rate=0.1, gc_content=GC, seed=0), "gc_content is not used"),
    (dict(scenario="mnar_genes", rate=0.001, seed=0), "masks no feature"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(OmicsInputError, match=match):
        simulate_missing(X, **kwargs)


def test_bad_matrix():
    with pytest.raises(OmicsInputError, match="not numbers"):
        simulate_missing(np.array([["a", "b"]]), "mcar", rate=0.1, seed=0)
    with pytest.raises(OmicsInputError, match="2-D"):
        simulate_missing(np.zeros(5), "mcar", rate=0.1, seed=0)
    with pytest.raises(OmicsInputError, match="infinite"):
        simulate_missing(np.where(X > 2, np.inf, X), "mnar_low", seed=0)
    with pytest.raises(OmicsInputError, match="no observed value"):
        simulate_missing(np.full((3, 4), np.nan), "mcar", rate=0.1, seed=0)
