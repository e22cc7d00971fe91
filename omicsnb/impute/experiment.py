"""Running the imputation study: repeated trials over missing-data scenarios, and what is read from them.

* :func:`evaluate_imputers` -- for every scenario and trial, mask the complete test matrix, impute it with every
  method and score the masked entries; one tidy row per (scenario, trial, method);
* :func:`summarise_errors` -- mean and 95% CI per scenario and method, and a paired Wilcoxon test of one reference
  method against each other method (the paper's Figures 1-3);
* :class:`ClinicalConcordance` -- per-gene grade and survival associations on imputed vs true data, as a
  concordance index (the paper's Table 2); pass it as ``extra=`` to :func:`evaluate_imputers`;
* :func:`iteration_curve` -- error and change of the VAE's imputed entries at each imputation iteration;
* :func:`select_svd_rank` -- the iterative-SVD rank with the smallest validation error;
* :func:`write_imputed` -- save an imputed matrix to a new file, never over the input or an existing file.

Introduced in the imputation chapter (Qiu et al., VAE imputation of expression and methylation).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from omicsnb.executor import get_executor
from omicsnb.impute.baselines import IterativeSVDImputer, _values
from omicsnb.impute.concordance import (
    batched_univariate_cox,
    concordance_index,
    mean_ci,
    per_gene_grade_spearman,
    rmse_mae,
    wilcoxon_vs,
)
from omicsnb.impute.missing import simulate_missing
from omicsnb.impute.vae import VAEImputer
from omicsnb.validation import OmicsInputError, check_int

__all__ = ["ClinicalConcordance", "evaluate_imputers", "iteration_curve", "select_svd_rank", "summarise_errors",
           "write_imputed"]


def _as_function(name: str, method) -> Callable:
    if hasattr(method, "transform"):
        return method.transform
    if callable(method):
        return method
    raise OmicsInputError(f"method {name!r} is a {type(method).__name__}; pass a fitted imputer or a function "
                          "X_with_nan -> X_imputed")


def _imputation_trial(task: Mapping, shared: Mapping) -> list[dict]:
    """One (scenario, trial) cell of :func:`evaluate_imputers`: one mask, every method, one row per method."""
    truth, extra, extra_trials = shared["truth"], shared["extra"], shared["extra_trials"]
    mask = simulate_missing(shared["reference"], seed=task["seed"], **shared["scenarios"][task["scenario"]])
    corrupted = np.where(mask, np.nan, truth)
    rows = []
    for name, impute in shared["functions"].items():
        start = time.perf_counter()
        imputed = np.asarray(impute(corrupted), dtype=np.float64)
        seconds = time.perf_counter() - start
        row = {"scenario": task["scenario"], "trial": task["trial"], "method": name, **rmse_mae(truth, imputed, mask),
               "seconds": seconds}
        if extra is not None and (extra_trials is None or task["trial"] < extra_trials):
            row.update(extra(truth, imputed, mask))
        rows.append(row)
    return rows


def evaluate_imputers(methods: Mapping[str, object], X_true, scenarios: Mapping[str, Mapping], *, trials: int = 10,
                      seed: int = 0, extra: Callable | None = None, extra_trials: int | None = None,
                      mask_reference=None, progress: bool = True, executor=None) -> pd.DataFrame:
    """Score imputation methods over repeated missing-data simulations on a test matrix.

    For each scenario and each trial ``t`` (``0 .. trials - 1``), the mask is
    ``simulate_missing(X_true, seed=seed + t, **scenarios[name])`` -- the same mask for every method, so the
    errors are paired across methods -- the masked entries are set to NaN, every method imputes the result, and
    :func:`~omicsnb.impute.concordance.rmse_mae` scores the masked entries (in the units of ``X_true``; z-score
    it with the training statistics first to get the paper's units). ``X_true`` may have real gaps (NaN): the
    masks hide observed entries only, the methods impute the real gaps too, and only the masked entries are scored.
    Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Parameters
    ----------
    methods
        Name -> a *fitted* imputer (anything with ``transform``) or a function ``X_with_nan -> X_imputed``
        (e.g. ``lambda X: vae.transform(X, shift_lambda=-0.5)``).
    X_true
        The complete test matrix (samples x features).
    scenarios
        Label -> keyword arguments of :func:`~omicsnb.impute.missing.simulate_missing` other than ``X`` and
        ``seed``, e.g. ``{"MCAR 10%": {"scenario": "mcar", "rate": 0.1}}``.
    trials
        Simulations per scenario (the paper: 10).
    seed
        Trial ``t`` uses mask seed ``seed + t``.
    extra
        Optional function ``(X_true, X_imputed, mask) -> dict`` whose entries become extra columns (for example a
        :class:`ClinicalConcordance`).
    extra_trials
        Apply ``extra`` to the first ``extra_trials`` trials only (None: all), when it is slower than imputing;
        the other rows get NaN in its columns.
    mask_reference
        Optional matrix of ``X_true``'s shape, with the same gaps, on which the masks are simulated instead (its
        values matter only for ``"mnar_low"``): pass the log-scale data when ``X_true`` is its z-scored version, so
        that the lowest values are chosen on the log scale, before standardisation, as the paper did.
    progress
        Show a tqdm bar over (scenario, trial) pairs.
    executor
        Where the (scenario, trial) cells run: an :class:`~omicsnb.executor.Executor` or a spec such as
        ``"processes?workers=2"`` or ``"dask://tcp://host:8786"`` (None: ``OMICSNB_EXECUTOR``, else serial). The
        rows are the same on every backend except the ``seconds`` column, a wall time.

    Returns
    -------
    DataFrame with ``scenario``, ``trial``, ``method``, ``rmse``, ``mae``, ``n_missing``, ``seconds`` (wall time of
    the imputation call) and the ``extra`` columns.
    """
    if not methods:
        raise OmicsInputError("methods is empty; pass at least one {name: fitted imputer}")
    if not scenarios:
        raise OmicsInputError("scenarios is empty; pass at least one {label: simulate_missing keyword arguments}")
    check_int("trials", trials, 1)
    check_int("seed", seed, 0)
    functions = {name: _as_function(name, m) for name, m in methods.items()}
    if extra is not None and not callable(extra):
        raise OmicsInputError(f"extra must be a function (X_true, X_imputed, mask) -> dict, got {type(extra).__name__}")
    if extra_trials is not None:
        check_int("extra_trials", extra_trials, 0)
    truth = _values(X_true, "X_true").astype(np.float64)
    reference = truth
    if mask_reference is not None:
        reference = _values(mask_reference, "mask_reference").astype(np.float64)
        if reference.shape != truth.shape or not np.array_equal(np.isnan(reference), np.isnan(truth)):
            raise OmicsInputError("mask_reference must have X_true's shape and the same NaN entries; pass the same "
                                  "samples and genes before scaling")
    for label, spec in scenarios.items():
        if not isinstance(spec, Mapping) or "scenario" not in spec or "seed" in spec:
            raise OmicsInputError(f"scenario {label!r} must be a dict of simulate_missing arguments with 'scenario' "
                                  "and without 'seed', e.g. {'scenario': 'mcar', 'rate': 0.1}")
    # every (scenario, trial) is an independent task with its own mask seed: the rows are the same on every backend
    tasks = [{"scenario": label, "trial": trial, "seed": seed + trial} for label in scenarios for trial in range(trials)]
    shared = {"truth": truth, "reference": reference, "scenarios": {k: dict(v) for k, v in scenarios.items()},
              "functions": functions, "extra": extra, "extra_trials": extra_trials}
    runner, owned = get_executor(executor, progress=progress)
    try:
        results = runner.map(_imputation_trial, tasks, shared=shared, desc="imputation trials")
    finally:
        if owned:
            runner.close()
    return pd.DataFrame([row for rows in results for row in rows])


def summarise_errors(results: pd.DataFrame, *, reference: str, metric: str = "rmse",
                     level: float = 0.95) -> pd.DataFrame:
    """Mean, confidence interval and a paired Wilcoxon test against ``reference``, per scenario and method.

    ``results`` is the output of :func:`evaluate_imputers`. The CI is Student's t over trials
    (:func:`~omicsnb.impute.concordance.mean_ci`); the two-sided Wilcoxon signed-rank test
    (:func:`~omicsnb.impute.concordance.wilcoxon_vs`) pairs the trials of ``reference`` and the other method
    (p = 1 where their errors are identical in every trial). Scenarios and methods keep their order of appearance.
    Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Returns
    -------
    DataFrame with ``scenario``, ``method``, ``mean``, ``ci`` (half-width), ``n``, ``p_vs_reference``
    (NaN for the reference itself) and ``median_diff_vs_reference`` (reference minus method).
    """
    needed = {"scenario", "trial", "method", metric}
    if not isinstance(results, pd.DataFrame) or not needed <= set(results.columns):
        raise OmicsInputError(f"results must be the table of evaluate_imputers with columns {sorted(needed)}")
    if reference not in set(results["method"]):
        raise OmicsInputError(f"reference {reference!r} is not a method in results; pick one of "
                              f"{list(dict.fromkeys(results['method']))}")
    rows = []
    for scenario, part in results.groupby("scenario", sort=False):
        wide = part.pivot(index="trial", columns="method", values=metric)
        for method in dict.fromkeys(part["method"]):
            values = wide[method].dropna().to_numpy()
            mean, half = mean_ci(values, level) if len(values) > 1 else (float(values.mean()), np.nan)
            p = diff = np.nan
            if method != reference and len(values) > 1:
                pair = wide[[reference, method]].dropna().to_numpy()
                if np.all(pair[:, 0] == pair[:, 1]):
                    p, diff = 1.0, 0.0
                else:
                    test = wilcoxon_vs(pair[:, 0], pair[:, 1])
                    p, diff = test["pvalue"], test["median_difference"]
            rows.append({"scenario": scenario, "method": method, "mean": mean, "ci": half, "n": len(values),
                         "p_vs_reference": p, "median_diff_vs_reference": diff})
    return pd.DataFrame(rows)


class ClinicalConcordance:
    """Do per-gene clinical associations survive imputation? The paper's Table 2, as an ``extra=`` scorer.

    On the true test matrix, once: each gene's Spearman correlation with ``grade``
    (:func:`~omicsnb.impute.concordance.per_gene_grade_spearman`) and univariate Cox coefficient with
    (``time``, ``event``) (:func:`~omicsnb.impute.concordance.batched_univariate_cox`). Called on an imputed
    matrix, it recomputes both and returns their concordance indices with the truth
    (:func:`~omicsnb.impute.concordance.concordance_index`) over the genes with at least one masked entry: the
    others keep their true coefficients and would only inflate the index. (The paper's random baseline of 0.500 for
    wholly missing genes implies the same restriction.) A gene that imputation made constant (mean imputation of a
    wholly missing gene) has no association: its undefined coefficient counts as 0, not as a dropped gene (dropping
    it would reward the imputer); genes constant in the *true* data are dropped.
    Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Parameters
    ----------
    X_true
        The complete test matrix (the one given to :func:`evaluate_imputers`).
    grade
        Ordinal grade per sample, or None to skip it.
    time, event
        Follow-up and event indicator per sample, or None to skip the Cox part.
    """

    def __init__(self, X_true, *, grade=None, time=None, event=None):
        if grade is None and time is None:
            raise OmicsInputError("pass grade, or time and event (or both); there is nothing to compare otherwise")
        if (time is None) != (event is None):
            raise OmicsInputError("pass time and event together for the Cox part")
        self._truth = _values(X_true, "X_true").astype(np.float64)
        if np.isnan(self._truth).any():
            raise OmicsInputError("X_true has real gaps (NaN); clinical concordance compares against complete data, "
                                  "so pass the complete genes or samples only")
        self.grade, self.time, self.event = grade, time, event
        self.reference_ = self._coefficients(self._truth)

    def _coefficients(self, X) -> dict[str, np.ndarray]:
        out = {}
        if self.grade is not None:
            out["grade"] = per_gene_grade_spearman(X, self.grade)
        if self.time is not None:
            out["cox"] = batched_univariate_cox(X, self.time, self.event)["coef"].to_numpy()
        return out

    def __call__(self, X_true, X_imputed, mask=None) -> dict[str, float]:
        """Concordance index of each association (``grade_cindex``, ``cox_cindex``) between imputed and true data.

        ``mask`` (True = was missing) restricts the comparison to the genes with a masked entry; None uses all genes.
        """
        imputed = _values(X_imputed, "X_imputed").astype(np.float64)
        if imputed.shape != self._truth.shape:
            raise OmicsInputError(f"X_imputed has shape {imputed.shape} but the reference has {self._truth.shape}; "
                                  "pass the imputed version of the same test matrix")
        genes = np.ones(imputed.shape[1], dtype=bool) if mask is None else np.asarray(mask, dtype=bool).any(axis=0)
        if genes.shape != (imputed.shape[1],) or genes.sum() < 2:
            raise OmicsInputError("mask must have the test matrix's shape and mask entries in at least 2 genes")
        out = {}
        for key, coef in self._coefficients(imputed[:, genes]).items():
            reference = self.reference_[key][genes]
            coef = np.where(np.isnan(coef) & np.isfinite(reference), 0.0, coef)
            out[f"{key}_cindex"] = concordance_index(reference, coef, dropna=True)
        return out


def iteration_curve(imputer: VAEImputer, X_with_nan, X_true, *, max_iterations: int = 10) -> pd.DataFrame:
    """Error of the imputed entries and their change, after each of ``1 .. max_iterations`` VAE iterations.

    The fitted ``imputer`` is not modified (a shallow copy with a different ``n_iterations`` is run for each
    count, so the cost grows with ``max_iterations**2 / 2`` forward passes). Errors are in the units of
    ``X_true``; ``change`` is the RMS change of the imputed entries at that iteration in the VAE's z-score units
    (``convergence_``). Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Returns
    -------
    DataFrame with ``iteration``, ``rmse``, ``mae``, ``change``.
    """
    if not isinstance(imputer, VAEImputer) or not hasattr(imputer, "model_"):
        raise OmicsInputError("imputer must be a fitted VAEImputer; call imputer.fit(X_train) first")
    check_int("max_iterations", max_iterations, 1)
    corrupted = _values(X_with_nan, "X_with_nan").astype(np.float64)
    mask = np.isnan(corrupted) & ~np.isnan(_values(X_true, "X_true").astype(np.float64))  # real gaps: not scored
    if not mask.any():
        raise OmicsInputError("X_with_nan has no missing value; mask some entries first")
    rows = []
    for k in range(1, max_iterations + 1):
        run = copy.copy(imputer)
        run.n_iterations = k
        imputed = run.transform(corrupted)
        err = rmse_mae(X_true, imputed, mask)
        rows.append({"iteration": k, "rmse": err["rmse"], "mae": err["mae"], "change": run.convergence_[-1]})
    return pd.DataFrame(rows)


def select_svd_rank(X_fit, X_val, ranks, *, rate: float = 0.10, n_trials: int = 1, tol: float = 5e-4,
                    max_iter: int = 16, seed: int = 0, progress: bool = False) -> tuple[int, pd.DataFrame]:
    """Choose the rank of :class:`~omicsnb.impute.baselines.IterativeSVDImputer` on a validation split.

    Each rank in ``ranks`` is fitted on ``X_fit`` (gaps allowed) and scored by :func:`evaluate_imputers` on
    ``n_trials`` MCAR simulations (``rate`` of the entries) of the complete validation samples ``X_val``; the rank
    with the smallest mean RMSE wins (the paper tested a range of ranks on its validation split). Introduced in the
    imputation chapter (Qiu et al., VAE imputation).

    Returns
    -------
    best_rank : int
    table : DataFrame with ``rank``, ``rmse``, ``mae`` (means over trials), one row per candidate.
    """
    candidates = [int(r) for r in np.asarray(ranks).ravel()]
    if not candidates:
        raise OmicsInputError("ranks is empty; pass candidate ranks, e.g. ranks=[10, 20, 50]")
    methods = {r: IterativeSVDImputer(rank=r, tol=tol, max_iter=max_iter, seed=seed).fit(X_fit) for r in candidates}
    results = evaluate_imputers(methods, X_val, {"validation": {"scenario": "mcar", "rate": rate}}, trials=n_trials,
                                seed=seed, progress=progress)
    table = (results.groupby("method", sort=False)[["rmse", "mae"]].mean().rename_axis("rank").reset_index())
    best = int(table.loc[table["rmse"].idxmin(), "rank"])
    return best, table


_WRITERS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}


def write_imputed(frame: pd.DataFrame, path, *, input_path=None) -> Path:
    """Write an imputed matrix (samples x genes, no NaN) to the new file ``path`` and return its resolved path.

    The format follows the extension: ``.csv``, ``.tsv`` / ``.txt`` (tab) or ``.parquet``. The file must not exist
    yet, and must not be the input file ``input_path``: an imputed matrix never replaces the data it came from.
    Introduced in the imputation chapter (Qiu et al., VAE imputation).
    """
    if not isinstance(frame, pd.DataFrame):
        raise OmicsInputError("frame must be a DataFrame of samples x genes; wrap the array with its sample and gene "
                              "names")
    if frame.isna().to_numpy().any():
        raise OmicsInputError(f"the matrix still has {int(frame.isna().to_numpy().sum())} NaN values; impute first")
    if not path or not str(path).strip():
        raise OmicsInputError("imputed_output_path is empty; pass -p imputed_output_path FILE.csv to write the imputed matrix")
    target = Path(path).expanduser().resolve()
    suffix = target.suffix.lower()
    if suffix not in (*_WRITERS, ".parquet"):
        raise OmicsInputError(f"imputed_output_path {path} has extension {suffix or '(none)'}; pass a .csv, .tsv, .txt or "
                              ".parquet file name")
    if input_path and target == Path(input_path).expanduser().resolve():
        raise OmicsInputError(f"imputed_output_path {path} is the input file; pass -p imputed_output_path with a new file name")
    if target.exists():
        raise OmicsInputError(f"imputed_output_path {path} already exists; pass a new file name (nothing is overwritten)")
    if not target.parent.is_dir():
        raise OmicsInputError(f"the folder of imputed_output_path {path} does not exist; create it or pass another path")
    if suffix == ".parquet":
        frame.to_parquet(target)
    else:
        frame.to_csv(target, sep=_WRITERS[suffix])
    return target
