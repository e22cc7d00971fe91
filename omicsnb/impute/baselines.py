"""Baseline imputers as scikit-learn transformers: fitted on the observed entries of a matrix with real gaps.

Every imputer here (and :class:`omicsnb.impute.vae.VAEImputer`) is a scikit-learn estimator
(``BaseEstimator`` + ``TransformerMixin``): parameters are stored by ``__init__`` and checked by ``fit``, fitted
attributes end in ``_``, :func:`sklearn.base.clone` works, and ``fit_transform(X)`` means ``fit(X).transform(X)``.
``fit`` accepts NaN (real gaps, for example a matrix in which *every* sample has some): each imputer learns from the
observed entries only, and never from a fill value.

* :class:`MeanImputer` -- each feature's mean over its observed training values;
* :class:`RandomImputer` -- a random observed training value of the same feature;
* :class:`KNNImputer` -- NaN-aware Euclidean distances to the training samples (scikit-learn's ``KNNImputer``);
  only a neighbour that observed a feature can donate it;
* :class:`IterativeSVDImputer` -- hard EM over the observed entries: low-rank SVD reconstructions overwrite only
  the gaps, of the training and the new samples together, until they stop changing.

Shared guarantees of ``transform``:

* observed entries come back bit-identical (only NaN cells are written; float32 input stays float32);
* a DataFrame comes back as a DataFrame with the same index and columns;
* bad input raises :class:`~omicsnb.validation.OmicsInputError`: non-numeric or infinite values, a training column
  without any observed value, a feature count differing from ``fit``, a sample with no observed value at all, or
  ``transform`` before ``fit``.

A feature missing in *every* new sample (the paper's "entire genes missing" scenario) is allowed: the training data
still inform it. Introduced in the imputation chapter (Qiu et al., VAE imputation of expression and methylation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
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
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            raise OmicsInputError(f"{name} is a sparse matrix (not supported); pass a dense array ({name}.toarray())")
        try:
            values = np.asarray(X)
        except (TypeError, ValueError) as err:  # ragged lists and the like
            raise OmicsInputError(f"{name} is not a 2-D numeric matrix ({err}); pass an array or DataFrame") from None
        if np.iscomplexobj(values):
            raise OmicsInputError(f"{name}: Complex data not supported; pass real numbers")
        if values.dtype == bool or not (np.issubdtype(values.dtype, np.number) or values.dtype == object):
            raise OmicsInputError(f"{name} has dtype {values.dtype}, not real numbers; "
                                  "pass a numeric matrix (X.astype(float))")
    if values.dtype == object:  # numbers stored as objects are accepted, anything else is refused
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise OmicsInputError(f"{name} has non-numeric entries; pass a numeric matrix (X.astype(float))") from None
    if values.ndim != 2:
        raise OmicsInputError(f"{name} must be 2-D (samples x features), got shape {values.shape}; Reshape your data "
                              "(X.reshape(1, -1) for one sample, X.reshape(-1, 1) for one feature)")
    if 0 in values.shape:
        what = "sample" if values.shape[0] == 0 else "feature"
        raise OmicsInputError(f"{name} has 0 {what}(s) (shape={values.shape}) while a minimum of 1 is required; "
                              "pass a non-empty matrix")
    if np.isinf(values).any():
        raise OmicsInputError(f"{name} has {int(np.isinf(values).sum())} infinite values; fix them upstream")
    return values


class ImputerNotFittedError(OmicsInputError, NotFittedError):
    """``transform`` before ``fit``: the book's one-line input error that is also scikit-learn's ``NotFittedError``."""


def _check_fitted(estimator, attribute: str = "n_features_in_") -> None:
    if not hasattr(estimator, attribute):
        raise ImputerNotFittedError(f"{type(estimator).__name__} is not fitted; call fit(X) first")


def _feature_names(X) -> np.ndarray | None:
    """Column names of a DataFrame whose columns are all strings (scikit-learn's rule), else None."""
    if isinstance(X, pd.DataFrame) and len(X.columns) and all(isinstance(c, str) for c in X.columns):
        return np.asarray(X.columns, dtype=object)
    return None


class BaseImputer(TransformerMixin, BaseEstimator):
    """The shared fit/transform protocol; subclasses implement ``_check_params``, ``_fit`` and ``_impute``.

    Introduced in the imputation chapter (Qiu et al., VAE imputation).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN are the point: they are what gets imputed
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- public API ----------------------------------------------------------------------------------------------------
    def fit(self, X, y=None) -> BaseImputer:
        """Learn from the observed entries of ``X`` (samples x features; NaN = missing). ``y`` is ignored."""
        self._check_params()
        train = _values(X, "X").astype(np.float64, copy=True)
        missing = np.isnan(train)
        empty = np.flatnonzero(missing.all(axis=0))
        if len(empty):
            raise OmicsInputError(f"training column {empty[0]} is entirely NaN ({len(empty)} such columns); "
                                  "drop those features before fitting")
        if len(train) < 2:
            raise OmicsInputError(f"X has {len(train)} sample; fit on at least 2 samples")
        self.n_features_in_ = train.shape[1]
        names = _feature_names(X)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.train_mean_ = np.nanmean(train, axis=0)
        self.n_missing_fit_ = int(missing.sum())
        self._fit(train, missing)
        return self

    def transform(self, X):
        """Return ``X`` with its NaN entries imputed; observed entries are returned untouched."""
        return self._fill(X, self._impute)

    def _fill(self, X, impute):
        """``X`` with its NaN cells replaced by those of ``impute(values, missing)``."""
        _check_fitted(self)
        values = self._check_new(X)
        missing = np.isnan(values)
        empty_rows = np.flatnonzero(missing.all(axis=1))
        if len(empty_rows):
            raise OmicsInputError(f"sample {empty_rows[0]} has no observed value ({len(empty_rows)} such samples); "
                                  "drop samples without any measurement")
        out = values.copy() if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64)
        if missing.any():
            imputed = impute(values.astype(np.float64), missing)
            out[missing] = imputed[missing]
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=X.columns)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output feature names: the input names (imputation keeps every column)."""
        _check_fitted(self)
        if input_features is not None:
            return np.asarray(input_features, dtype=object)
        if hasattr(self, "feature_names_in_"):
            return self.feature_names_in_.copy()
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)

    # -- helpers -------------------------------------------------------------------------------------------------------
    def _check_new(self, X) -> np.ndarray:
        values = _values(X, "X")
        if values.shape[1] != self.n_features_in_:
            raise OmicsInputError(f"X has {values.shape[1]} features, but {type(self).__name__} is expecting "
                                  f"{self.n_features_in_} features as input; pass the same features in the same order")
        names = _feature_names(X)
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and names is not None and not np.array_equal(names, fitted):
            raise OmicsInputError("The feature names should match those that were passed during fit; "
                                  "pass the columns in the order used in fit")
        return values

    def _check_params(self) -> None:
        """Raise :class:`OmicsInputError` on a bad parameter (called by ``fit``)."""

    # -- hooks ---------------------------------------------------------------------------------------------------------
    def _fit(self, train: np.ndarray, missing: np.ndarray) -> None:
        """Store what ``_impute`` needs (``train`` is float64 with NaN where ``missing``)."""

    def _impute(self, new: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """Full matrix whose ``missing`` cells hold the imputed values (other cells are ignored)."""
        raise NotImplementedError


class MeanImputer(BaseImputer):
    """Fill each missing value with its feature's mean over the observed training values (the paper's mean baseline).

    Introduced in the imputation chapter (Qiu et al., VAE imputation).
    """

    def _impute(self, new, missing):
        return np.broadcast_to(self.train_mean_, new.shape)


class RandomImputer(BaseImputer):
    """Fill each missing value with an observed value of the same feature in a random training sample.

    The paper's random baseline. Only observed training values are drawn, uniformly. Introduced in the imputation
    chapter (Qiu et al., VAE imputation).

    Parameters
    ----------
    seed
        Seeds the draws; the same fitted imputer, input and seed give the same output.
    """

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _check_params(self):
        check_int("seed", self.seed, 0)

    def _fit(self, train, missing):
        order = np.argsort(missing, axis=0, kind="stable")  # observed rows first, in their original order
        self.donors_ = np.take_along_axis(train, order, axis=0)
        self.n_donors_ = (~missing).sum(axis=0)

    def _impute(self, new, missing):
        u = np.random.default_rng(self.seed).random(new.shape)
        rows = np.minimum((u * self.n_donors_).astype(np.int64), self.n_donors_ - 1)
        return np.take_along_axis(self.donors_, rows, axis=0)


class KNNImputer(BaseImputer):
    """K-nearest-neighbour imputation against the training samples (scikit-learn's ``KNNImputer``).

    Distances are NaN-aware Euclidean (:func:`sklearn.metrics.pairwise.nan_euclidean_distances`: the distance over
    the features both samples observed, scaled up to all features), and a missing value is averaged only over the
    ``n_neighbors`` closest training samples that *observed* that feature, weighted by inverse distance by default:
    the weighted KNN of Troyanskaya et al. used in the paper (K = 10). Training gaps are never filled first, so no
    fill value can come back as an "imputation". A sample sharing no observed feature with any donor gets the
    feature's training mean (scikit-learn's rule). Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Parameters
    ----------
    n_neighbors
        K (paper: 10, within the 10-25 range Troyanskaya et al. recommend).
    weights
        ``"distance"`` (inverse-distance weighting, as in the paper) or ``"uniform"``.
    """

    def __init__(self, n_neighbors: int = 10, weights: str = "distance"):
        self.n_neighbors, self.weights = n_neighbors, weights

    def _check_params(self):
        check_int("n_neighbors", self.n_neighbors, 1)
        if self.weights not in ("distance", "uniform"):
            raise OmicsInputError(f"weights={self.weights!r} is not supported; pass 'distance' or 'uniform'")

    def _fit(self, train, missing):
        if self.n_neighbors > len(train):
            raise OmicsInputError(f"n_neighbors={self.n_neighbors} exceeds the {len(train)} training samples; "
                                  "pass a smaller n_neighbors")
        self.knn_ = _SklearnKNN(n_neighbors=self.n_neighbors, weights=self.weights, keep_empty_features=True)
        self.knn_.fit(train)

    def _impute(self, new, missing):
        return self.knn_.transform(new)


class IterativeSVDImputer(BaseImputer):
    """Iterative low-rank SVD imputation (Troyanskaya et al. 2001, "SVDimpute"): hard EM over the observed entries.

    The new samples are stacked under the training samples; every gap -- the new samples' and the training
    samples' own -- starts at its feature's observed training mean, and then, until the relative change of the
    imputed entries falls below ``tol`` (or ``max_iter`` passes): centre the stacked matrix by column, take its
    rank-``rank`` truncated SVD, and overwrite the gaps (only) with the reconstruction. Observed entries are never
    changed, so the fit is driven by them alone. ``fit(X).transform(X)`` (the same matrix) runs on ``X`` alone
    rather than on two stacked copies.

    The truncated SVD is computed by subspace iteration with a Rayleigh-Ritz projection on ``rank + 10`` vectors, as
    in a randomized SVD (Halko et al. 2011): the first pass starts from a seeded random subspace and takes 5 steps;
    each later pass takes one step from the previous pass's subspace (a warm start, which ``sklearn``'s
    ``randomized_svd`` cannot do), two products with the stacked matrix instead of about fifteen. The matrix
    changes little between passes, so the subspace converges together with the imputed values, to the fixed point of
    exact truncated SVDs (the tests check this against ``numpy.linalg.svd``). Because the decomposition is recomputed
    for every call on the whole stacked matrix, imputing new samples costs as much as a full fit -- the paper's point
    about SVD's evaluation cost.

    The relative change at each step is ``||new - old||_2 / ||old||_2`` over the imputed entries (``convergence_``).
    The reference configuration uses ``rank=415``, ``tol=5e-4``, ``max_iter=16``. Introduced in the imputation chapter
    (Qiu et al., VAE imputation).

    Parameters
    ----------
    rank
        Number of singular vectors kept (capped at ``min(n_samples, n_features) - 1``).
    tol
        Stop when the relative change of the imputed entries is below this.
    max_iter
        Maximum number of SVD passes.
    seed
        Seeds the random starting subspace.
    progress
        Show a tqdm bar over iterations.
    """

    def __init__(self, rank: int = 50, tol: float = 5e-4, max_iter: int = 16, seed: int = 0, progress: bool = False):
        self.rank, self.tol, self.max_iter, self.seed, self.progress = rank, tol, max_iter, seed, progress

    def _check_params(self):
        check_int("rank", self.rank, 1)
        check_float("tol", self.tol, 0.0, low_open=True)
        check_int("max_iter", self.max_iter, 1)
        check_int("seed", self.seed, 0)

    def _fit(self, train, missing):
        self.train_ = train

    def _impute(self, new, missing):
        if new.shape == self.train_.shape and np.array_equal(new, self.train_, equal_nan=True):
            n_train, stacked, gaps = 0, np.where(missing, self.train_mean_, new), missing
        else:
            train_gaps = np.isnan(self.train_)
            n_train = len(self.train_)
            stacked = np.vstack([np.where(train_gaps, self.train_mean_, self.train_),
                                 np.where(missing, self.train_mean_, new)])
            gaps = np.vstack([train_gaps, missing])
        rows, cols = np.nonzero(gaps)
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
