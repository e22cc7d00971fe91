"""Missing-data simulations of Qiu, Zheng & Gevaert (GigaScience 2020), Table 1.

:func:`simulate_missing` returns a boolean mask (``True`` = missing) over the *observed* entries of a test matrix, so
that the masked values stay available as ground truth. The matrix may have real gaps (NaN): a simulated mask never
lands on one, every count and quantile below is taken over the observed entries only, and real gaps are therefore
never scored. Every scenario masks an exact, documented number of entries.

========================  ==========================================================================================
scenario                  what is masked (defaults are the paper's)
========================  ==========================================================================================
``"mcar"``                ``round(rate * n_obs)`` observed entries chosen uniformly at random (rate 0.05, 0.10, 0.30)
``"mnar_gc"``             ``round(within * m)`` of the ``m`` observed values of the ``k = round(top_fraction * G)``
                          genes with the highest GC content (top_fraction 0.10, within 0.5)
``"mnar_genes"``          every observed value of ``round(rate * G)`` random genes (rate 0.05; genes with at least
                          one observed value)
``"mnar_low"``            ``round(within * m)`` of the ``m = round(quantile * n_obs)`` lowest observed values of the
                          whole matrix (a *global* quantile, quantile 0.05/0.10/0.20/0.30, within 0.5)
``"meth_mcar"``           as ``"mcar"``, for a CpG-site matrix
``"meth_sites"``          as ``"mnar_genes"``, for CpG sites (rate 0.05)
``"meth_coverage"``       ``round(within * m)`` of the ``m`` observed entries with coverage ``< min_coverage`` (6 reads;
                          within 1.0: every low-coverage entry, see the note below)
========================  ==========================================================================================

Notes on reading the paper
--------------------------
* *Global, not per-gene, quantile for* ``"mnar_low"``. The paper says "we first choose gene expression values at the
  lowest 10% quantile, and then randomly mask half of these values", and the reference code
  (``create_missing.R``) takes the 10th percentile of the whole matrix. A global quantile is what models the
  motivating mechanism (low sequencing depth loses *lowly expressed genes*): low-expression genes lose many values,
  highly expressed genes none. "The lowest ``quantile``" is taken by rank, so ties never change the count;
  ties at the cut (many equal zero-count values) are broken at random with the seed, so that no sample or gene is
  favoured by its position in the matrix.
* ``"meth_coverage"``: the text says entries with fewer than six reads "are treated as missing"; Table 1 and
  Figure 3c say "50% random missing" among them. The default (``within=1.0``) follows the text; pass ``within=0.5``
  for the table's version.
* *Log scale, before standardisation.* The paper simulated its missing values on the log-transformed data, before
  the z-scoring. The quantile of ``"mnar_low"`` depends on that order: on the log scale the lowest values belong to
  weakly expressed genes, while on a z-scored matrix they would be the values that are low *for their gene*. Pass the
  log-scale matrix here (or as ``mask_reference`` to :func:`omicsnb.impute.experiment.evaluate_imputers`), and
  z-score afterwards.
* The paper masks the *test* split only; its imputers are fitted on the complete training split. Ours can also be
  fitted on a training split with real gaps.

Introduced in the imputation chapter (Qiu et al., VAE imputation of expression and methylation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from omicsnb.validation import OmicsInputError, check_float, check_int

__all__ = ["SCENARIOS", "simulate_missing"]

#: Scenario names accepted by :func:`simulate_missing`.
SCENARIOS = ("mcar", "mnar_gc", "mnar_genes", "mnar_low", "meth_mcar", "meth_sites", "meth_coverage")
_DEFAULT_RATE = {"mcar": None, "meth_mcar": None, "mnar_genes": 0.05, "meth_sites": 0.05}
_DEFAULT_WITHIN = {"mnar_gc": 0.5, "mnar_low": 0.5, "meth_coverage": 1.0}


def _matrix(X, name: str = "X") -> np.ndarray:
    """Values of a numeric, finite, 2-D matrix (DataFrame or ndarray) without copying."""
    if isinstance(X, pd.DataFrame):
        bad = [c for c, t in X.dtypes.items() if pd.api.types.is_bool_dtype(t) or not pd.api.types.is_numeric_dtype(t)]
        if bad:
            raise OmicsInputError(f"{name} has non-numeric columns (e.g. {bad[0]!r}); pass only numeric columns")
        values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.asarray(X)
        if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
            raise OmicsInputError(f"{name} has dtype {values.dtype}, not numbers; pass a numeric matrix")
    if values.ndim != 2 or 0 in values.shape:
        raise OmicsInputError(f"{name} must be a non-empty 2-D matrix (samples x features), got shape {values.shape}")
    if np.isinf(values).any():
        raise OmicsInputError(f"{name} has {int(np.isinf(values).sum())} infinite values; fix them upstream")
    return values


def _feature_vector(values, n_features: int, name: str, fix: str) -> np.ndarray:
    """A finite 1-D float vector with one value per feature (column)."""
    if values is None:
        raise OmicsInputError(f"this scenario needs {name}; {fix}")
    v = values.to_numpy(dtype=np.float64) if isinstance(values, pd.Series) else np.asarray(values, dtype=np.float64)
    if v.shape != (n_features,):
        raise OmicsInputError(f"{name} has shape {v.shape} but X has {n_features} columns; pass one value per column")
    if not np.isfinite(v).all():
        raise OmicsInputError(f"{name} has {int((~np.isfinite(v)).sum())} missing or infinite values; fill them first")
    return v


def _choose(rng: np.random.Generator, candidates: np.ndarray, fraction: float, out: np.ndarray) -> None:
    """Set ``round(fraction * len(candidates))`` of the flat positions ``candidates`` to True in ``out``."""
    k = int(round(fraction * len(candidates)))
    if k:
        out.ravel()[rng.choice(candidates, size=k, replace=False)] = True


def simulate_missing(X, scenario: str, *, rate: float | None = None, quantile: float = 0.10,
                     top_fraction: float = 0.10, within: float | None = None, gc_content=None, coverage=None,
                     min_coverage: int = 6, seed: int) -> np.ndarray:
    """Boolean mask (samples x features, ``True`` = missing) for one of the paper's missing-data scenarios.

    Introduced in the imputation chapter (Qiu et al., VAE imputation). See the module docstring for the exact
    definition and count of every scenario.

    Parameters
    ----------
    X
        The test matrix (DataFrame or 2-D array), NaN where a value is really missing. Its shape and its gaps are
        used, and for ``"mnar_low"`` its observed values are ranked (pass the log scale, before z-scoring).
    scenario
        One of :data:`SCENARIOS`.
    rate
        Fraction of entries (``"mcar"``, ``"meth_mcar"``; required) or of features (``"mnar_genes"``,
        ``"meth_sites"``; default 0.05) to mask, in (0, 1).
    quantile
        ``"mnar_low"``: the lowest ``quantile`` of all values are eligible (paper: 0.05, 0.10, 0.20, 0.30).
    top_fraction
        ``"mnar_gc"``: fraction of genes, those with the highest GC content, that are eligible.
    within
        Fraction of the eligible entries that are masked (defaults: 0.5 for ``"mnar_gc"``/``"mnar_low"``, 1.0 for
        ``"meth_coverage"``).
    gc_content
        ``"mnar_gc"``: one GC fraction per column (e.g. ``cohort.var["gc_content"]``). Ties are broken by column order.
    coverage
        ``"meth_coverage"``: read counts, same shape as ``X``.
    min_coverage
        ``"meth_coverage"``: entries with fewer reads than this are eligible.
    seed
        Non-negative integer; the same inputs and seed give the same mask.

    Returns
    -------
    numpy.ndarray of bool, shape ``X.shape``, never True where ``X`` is NaN.
    """
    if scenario not in SCENARIOS:
        raise OmicsInputError(f"unknown scenario {scenario!r}; pass one of: {', '.join(SCENARIOS)}")
    check_int("seed", seed, 0)
    values = _matrix(X)
    n, g = values.shape
    observed = ~np.isnan(values) if np.issubdtype(values.dtype, np.floating) else np.ones((n, g), dtype=bool)
    if not observed.any():
        raise OmicsInputError("X has no observed value; there is nothing to mask")
    rng = np.random.default_rng(seed)
    mask = np.zeros((n, g), dtype=bool)

    used = {"rate": rate is not None and scenario not in _DEFAULT_RATE,
            "within": within is not None and scenario not in _DEFAULT_WITHIN,
            "gc_content": gc_content is not None and scenario != "mnar_gc",
            "coverage": coverage is not None and scenario != "meth_coverage"}
    for name, wrong in used.items():
        if wrong:
            raise OmicsInputError(f"{name} is not used by scenario {scenario!r}; drop it or pick another scenario")

    if scenario in _DEFAULT_RATE:
        rate = _DEFAULT_RATE[scenario] if rate is None else rate
        if rate is None:
            raise OmicsInputError(f"scenario {scenario!r} needs rate (fraction of entries to mask), e.g. rate=0.1")
        check_float("rate", rate, 0.0, 1.0, low_open=True, high_open=True)
    if scenario in _DEFAULT_WITHIN:
        within = _DEFAULT_WITHIN[scenario] if within is None else within
        check_float("within", within, 0.0, 1.0, low_open=True)

    if scenario in ("mcar", "meth_mcar"):
        _choose(rng, np.flatnonzero(observed.ravel()), rate, mask)
    elif scenario in ("mnar_genes", "meth_sites"):
        k = int(round(rate * g))
        if k == 0:
            raise OmicsInputError(f"rate={rate} of {g} features masks no feature; pass rate >= {0.5 / g:.3g}")
        candidates = np.flatnonzero(observed.any(axis=0))
        if k > len(candidates):
            raise OmicsInputError(f"rate={rate} asks for {k} features but only {len(candidates)} have an observed "
                                  "value; pass a smaller rate")
        mask[:, rng.choice(candidates, size=k, replace=False)] = True
        mask &= observed
    elif scenario == "mnar_gc":
        check_float("top_fraction", top_fraction, 0.0, 1.0, low_open=True)
        gc = _feature_vector(gc_content, g, "gc_content", "pass one GC fraction per column, e.g. "
                             "gc_content=cohort.var['gc_content']")
        k = int(round(top_fraction * g))
        if k == 0:
            raise OmicsInputError(f"top_fraction={top_fraction} of {g} genes selects none; pass a larger value")
        top = np.argsort(-gc, kind="stable")[:k]
        eligible = (np.arange(n)[:, None] * g + np.sort(top)[None, :]).ravel()
        _choose(rng, eligible[observed.ravel()[eligible]], within, mask)
    elif scenario == "mnar_low":
        check_float("quantile", quantile, 0.0, 1.0, low_open=True)
        positions = np.flatnonzero(observed.ravel())
        flat = values.ravel()[positions]
        m = int(round(quantile * flat.size))
        eligible = positions[np.lexsort((rng.random(flat.size), flat))[:m]]  # ties (e.g. zero counts) broken at random
        _choose(rng, eligible, within, mask)
    else:  # meth_coverage
        check_int("min_coverage", min_coverage, 1)
        cov = coverage.to_numpy() if isinstance(coverage, pd.DataFrame) else np.asarray(coverage)
        if cov.shape != (n, g):
            raise OmicsInputError(f"coverage has shape {cov.shape} but X has {(n, g)}; pass one read count per entry")
        numeric = cov.dtype != bool and np.issubdtype(cov.dtype, np.number)
        if not numeric or not np.isfinite(cov).all() or (cov < 0).any():
            raise OmicsInputError("coverage must hold non-negative finite read counts; fix or drop the bad entries")
        _choose(rng, np.flatnonzero((cov < min_coverage).ravel() & observed.ravel()), within, mask)
    return mask
