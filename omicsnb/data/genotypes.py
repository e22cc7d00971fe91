"""Simulated genotypes with linkage disequilibrium and a blood-cell-like quantitative trait with a known truth.

Model (all draws from ``seed``):

- allele frequencies ``p_j ~ U(0.05, 0.5)`` (``p_j`` is the frequency of the counted allele, so it is the MAF);
- LD blocks of ``ld_block_size`` consecutive SNPs: each haplotype is a latent Gaussian AR(1) chain within the block
  (correlation ``ld_rho`` between neighbours, independent between blocks) thresholded at ``Phi^-1(p_j)`` -- a
  Gaussian copula, so each allele keeps its frequency while neighbours are correlated; a genotype is the sum of two
  independent haplotypes (0/1/2);
- ``n_causal`` causal SNPs with additive effects on standardised dosages, dominance deviations (heterozygotes) and
  pairwise epistasis (products of standardised dosages). The genetic value is scaled so that a
  ``non_additive_fraction`` of its variance is non-additive, and noise is added so that the broad-sense
  heritability is ``heritability``;
- the trait is reported on a platelet-count-like scale (mean 250, SD 60, x10^9/L).

Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)* (genotype-to-phenotype exercise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from omicsnb.validation import OmicsInputError, check_float, check_int

TRAIT_MEAN, TRAIT_SD = 250.0, 60.0


@dataclass
class GenotypeData:
    """Simulated genotypes (samples x SNPs, int8 0/1/2), a quantitative trait and the truth behind it.

    Attributes
    ----------
    genotypes : ndarray (n_samples, n_snps) of int8 allele counts.
    phenotype : ndarray (n_samples,) trait values (platelet-count-like scale).
    snps : DataFrame, one row per SNP: snp, block, allele_freq, causal, additive_effect, dominance_effect.
    epistatic_pairs : DataFrame of interacting causal SNP pairs (snp_a, snp_b, effect).
    genetic_value, additive_value : ndarray (n_samples,) total and additive genetic components (trait scale).
    variance : dict of the realised variance components and heritabilities.
    """

    genotypes: np.ndarray
    phenotype: np.ndarray
    snps: pd.DataFrame
    epistatic_pairs: pd.DataFrame
    genetic_value: np.ndarray = field(repr=False)
    additive_value: np.ndarray = field(repr=False)
    variance: dict = field(default_factory=dict)

    @property
    def causal(self) -> np.ndarray:
        """Indices of the causal SNPs."""
        return np.flatnonzero(self.snps["causal"].to_numpy())


def _ld_haplotypes(rng: np.random.Generator, n: int, freq: np.ndarray, block_size: int, rho: float) -> np.ndarray:
    """One haplotype per sample (n x m, 0/1): AR(1) Gaussian chains within blocks, thresholded at the frequencies."""
    m = len(freq)
    n_blocks = -(-m // block_size)
    noise = rng.standard_normal((n, n_blocks, block_size), dtype=np.float32)
    latent = np.empty_like(noise)
    latent[:, :, 0] = noise[:, :, 0]
    scale = np.sqrt(1.0 - rho**2)
    for k in range(1, block_size):  # vectorised over samples and blocks; loop only over positions in a block
        latent[:, :, k] = rho * latent[:, :, k - 1] + scale * noise[:, :, k]
    latent = latent.reshape(n, n_blocks * block_size)[:, :m]
    return (latent < norm.ppf(freq)[None, :]).astype(np.int8)


def _standardise(values: np.ndarray) -> np.ndarray:
    sd = values.std()
    return (values - values.mean()) / (sd if sd > 0 else 1.0)


def simulate_genotypes(n_samples: int = 2000, n_snps: int = 5000, *, n_causal: int = 100, ld_block_size: int = 20,
                       heritability: float = 0.5, non_additive_fraction: float = 0.2, ld_rho: float = 0.9,
                       n_epistatic_pairs: int | None = None, seed: int = 0) -> GenotypeData:
    """Simulate genotypes with LD blocks and a quantitative trait with additive and non-additive genetic effects.

    Parameters
    ----------
    n_samples, n_snps : matrix size.
    n_causal : causal SNPs (<= n_snps), chosen uniformly at random.
    ld_block_size : SNPs per LD block (1 = no LD).
    heritability : broad-sense heritability Var(G) / Var(y), in [0, 1].
    non_additive_fraction : share of Var(G) from dominance and epistasis, in [0, 1].
    ld_rho : latent correlation between neighbouring SNPs of a block, in [0, 1).
    n_epistatic_pairs : interacting pairs among the causal SNPs; default ``n_causal // 2``.
    seed : non-negative integer; same parameters and seed give identical data.

    Returns
    -------
    GenotypeData

    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)* (genotype-to-phenotype exercise).
    """
    check_int("n_samples", n_samples, 2)
    check_int("n_snps", n_snps, 1)
    check_int("n_causal", n_causal, 1, n_snps)
    check_int("ld_block_size", ld_block_size, 1)
    check_float("heritability", heritability, 0.0, 1.0)
    check_float("non_additive_fraction", non_additive_fraction, 0.0, 1.0)
    check_float("ld_rho", ld_rho, 0.0, 1.0, high_open=True)
    check_int("seed", seed, 0)
    n_pairs = n_causal // 2 if n_epistatic_pairs is None else n_epistatic_pairs
    check_int("n_epistatic_pairs", n_pairs, 0)
    if non_additive_fraction > 0 and n_causal < 2 and n_pairs > 0:
        raise OmicsInputError("epistasis needs n_causal >= 2; raise n_causal or pass n_epistatic_pairs=0")

    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, n_snps)
    genotypes = _ld_haplotypes(rng, n_samples, freq, ld_block_size, ld_rho)
    genotypes += _ld_haplotypes(rng, n_samples, freq, ld_block_size, ld_rho)

    causal = np.sort(rng.choice(n_snps, n_causal, replace=False))
    g = genotypes[:, causal].astype(np.float64)
    p = freq[causal]
    dosage = (g - 2 * p) / np.sqrt(2 * p * (1 - p))  # standardised with the population frequencies
    additive_effect = rng.normal(0.0, 1.0, n_causal)
    dominance_effect = rng.normal(0.0, 1.0, n_causal)
    pairs = np.array([rng.choice(n_causal, 2, replace=False) for _ in range(n_pairs)]).reshape(-1, 2)
    pair_effect = rng.normal(0.0, 1.0, len(pairs))

    additive = _standardise(dosage @ additive_effect)
    non_additive = (g == 1).astype(np.float64) @ dominance_effect
    if len(pairs):
        non_additive = non_additive + (dosage[:, pairs[:, 0]] * dosage[:, pairs[:, 1]]) @ pair_effect
    non_additive = _standardise(non_additive)
    genetic = np.sqrt(1 - non_additive_fraction) * additive + np.sqrt(non_additive_fraction) * non_additive
    genetic = _standardise(genetic)
    noise = _standardise(rng.standard_normal(n_samples))
    liability = np.sqrt(heritability) * genetic + np.sqrt(1 - heritability) * noise
    phenotype = TRAIT_MEAN + TRAIT_SD * liability

    a_scale = TRAIT_SD * np.sqrt(heritability * (1 - non_additive_fraction))
    d_scale = TRAIT_SD * np.sqrt(heritability * non_additive_fraction)
    snps = pd.DataFrame({
        "snp": [f"rs{j + 1:07d}" for j in range(n_snps)],
        "block": np.arange(n_snps) // ld_block_size,
        "allele_freq": freq,
        "causal": np.isin(np.arange(n_snps), causal),
        "additive_effect": 0.0,
        "dominance_effect": 0.0,
    })
    # effects on the trait scale are up to the standardisation constants; report the drawn (relative) effects
    snps.loc[causal, "additive_effect"] = additive_effect
    snps.loc[causal, "dominance_effect"] = dominance_effect
    epistatic = pd.DataFrame({"snp_a": causal[pairs[:, 0]] if len(pairs) else np.array([], int),
                              "snp_b": causal[pairs[:, 1]] if len(pairs) else np.array([], int),
                              "effect": pair_effect})
    var_y = phenotype.var()
    genetic_value = TRAIT_SD * np.sqrt(heritability) * genetic
    variance = {
        "phenotype": float(var_y),
        "genetic": float(genetic_value.var()),
        "broad_sense_h2": float(genetic_value.var() / var_y),
        "narrow_sense_h2": float((a_scale * additive).var() / var_y),
        "non_additive_share": float((d_scale * non_additive).var() / max(genetic_value.var(), 1e-12)),
    }
    return GenotypeData(genotypes=genotypes, phenotype=phenotype, snps=snps, epistatic_pairs=epistatic,
                        genetic_value=genetic_value, additive_value=a_scale * additive, variance=variance)
