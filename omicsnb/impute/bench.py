"""Timing benchmarks for the imputation chapter: evaluation-time cost of VAE vs KNN vs SVD, and batched Cox.

Qiu et al. (GigaScience 2020) impute 100 new samples against 6,600 training samples x 17,176 genes and report
(20-core Xeon) KNN 8,400 s, SVD 36,900 s and VAE 60 s at evaluation time (VAE training, 2,800 s, excluded).
:func:`bench_imputation` reruns that comparison on a simulated cohort of the same shape; :func:`bench_cox` times the
vectorised per-gene Cox fits against a lifelines loop. Both are heavy at the default (paper) sizes: minutes and
a few GB of memory. Introduced in the imputation chapter (Qiu et al., VAE imputation).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from omicsnb.data.simulate import simulate_cohort
from omicsnb.impute.baselines import IterativeSVDImputer, KNNImputer, MeanImputer
from omicsnb.impute.concordance import batched_univariate_cox, rmse_mae
from omicsnb.impute.missing import simulate_missing
from omicsnb.impute.vae import PAPER_HIDDEN, VAEImputer
from omicsnb.validation import check_int

__all__ = ["bench_imputation", "bench_cox"]


def _log_expression(n_samples: int, n_genes: int, seed: int, progress: bool):
    cohort = simulate_cohort(n_samples, n_genes, seed=seed, progress=progress)
    return cohort, cohort.log_expression()


def bench_imputation(n_train: int = 6600, n_genes: int = 17176, n_new: int = 100, *, rate: float = 0.10,
                     hidden=PAPER_HIDDEN, latent: int = 200, vae_epochs: int = 1, svd_rank: int = 100,
                     svd_max_iter: int = 16, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Time imputing ``n_new`` new samples (MCAR ``rate``) with a pre-trained VAE, KNN (K=10) and iterative SVD.

    Only the imputation of the new samples is timed (``transform``; for KNN and SVD that is all the work, as both
    must look at the training matrix again for every new batch; VAE training is excluded). The VAE is trained for
    only ``vae_epochs`` epochs -- enough for timing, since the cost of imputation depends on the architecture, not
    on the weights -- so its RMSE here is *not* a measure of its accuracy (train for the paper's 250 epochs for
    that). SVD uses a randomized rank-``svd_rank`` decomposition (the paper used full rank, far slower).
    RMSE/MAE are on the masked entries, in log2(CPM+1) units. Prints the table and ratios to the VAE time.

    Returns
    -------
    DataFrame with ``method``, ``seconds``, ``ratio_to_vae``, ``rmse``, ``mae``.
    """
    for name, value in (("n_train", n_train), ("n_genes", n_genes), ("n_new", n_new), ("seed", seed)):
        check_int(name, value, 0 if name == "seed" else 1)
    _, X = _log_expression(n_train + n_new, n_genes, seed, progress)
    order = np.random.default_rng(seed).permutation(len(X))
    train, new = X[order[:n_train]], X[order[n_train:]]
    mask = simulate_missing(new, "mcar", rate=rate, seed=seed)
    corrupted = np.where(mask, np.nan, new)

    vae = VAEImputer(hidden, latent, epochs=vae_epochs, seed=seed, progress=progress).fit(train)
    rows = []
    for name, imputer in (("VAE", vae), ("KNN", KNNImputer(n_neighbors=10)),
                          ("iterative SVD", IterativeSVDImputer(rank=svd_rank, max_iter=svd_max_iter, seed=seed,
                                                                progress=progress)),
                          ("mean", MeanImputer())):
        if name != "VAE":
            imputer.fit(train)
        start = time.perf_counter()
        out = imputer.transform(corrupted)
        seconds = time.perf_counter() - start
        rows.append({"method": name, "seconds": seconds, **rmse_mae(new, out, mask)})
    table = pd.DataFrame(rows).drop(columns="n_missing")
    table.insert(2, "ratio_to_vae", table["seconds"] / table.loc[0, "seconds"])
    print(f"imputing {n_new} new samples x {n_genes} genes against {n_train} training samples "
          f"(MCAR {rate:.0%}; VAE trained {vae_epochs} epoch(s) only, so its RMSE is not meaningful):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return table


def bench_cox(n_genes: int = 17176, n_samples: int = 667, *, n_lifelines: int = 50, seed: int = 0,
              progress: bool = True) -> dict[str, float]:
    """Time :func:`~omicsnb.impute.concordance.batched_univariate_cox` on all genes against a lifelines loop.

    lifelines (``CoxPHFitter`` with ``fit_options={"precision": 1e-10}``: its default stopping rule leaves errors up
    to ~1e-4, larger than the differences between the two implementations; one fit per gene) is timed on the
    first ``n_lifelines`` genes only and its time for
    all genes is *extrapolated* linearly (``seconds * n_genes / n_lifelines``). The maximum absolute coefficient
    difference is taken over those genes. Tumour samples of a simulated cohort of ``n_samples`` (the paper: 667
    gliomas); normals have no follow-up and are dropped. Prints and returns the numbers.
    """
    from lifelines import CoxPHFitter

    check_int("n_genes", n_genes, 1)
    check_int("n_lifelines", n_lifelines, 1, n_genes)
    cohort, X = _log_expression(n_samples, n_genes, seed, progress)
    tumour = cohort.obs["survival_time"].notna().to_numpy()
    X = X[tumour].astype(np.float64)
    time_ = cohort.obs["survival_time"].to_numpy(dtype=np.float64)[tumour]
    event = cohort.obs["event"].to_numpy(dtype=np.float64, na_value=np.nan)[tumour]

    start = time.perf_counter()
    res = batched_univariate_cox(X, time_, event, progress=progress)
    batched = time.perf_counter() - start

    start = time.perf_counter()
    ref = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(n_lifelines):
            frame = pd.DataFrame({"x": X[:, j], "T": time_, "E": event})
            ref.append(CoxPHFitter().fit(frame, "T", "E", fit_options={"precision": 1e-10}).params_["x"])
    per_gene = (time.perf_counter() - start) / n_lifelines
    ok = np.isfinite(ref) & np.isfinite(res["coef"].to_numpy()[:n_lifelines])
    out = {"n_samples": int(tumour.sum()), "n_genes": n_genes, "batched_seconds": batched,
           "lifelines_seconds_per_gene": per_gene, "lifelines_seconds_extrapolated": per_gene * n_genes,
           "speedup": per_gene * n_genes / batched,
           "max_abs_coef_diff": float(np.max(np.abs(np.array(ref)[ok] - res["coef"].to_numpy()[:n_lifelines][ok]))),
           "n_converged": int(res["converged"].sum())}
    print(f"univariate Cox on {n_genes} genes x {out['n_samples']} samples: batched {batched:.2f} s; lifelines "
          f"{per_gene * 1e3:.1f} ms/gene on {n_lifelines} genes, extrapolated {per_gene * n_genes:.0f} s "
          f"(x{out['speedup']:.0f}); max |coef diff| {out['max_abs_coef_diff']:.2e}")
    return out
