"""Z-scoring for matrices with real gaps: statistics from the observed training entries, NaN passed through.

The book's :func:`omicsnb.data.preprocess.standardize` refuses NaN, which is right for the chapters that need a
complete matrix. Imputation is the one place where the gaps must survive scaling, so this module gives the same
operation for matrices with NaN: each feature's mean and standard deviation over its *observed* training values
(population sd, ``ddof=0``, as scikit-learn's ``StandardScaler``), applied to every split, with NaN left as NaN.
A feature with a single observed value or a constant one gets a scale of 1 (centred, not divided: never NaN or
infinite). Introduced in the imputation chapter (Qiu et al., VAE imputation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from omicsnb.validation import OmicsInputError

__all__ = ["ObservedScaler", "standardize_observed"]


def _as_values(X, name: str) -> np.ndarray:
    from omicsnb.impute.baselines import _values

    return _values(X, name).astype(np.float64)


@dataclass
class ObservedScaler:
    """Per-feature ``mean_`` and ``scale_`` from observed values; :meth:`transform` / :meth:`inverse_transform`.

    Introduced in the imputation chapter (Qiu et al., VAE imputation).
    """

    mean_: np.ndarray
    scale_: np.ndarray

    @classmethod
    def fit(cls, X_train) -> ObservedScaler:
        """Mean and sd of each column over its non-NaN entries (a column without any raises)."""
        values = _as_values(X_train, "X_train")
        observed = ~np.isnan(values)
        empty = np.flatnonzero(~observed.any(axis=0))
        if len(empty):
            raise OmicsInputError(f"training column {empty[0]} has no observed value ({len(empty)} such columns); "
                                  "drop those features before scaling")
        count = observed.sum(axis=0)
        mean = np.where(observed, values, 0.0).sum(axis=0) / count
        var = np.where(observed, (values - mean) ** 2, 0.0).sum(axis=0) / count
        scale = np.sqrt(var)
        scale[(count < 2) | (scale <= 1e-12 * np.maximum(np.abs(mean), 1.0))] = 1.0
        return cls(mean, scale)

    def transform(self, X):
        """``(X - mean_) / scale_``; NaN stay NaN; a DataFrame keeps its index and columns."""
        values = _as_values(X, "X")
        if values.shape[1] != len(self.mean_):
            raise OmicsInputError(f"X has {values.shape[1]} features but the scaler was fitted on {len(self.mean_)}; "
                                  "pass the same features in the same order")
        out = (values - self.mean_) / self.scale_
        return pd.DataFrame(out, index=X.index, columns=X.columns) if isinstance(X, pd.DataFrame) else out

    def inverse_transform(self, Z):
        """``Z * scale_ + mean_`` (back to the original units)."""
        values = _as_values(Z, "Z")
        out = values * self.scale_ + self.mean_
        return pd.DataFrame(out, index=Z.index, columns=Z.columns) if isinstance(Z, pd.DataFrame) else out


def standardize_observed(train, *others) -> tuple[ObservedScaler, list]:
    """Z-score ``train`` and every matrix in ``others`` with the observed training statistics; NaN pass through.

    The NaN-tolerant counterpart of :func:`omicsnb.data.preprocess.standardize`, with the same return shape:
    ``(scaler, [train_z, *others_z])``. Introduced in the imputation chapter (Qiu et al., VAE imputation).
    """
    scaler = ObservedScaler.fit(train)
    return scaler, [scaler.transform(train), *(scaler.transform(X) for X in others)]
