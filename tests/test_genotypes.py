"""Tests for omicsnb.data.genotypes.simulate_genotypes."""

import numpy as np
import pytest

from omicsnb.data.genotypes import simulate_genotypes
from omicsnb.validation import OmicsInputError


@pytest.fixture(scope="module")
def data():
    return simulate_genotypes(3000, 400, n_causal=40, ld_block_size=20, heritability=0.6, non_additive_fraction=0.3,
                              seed=1)


def test_ranges_and_truth(data):
    G = data.genotypes
    assert G.shape == (3000, 400) and G.dtype == np.int8
    assert set(np.unique(G)) == {0, 1, 2}
    assert data.phenotype.shape == (3000,) and np.isfinite(data.phenotype).all()
    assert len(data.causal) == 40 and data.snps["causal"].sum() == 40
    assert (data.snps.loc[~data.snps["causal"], ["additive_effect", "dominance_effect"]] == 0).all().all()
    assert len(data.epistatic_pairs) == 20
    assert data.epistatic_pairs[["snp_a", "snp_b"]].isin(data.causal).all().all()
    assert ((data.snps["allele_freq"] >= 0.05) & (data.snps["allele_freq"] <= 0.5)).all()


def test_allele_frequencies_match(data):
    observed = data.genotypes.mean(0) / 2
    assert np.abs(observed - data.snps["allele_freq"]).max() < 0.04
    maf = np.minimum(observed, 1 - observed)
    assert maf.min() > 0.02


def test_ld_within_blocks_exceeds_between(data):
    r = np.corrcoef(data.genotypes[:, :80].T.astype(float))
    block = np.arange(80) // 20
    same = block[:, None] == block[None, :]
    off = ~np.eye(80, dtype=bool)
    within = np.abs(r[same & off]).mean()
    between = np.abs(r[~same]).mean()
    assert within > 0.2 > 0.05 > between
    neighbours = np.abs(np.diag(r, 1)[np.diag(same, 1)]).mean()
    assert neighbours > within  # LD decays with distance inside a block


@pytest.mark.parametrize("h2", [0.2, 0.7])
def test_heritability_roughly_as_requested(h2):
    d = simulate_genotypes(2000, 200, n_causal=20, heritability=h2, non_additive_fraction=0.25, seed=3)
    realised = np.var(d.genetic_value) / np.var(d.phenotype)
    assert realised == pytest.approx(h2, abs=0.05)
    assert d.variance["broad_sense_h2"] == pytest.approx(realised)
    assert d.variance["narrow_sense_h2"] < d.variance["broad_sense_h2"]
    # the additive part explains the trait less than the full genetic value does
    r_add = np.corrcoef(d.additive_value, d.phenotype)[0, 1] ** 2
    r_gen = np.corrcoef(d.genetic_value, d.phenotype)[0, 1] ** 2
    assert r_add < r_gen


def test_no_non_additive_means_additive_only():
    d = simulate_genotypes(500, 100, n_causal=10, non_additive_fraction=0.0, seed=0)
    assert np.allclose(d.genetic_value, d.additive_value)


def test_determinism():
    a = simulate_genotypes(200, 100, n_causal=10, seed=5)
    b = simulate_genotypes(200, 100, n_causal=10, seed=5)
    c = simulate_genotypes(200, 100, n_causal=10, seed=6)
    assert np.array_equal(a.genotypes, b.genotypes) and np.array_equal(a.phenotype, b.phenotype)
    assert a.snps.equals(b.snps)
    assert not np.array_equal(a.genotypes, c.genotypes)


@pytest.mark.parametrize("params, match", [
    (dict(n_causal=500), "n_causal=500 is out of range"),
    (dict(heritability=1.5), "heritability=1.5 is out of range"),
    (dict(non_additive_fraction=-0.1), "non_additive_fraction=-0.1 is out of range"),
    (dict(ld_block_size=0), "ld_block_size=0 is out of range"),
    (dict(ld_rho=1.0), "ld_rho=1.0 is out of range"),
    (dict(seed=-1), "seed=-1 is out of range"),
    (dict(n_causal=1, n_epistatic_pairs=1), "epistasis needs n_causal >= 2"),
])
def test_bad_inputs(params, match):
    with pytest.raises(OmicsInputError, match=match):
        simulate_genotypes(100, 100, **params)
