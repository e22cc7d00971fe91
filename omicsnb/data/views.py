r"""Further views of a simulated cohort's samples: DNA methylation (beta values with read coverage).

A view is drawn from the *same* samples as the expression matrix: the cohort's latent programme activities
(``cohort.latent.activities``) drive it through the machinery every simulated view shares
(:func:`~omicsnb.data.simulate.draw_membership`, :func:`~omicsnb.data.simulate.draw_loadings`,
:func:`~omicsnb.data.simulate.latent_signal`), with its own random stream, so adding it never changes the
expression data.

Methylation model (site :math:`s`, sample :math:`i`, logistic link)
-----------------------------------------------------------------
* baseline logit :math:`b_s`: bimodal like real methylomes -- 60% methylated :math:`N(2.5, 0.8^2)`, 30% unmethylated
  :math:`N(-2.5, 0.8^2)`, 10% intermediate :math:`N(0, 0.5^2)`;
* *programme sites*: programme sets of :math:`\mathrm{logU}(5, \max(6, S/20))` sites with loadings
  :math:`\pm|N(0.4, 0.15^2)|` (half negative);
* *promoter sites* (``promoter_fraction`` of the sites, disjoint from the programme sites): each is linked to one
  expression gene that belongs to a programme and carries minus ``coupling`` :math:`\sim U(0.5, 1)` times that
  gene's programme loadings, so its methylation falls when the gene's expression rises (promoter silencing);
* logit :math:`\ell_{is} = b_s + \sum_p a_{ip} L_{sp} + N(0, \tau^2)` with ``noise_sd`` :math:`\tau`, and
  :math:`\beta_{is} = 1/(1 + e^{-\ell_{is}})`, clipped to :math:`[10^{-4}, 1 - 10^{-4}]` (always inside (0, 1));
* read coverage :math:`c_{is} \sim \mathrm{NB}(\text{mean} = \bar c\, u_s v_i, \text{dispersion } 0.3)` with
  site and sample factors :math:`u_s = e^{N(0, 0.5^2)}`, :math:`v_i = e^{N(0, 0.3^2)}` (so a realistic share of
  entries falls below the 6-read threshold of the paper's low-coverage scenario).

Introduced in the imputation chapter (Qiu et al., VAE imputation of expression and methylation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from omicsnb.data.simulate import Cohort, draw_loadings, draw_membership, latent_signal, random_stream
from omicsnb.validation import OmicsInputError, check_float, check_int

__all__ = ["MethylationView", "simulate_methylation"]

_BETA_EPS = 1e-4
_COVERAGE_DISPERSION = 0.3


@dataclass(eq=False)
class MethylationView:
    """A simulated methylation view of a cohort's samples. Introduced in the imputation chapter (Qiu et al.).

    Attributes
    ----------
    beta : DataFrame (samples x CpG sites), methylation levels in (0, 1), float32; index = ``cohort.obs.index``.
    coverage : DataFrame (samples x CpG sites) of read counts (int32).
    truth : dict with ``baseline_logit`` (Series), ``loadings`` (sites x programmes DataFrame), ``linked_gene``
        (Series: the gene_id a promoter site silences, '' otherwise), ``kind`` (Series: 'programme', 'promoter'
        or 'background'), ``logit`` (the noise-free logit, DataFrame).
    """

    beta: pd.DataFrame
    coverage: pd.DataFrame
    truth: dict


def simulate_methylation(cohort: Cohort, n_cpgs: int, *, seed: int = 0, mean_coverage: float = 15.0,
                         promoter_fraction: float = 0.2, noise_sd: float = 0.3) -> MethylationView:
    """Simulate CpG methylation (beta values and read coverage) for the samples of ``cohort``.

    Introduced in the imputation chapter (Qiu et al., VAE imputation). The model is in the module docstring.

    Parameters
    ----------
    cohort
        From :func:`~omicsnb.data.simulate.simulate_cohort`.
    n_cpgs
        Number of CpG sites (>= 20; the paper's chromosome-22 methylome has 21,220).
    seed
        Non-negative integer; with the same cohort, parameters and seed the view is identical.
    mean_coverage
        Mean reads per site and sample (> 0).
    promoter_fraction
        Fraction of sites linked to, and anti-correlated with, one programme gene's expression, in [0, 0.5].
    noise_sd
        Sd of the per-entry logit noise (>= 0).
    """
    if not isinstance(cohort, Cohort):
        raise OmicsInputError(f"cohort must be a simulated Cohort, got {type(cohort).__name__}; "
                              "pass the result of simulate_cohort(...)")
    check_int("n_cpgs", n_cpgs, 20)
    check_int("seed", seed, 0)
    check_float("mean_coverage", mean_coverage, 0.0, low_open=True)
    check_float("promoter_fraction", promoter_fraction, 0.0, 0.5)
    check_float("noise_sd", noise_sd, 0.0)

    rng = random_stream(cohort.params["seed"], cohort.name, "methylation", seed)
    activities = cohort.latent.activities
    n, P = activities.shape
    names = cohort.biology.programme_names

    kind_draw = rng.random(n_cpgs)
    baseline = np.where(kind_draw < 0.6, rng.normal(2.5, 0.8, n_cpgs),
                        np.where(kind_draw < 0.9, rng.normal(-2.5, 0.8, n_cpgs), rng.normal(0.0, 0.5, n_cpgs)))

    order = rng.permutation(n_cpgs)
    n_promoter = int(round(promoter_fraction * n_cpgs))
    promoter, pool = np.sort(order[:n_promoter]), np.sort(order[n_promoter:])
    high = max(6, min(len(pool), n_cpgs // 20))
    sizes = np.minimum(np.round(np.exp(rng.uniform(np.log(5), np.log(high), size=P))).astype(int), len(pool))
    membership = draw_membership(rng, pool, sizes, n_cpgs)
    loadings = draw_loadings(rng, membership, mean=0.4, sd=0.15, negative_fraction=0.5)

    linked = np.full(n_cpgs, "", dtype=object)
    gene_loadings = cohort.biology.loadings
    programme_genes = np.flatnonzero(np.abs(gene_loadings).sum(axis=1) > 0)
    if n_promoter and len(programme_genes):
        genes = rng.choice(programme_genes, size=n_promoter, replace=True)
        coupling = rng.uniform(0.5, 1.0, size=n_promoter).astype(np.float32)
        loadings[promoter] = -coupling[:, None] * gene_loadings[genes]
        linked[promoter] = cohort.var.index.to_numpy()[genes]
    kind = np.where(membership.any(axis=1), "programme", "background").astype(object)
    kind[promoter] = "promoter"

    mean_logit = baseline[None, :] + latent_signal(activities, loadings)
    logit = mean_logit + rng.normal(0.0, noise_sd, size=(n, n_cpgs))
    beta = np.clip(1.0 / (1.0 + np.exp(-logit)), _BETA_EPS, 1 - _BETA_EPS).astype(np.float32)

    mu = mean_coverage * np.exp(rng.normal(0, 0.3, n))[:, None] * np.exp(rng.normal(0, 0.5, n_cpgs))[None, :]
    size = 1.0 / _COVERAGE_DISPERSION
    coverage = rng.negative_binomial(size, size / (size + mu)).astype(np.int32)

    sites = pd.Index([f"cg{k:08d}" for k in range(n_cpgs)], name="cpg_id")
    samples = cohort.obs.index
    truth = {
        "baseline_logit": pd.Series(baseline, index=sites),
        "loadings": pd.DataFrame(loadings, index=sites, columns=names),
        "linked_gene": pd.Series(linked, index=sites),
        "kind": pd.Series(kind, index=sites),
        "logit": pd.DataFrame(mean_logit.astype(np.float32), index=samples, columns=sites),
    }
    return MethylationView(beta=pd.DataFrame(beta, index=samples, columns=sites),
                           coverage=pd.DataFrame(coverage, index=samples, columns=sites), truth=truth)
