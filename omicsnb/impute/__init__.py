"""Imputation of expression and methylation data (Qiu, Zheng & Gevaert, GigaScience 2020).

- :mod:`omicsnb.impute.missing` -- the paper's MCAR / MNAR missing-data simulations;
- :mod:`omicsnb.impute.baselines` -- mean, random, KNN and iterative-SVD imputers (scikit-learn transformers that
  fit on the observed entries of a matrix with real gaps);
- :mod:`omicsnb.impute.vae` -- the (beta-)VAE imputer with a masked likelihood and shift correction;
- :mod:`omicsnb.impute.scaling` -- z-scoring from the observed training entries (NaN pass through);
- :mod:`omicsnb.impute.concordance` -- errors, per-gene grade / Cox associations and their concordance;
- :mod:`omicsnb.impute.experiment` -- trials over scenarios, summaries with CIs and Wilcoxon tests, clinical
  concordance as a scorer, VAE iteration curves, the SVD rank chosen on validation;
- :mod:`omicsnb.impute.bench` -- evaluation-time benchmarks (heavy; not imported here).

Introduced in the imputation chapter (Qiu et al., VAE imputation of expression and methylation).
"""

from omicsnb.impute.baselines import BaseImputer, IterativeSVDImputer, KNNImputer, MeanImputer, RandomImputer
from omicsnb.impute.concordance import (
                                        batched_univariate_cox,
                                        concordance_index,
                                        mean_ci,
                                        per_gene_grade_spearman,
                                        random_imputation,
                                        rmse_mae,
                                        wilcoxon_vs,
)
from omicsnb.impute.experiment import (
                                        ClinicalConcordance,
                                        evaluate_imputers,
                                        iteration_curve,
                                        select_svd_rank,
                                        summarise_errors,
                                        write_imputed,
)
from omicsnb.impute.missing import SCENARIOS, simulate_missing
from omicsnb.impute.scaling import ObservedScaler, standardize_observed
from omicsnb.impute.vae import DECODER_SIGMAS, PAPER_HIDDEN, VAEImputer, select_shift_lambda

__all__ = [
    "BaseImputer", "ClinicalConcordance", "DECODER_SIGMAS", "IterativeSVDImputer", "KNNImputer", "MeanImputer",
    "ObservedScaler", "PAPER_HIDDEN", "RandomImputer", "SCENARIOS", "VAEImputer", "standardize_observed",
    "batched_univariate_cox", "concordance_index", "evaluate_imputers",
    "iteration_curve", "mean_ci", "per_gene_grade_spearman", "random_imputation", "rmse_mae", "select_shift_lambda",
    "select_svd_rank", "simulate_missing", "summarise_errors", "wilcoxon_vs", "write_imputed",
]
