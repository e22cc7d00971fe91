"""Baseline imputers behind one interface: ``fit(X_complete)`` then ``transform(X_with_nan)``.

Every imputer here (and :class:`omicsnb.impute.vae.VAEImputer`) follows the protocol of Qiu et al. (GigaScience
2020): it is fitted on a *complete* training matrix and imputes the NaN entries of new samples with the same
features. Shared guarantees:

* observed entries come back bit-identical (only NaN cells are written; float32 input stays float32);
* a DataFrame comes back as a DataFrame with the same index and columns;
* bad input raises :class:`~omicsnb.validation.OmicsInputError`: non-numeric or infinite values, NaN in the training
  data (an entirely-NaN training column is named as such), a feature count differing from ``fit``, a new sample
  with no observed value at all, or ``transform`` before ``fit``.

A gene that is missing in *every* new sample (the paper's "entire genes missing" scenario) is allowed: the training
data still inform it.

Introduced in the imputation chapter (Qiu et al., VAE imputation of expression and methylation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import KNNImputer as _SklearnKNN
from tqdm import tqdm  # text bars: work in terminals and notebooks without ipywidgets

from omicsnb.validation import OmicsInputError, check_float, check_int

__all__ = ["BaseImputer", "MeanImputer", "KNNImputer", "IterativeSVDImputer", "RandomImputer"]

_OVERSAMPLE = 10  # extra singular vectors carried between iterative-SVD passes (as randomized_svd's oversampling)
_FIRST_PASS_STEPS = 5  # subspace-iteration steps of the first pass (from a random start)


def _values(X, name: str) -> np.ndarray:
    """Numeric 2-D values of a DataFrame or array (NaN allowed, infinities not)."""
    if isinstance(X, pd.DataFrame):
        bad = [c for c, t in X.dtypes.items() if pd.api.types.is_bool_dtype(t) or not pd.api.types.is_numeric_dtype(t)]
        if bad:
            raise OmicsInputError(f"{name} has non-numeric columns (e.g. {bad[0]!r}); "
                                  "pass only numeric feature columns")
        values = X.to_numpy(dtype=np.float64, na_value=np.nan) if any(
            isinstance(t, pd.api.extensions.ExtensionDtype) for t in X.dtypes) else X.to_numpy()
    else:
        values = np.asarray(X)
        if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
            raise OmicsInputError(f"{name} has dtype {values.dtype}, not numbers; "
                                  "pass a numeric matrix (X.astype(float))")
    if values.ndim != 2 or 0 in values.shape:
        raise OmicsInputError(f"{name} must be a non-empty 2-D matrix (samples x features), got shape {values.shape}")
    if np.isinf(values).any():
        raise OmicsInputError(f"{name} has {int(np.isinf(values).sum())} infinite values; fix them upstream")
    return values


class BaseImputer:
    """The shared fit/transform protocol; subclasses implement ``_fit(train)`` and ``_impute(new, missing)``.

    Introduced in the imputation chapter (Qiu et al., VAE imputation).
    """

    n_features_in_: int

    # -- public API ----------------------------------------------------------------------------------------------------
    def fit(self, X_complete) -> BaseImputer:
        """Learn from a complete training matrix (samples x features, no NaN)."""
        train = _values(X_complete, "X_complete").astype(np.float64, copy=False)
        nan = np.isnan(train)
        if nan.any():
            empty = np.flatnonzero(nan.all(axis=0))
            if len(empty):
                raise OmicsInputError(f"training column {empty[0]} is entirely NaN ({len(empty)} such columns); "
                                      "drop those features before fitting")
            raise OmicsInputError(f"X_complete has {int(nan.sum())} NaN values; fit on complete training samples "
                                  "(drop or impute them first)")
        if len(train) < 2:
            raise OmicsInputError("X_complete has fewer than 2 samples; fit on a larger training set")
        self.n_features_in_ = train.shape[1]
        self.train_mean_ = train.mean(axis=0)
        self._fit(train)
        return self

    def transform(self, X_with_nan):
        """Return ``X_with_nan`` with its NaN entries imputed; observed entries are returned untouched."""
        if not hasattr(self, "n_features_in_"):
            raise OmicsInputError(f"{type(self).__name__} is not fitted; call fit(X_complete) first")
        values = _values(X_with_nan, "X_with_nan")
        if values.shape[1] != self.n_features_in_:
            raise OmicsInputError(f"X_with_nan has {values.shape[1]} features but the imputer was fitted on "
                                  f"{self.n_features_in_}; pass the same features in the same order")
        missing = np.isnan(values)
        empty_rows = np.flatnonzero(missing.all(axis=1))
        if len(empty_rows):
            raise OmicsInputError(f"sample {empty_rows[0]} has no observed value ({len(empty_rows)} such samples); "
                                  "drop samples without any measurement")
        out = values.copy() if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64)
        if missing.any():
            imputed = self._impute(values.astype(np.float64), missing)
            out[missing] = imputed[missing]
        if isinstance(X_with_nan, pd.DataFrame):
            return pd.DataFrame(out, index=X_with_nan.index, columns=X_with_nan.columns)
        return out

    def fit_transform(self, X_complete, X_with_nan):
        """``fit(X_complete).transform(X_with_nan)``."""
        return self.fit(X_complete).transform(X_with_nan)

    # -- hooks ---------------------------------------------------------------------------------------------------------
    def _fit(self, train: np.ndarray) -> None:  # pragma: no cover - trivial default
        """Store what ``_impute`` needs (``train`` is complete float64)."""

    def _impute(self, new: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """Full matrix whose ``missing`` cells hold the imputed values (other cells are ignored)."""
        raise NotImplementedError


class MeanImputer(BaseImputer):
    """Fill each missing value with its feature's training mean (the paper's mean baseline).

    Introduced in the imputation chapter (Qiu et al., VAE imputation).
    """

    def _impute(self, new, missing):
        return np.broadcast_to(self.train_mean_, new.shape)


class RandomImputer(BaseImputer):
    """Fill each missing value with the same feature's value in a random training sample (the paper's random baseline).

    Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Parameters
    ----------
    seed
        Seeds the draws; the same fitted imputer, input and seed give the same output.
    """

    def __init__(self, seed: int = 0):
        check_int("seed", seed, 0)
        self.seed = seed

    def _fit(self, train):
        self._train = train

    def _impute(self, new, missing):
        rows = np.random.default_rng(self.seed).integers(0, len(self._train), size=new.shape)
        return np.take_along_axis(self._train, rows, axis=0)


class KNNImputer(BaseImputer):
    """K-nearest-neighbour imputation against the training samples (sklearn's ``KNNImputer``).

    For each new sample, the ``n_neighbors`` closest *training* samples (NaN-aware Euclidean distance on the
    observed features) are averaged, weighted by inverse distance by default -- the weighted KNN of Troyanskaya et
    al. used in the paper (K = 10). Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Parameters
    ----------
    n_neighbors
        K (paper: 10, within the 10-25 range Troyanskaya et al. recommend).
    weights
        ``"distance"`` (inverse-distance weighting, as in the paper) or ``"uniform"``.
    """

    def __init__(self, n_neighbors: int = 10, weights: str = "distance"):
        check_int("n_neighbors", n_neighbors, 1)
        if weights not in ("distance", "uniform"):
            raise OmicsInputError(f"weights={weights!r} is not supported; pass 'distance' or 'uniform'")
        self.n_neighbors, self.weights = n_neighbors, weights

    def _fit(self, train):
        if self.n_neighbors > len(train):
            raise OmicsInputError(f"n_neighbors={self.n_neighbors} exceeds the {len(train)} training samples; "
                                  "pass a smaller n_neighbors")
        self._knn = _SklearnKNN(n_neighbors=self.n_neighbors, weights=self.weights, keep_empty_features=True)
        self._knn.fit(train)

    def _impute(self, new, missing):
        return self._knn.transform(new)


class IterativeSVDImputer(BaseImputer):
    """Iterative low-rank SVD imputation (Troyanskaya et al. 2001, "SVDimpute"), re-fitted for every new batch.

    The new samples are stacked under the training samples, their missing entries start at the training column
    means, and then, until the relative change of the imputed entries falls below ``tol`` (or ``max_iter`` passes):
    centre the stacked matrix by column, take its rank-``rank`` truncated SVD, and overwrite the missing entries with
    the reconstruction. The truncated SVD is computed by subspace iteration with a Rayleigh-Ritz projection on
    ``rank + 10`` vectors, as in a randomized SVD (Halko et al. 2011): the first pass starts from a seeded random
    subspace and takes 5 steps; each later pass takes one step from the previous pass's subspace (a warm start, which
    ``sklearn``'s ``randomized_svd`` cannot do), two products with the stacked matrix instead of about fifteen. The
    matrix changes little between passes, so the subspace converges together with the imputed values, to the fixed
    point of exact truncated SVDs (the tests check this against ``numpy.linalg.svd``).
    Because the decomposition is recomputed for every call on the whole stacked matrix, imputing new samples costs as
    much as a full fit -- the paper's point about SVD's evaluation cost.

    The relative change at each step is ``||new - old||_2 / ||old||_2`` over the missing entries (``convergence_``).
    The paper found full rank best on TCGA; the reference configuration uses ``rank=415``, ``tol=5e-4``,
    ``max_iter=16``. Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Parameters
    ----------
    rank
        Number of singular vectors kept (capped at ``min(n_samples, n_features) - 1``).
    tol
        Stop when the relative change of the imputed entries is below this.
    max_iter
        Maximum number of SVD passes.
    seed
        Seeds ``randomized_svd``.
    progress
        Show a tqdm bar over iterations.
    """

    def __init__(self, rank: int = 50, tol: float = 5e-4, max_iter: int = 16, seed: int = 0, progress: bool = False):
        check_int("rank", rank, 1)
        check_float("tol", tol, 0.0, low_open=True)
        check_int("max_iter", max_iter, 1)
        check_int("seed", seed, 0)
        self.rank, self.tol, self.max_iter, self.seed, self.progress = rank, tol, max_iter, seed, progress

    def _fit(self, train):
        self._train = train

    def _impute(self, new, missing):
        n_train = len(self._train)
        stacked = np.vstack([self._train, np.where(missing, self.train_mean_, new)])
        rows, cols = np.nonzero(missing)
        rows = rows + n_train
        rank = min(self.rank, min(stacked.shape) - 1)
        if rank < 1:
            raise OmicsInputError("IterativeSVDImputer needs at least 2 samples and 2 features; pass a larger matrix")
        self.convergence_ = []
        width = min(rank + _OVERSAMPLE, min(stacked.shape))
        # right singular subspace, carried from one pass to the next; the first pass starts from a seeded random one
        basis = np.random.default_rng(self.seed).standard_normal((stacked.shape[1], width))
        steps = _FIRST_PASS_STEPS
        for _ in tqdm(range(self.max_iter), desc="iterative SVD", disable=not self.progress, leave=False):
            centre = stacked.mean(axis=0)
            centred = stacked - centre
            for _ in range(steps):  # subspace iteration with a Rayleigh-Ritz projection
                Q, _ = np.linalg.qr(centred @ basis)
                Ub, s, Vt = np.linalg.svd(Q.T @ centred, full_matrices=False)
                basis = Vt.T
            steps = 1
            U, s, Vt = (Q @ Ub)[:, :rank], s[:rank], Vt[:rank]
            fitted = np.einsum("ik,k,ik->i", U[rows], s, Vt.T[cols]) + centre[cols]
            old = stacked[rows, cols]
            change = np.linalg.norm(fitted - old) / max(np.linalg.norm(old), np.finfo(float).tiny)
            stacked[rows, cols] = fitted
            self.convergence_.append(float(change))
            if change < self.tol:
                break
        return stacked[n_train:]
