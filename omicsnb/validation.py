"""Input validation: the one error type for bad user input and the checks that raise it.

This module sits at the bottom of the package's import graph: it imports nothing from :mod:`omicsnb`, and every other
module (data, models, training, impute, evaluate, runner) takes its checks from here.

Every check that rejects input raises :class:`OmicsInputError` with a single line that names the problem and the fix,
for example ``"label column 'cancer_type' not found in counts.csv; pass one of: sample, type"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse
from pandas.api.types import is_bool_dtype, is_numeric_dtype


class OmicsInputError(ValueError):
    """Bad input or parameter: the message is one line, naming the problem and how to fix it."""

    def __init__(self, message: str):
        if "\n" in message:
            raise AssertionError("OmicsInputError messages must be a single line")
        super().__init__(message)


def check_range(name: str, value, low=None, high=None, *, low_open: bool = False, high_open: bool = False) -> None:
    """Raise :class:`OmicsInputError` unless ``low <= value <= high`` (bounds optional, open if asked)."""
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise OmicsInputError(f"{name}={value!r} is out of range; pass a value in {interval}")


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> None:
    """Raise unless ``value`` is an integer (not bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise OmicsInputError(f"{name}={value!r} must be an integer; pass e.g. {name}={low if low is not None else 0}")
    check_range(name, value, low, high)


def check_float(name: str, value, low=None, high=None, **open_bounds) -> None:
    """Raise unless ``value`` is a real number (not bool) in the interval (see :func:`check_range`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or np.isnan(value):
        example = low if low is not None else 0
        raise OmicsInputError(f"{name}={value!r} must be a real number; pass a number such as {name}={example}")
    check_range(name, value, low, high, **open_bounds)


def as_feature_matrix(X, *, name: str = "X", dtype=np.float32, n_features: int | None = None,
                      fitted: str = "fitted") -> np.ndarray:
    """Return ``X`` (ndarray or DataFrame, samples x features) as a finite 2-D float array, or raise.

    Integers are accepted (they are converted exactly enough for float32); booleans, strings, objects, missing and
    infinite values are rejected with :class:`OmicsInputError`. With ``n_features`` (what a model was
    ``fitted`` on) a different number of columns is rejected too. Introduced in chapter 2, *Supervised baseline*.
    """
    if scipy.sparse.issparse(X):
        raise OmicsInputError(f"{name} is a sparse matrix (not supported); pass a dense array ({name}.toarray())")
    if isinstance(X, pd.DataFrame):
        bad = [c for c, t in X.dtypes.items() if is_bool_dtype(t) or not is_numeric_dtype(t)]
        if bad:
            raise OmicsInputError(
                f"{name} has non-numeric columns ({', '.join(map(str, bad[:3]))}{', ...' if len(bad) > 3 else ''}); "
                "pass only numeric feature columns (e.g. X.select_dtypes('number'))"
            )
        array = X.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        array = np.asarray(X)
        if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
            raise OmicsInputError(
                f"{name} has dtype {array.dtype}, not a numeric type; pass a numeric array (e.g. X.astype(float))"
            )
    if np.issubdtype(array.dtype, np.complexfloating):
        raise OmicsInputError(f"Complex data not supported: {name} holds complex numbers; pass real values (e.g. X.real)")
    if array.ndim != 2:
        raise OmicsInputError(f"{name} must be 2-D (samples x features) but has shape {array.shape}; reshape it")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise OmicsInputError(f"{name} is empty (shape {array.shape}); pass at least one sample and one feature")
    array = array.astype(dtype, copy=False)
    if not np.isfinite(array).all():
        n_bad = int((~np.isfinite(array)).sum())
        raise OmicsInputError(
            f"{name} contains {n_bad} NaN or infinite values (after conversion to {np.dtype(dtype).name}); "
            "impute or drop them first"
        )
    if n_features is not None and array.shape[1] != n_features:
        raise OmicsInputError(
            f"{name} has {array.shape[1]} features but the model was {fitted} on {n_features}; "
            "pass the same features (genes) used in fit"
        )
    return array


def as_label_vector(y, n_samples: int, *, name: str = "y") -> np.ndarray:
    """Return ``y`` as a 1-D array of ``n_samples`` non-missing labels, or raise.

    Introduced in chapter 2, *Supervised baseline*.
    """
    labels = y.to_numpy() if isinstance(y, (pd.Series, pd.Index)) else np.asarray(y)
    if labels.ndim != 1:
        raise OmicsInputError(f"{name} must be 1-D but has shape {labels.shape}; pass a flat vector (np.ravel)")
    if len(labels) != n_samples:
        raise OmicsInputError(
            f"{name} has {len(labels)} labels but X has {n_samples} samples; pass one label per sample (row of X)"
        )
    missing = pd.isna(labels)
    if missing.any():
        raise OmicsInputError(f"{name} has {int(missing.sum())} missing labels; drop those samples before fitting")
    return labels
