"""Preprocessing: value checks, log and CPM transforms, variable genes, z-scoring and stratified sampling.

Every function takes a samples x genes matrix (a :class:`pandas.DataFrame` or a 2-D :class:`numpy.ndarray`) and gives
back the same kind of object, with the index and columns kept. Sample selections are returned as sorted *positional*
indices (``X.iloc[idx]`` or ``X[idx]``), so they work the same on arrays, frames and label vectors.

Introduced in chapter 1, *Data and exploration* (z-scoring and label fractions in chapter 2, *Supervised baseline*).
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real
from typing import TypeVar

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from omicsnb.validation import OmicsInputError, check_range

__all__ = [
    "log_transform",
    "cpm",
    "select_variable_genes",
    "fit_standardizer",
    "standardize",
    "standardize_per_group",
    "stratified_split",
    "label_fraction_subset",
]

Matrix = TypeVar("Matrix", pd.DataFrame, np.ndarray)


# ----------------------------------------------------------------------------------------------------------------------
# Value checks shared by the loaders and the transforms
# ----------------------------------------------------------------------------------------------------------------------
def _describe_cell(X, flat_position: int, n_columns: int) -> str:
    """Name one cell of ``X`` for an error message: sample and gene labels for a frame, row and column otherwise."""
    row, col = divmod(int(flat_position), max(n_columns, 1))
    if isinstance(X, pd.DataFrame):
        return f"sample {X.index[row]!r}, gene {X.columns[col]!r}"
    return f"row {row}, column {col}"


def _numeric_values(X, name: str, fix: str = "remove it, or keep it apart as metadata") -> np.ndarray:
    """Return the values of ``X`` as a numeric 2-D array, or raise naming the first non-numeric column."""
    if isinstance(X, pd.DataFrame):
        for position, (column, dtype) in enumerate(X.dtypes.items()):
            if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                values = X.iloc[:, position]  # by position: a duplicated name would select several columns
                bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
                example = f" (e.g. {bad.iloc[0]!r} in row {bad.index[0]!r})" if len(bad) else ""
                raise OmicsInputError(
                    f"{name} column {column!r} is not numeric{example}; {fix}"
                )
        if any(isinstance(dtype, pd.api.extensions.ExtensionDtype) for dtype in X.dtypes):
            return X.to_numpy(dtype=np.float64, na_value=np.nan)  # nullable Int64/Float64 columns: pd.NA -> NaN
        return X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise OmicsInputError(f"{name} must be 2-D (samples x genes), got an array with shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or X.dtype == bool:
            raise OmicsInputError(f"{name} has dtype {X.dtype}, not numbers; convert it with X.astype(float) first")
        return X
    raise OmicsInputError(f"{name} must be a pandas DataFrame or a 2-D numpy array, got {type(X).__name__}")


def _check_values(
    X, *, name: str = "X", allow_nan: bool = False, allow_negative: bool = True, fix: str | None = None
) -> np.ndarray:
    """Validate an expression matrix and return its values (no copy when possible).

    Raises :class:`OmicsInputError` for non-numeric columns, infinite values, NaN (unless ``allow_nan``) and negative
    values (unless ``allow_negative``); each message gives the count and the first offending cell.
    """
    values = _numeric_values(X, name) if fix is None else _numeric_values(X, name, fix)
    n_columns = values.shape[1] if values.ndim == 2 else 1
    if np.issubdtype(values.dtype, np.floating):
        infinite = np.isinf(values)
        if infinite.any():
            where = _describe_cell(X, np.flatnonzero(infinite)[0], n_columns)
            raise OmicsInputError(
                f"{name} has {int(infinite.sum())} infinite value(s) (first at {where}); "
                "fix them upstream (e.g. log of zero without a pseudocount)"
            )
        missing = np.isnan(values)
        if missing.any() and not allow_nan:
            where = _describe_cell(X, np.flatnonzero(missing)[0], n_columns)
            raise OmicsInputError(
                f"{name} has {int(missing.sum())} missing (NaN) value(s) (first at {where}); "
                "impute or drop them, or pass allow_nan=True"
            )
    if not allow_negative:
        negative = values < 0  # NaN compares False
        if negative.any():
            where = _describe_cell(X, np.flatnonzero(negative)[0], n_columns)
            raise OmicsInputError(
                f"{name} has {int(negative.sum())} negative value(s) (first at {where}, value "
                f"{values.ravel()[np.flatnonzero(negative)[0]]:g}); this step needs raw non-negative expression, "
                "not centred or already log-ratio data"
            )
    return values


def _rewrap(X, values: np.ndarray):
    """Return ``values`` as the same kind of object as ``X`` (a frame keeps its index and columns)."""
    if isinstance(X, pd.DataFrame):
        return pd.DataFrame(values, index=X.index, columns=X.columns)
    return values


# ----------------------------------------------------------------------------------------------------------------------
# Transforms
# ----------------------------------------------------------------------------------------------------------------------
def log_transform(X: Matrix, *, base: float = 2, pseudocount: float = 1.0, allow_nan: bool = False) -> Matrix:
    """Return ``log_base(X + pseudocount)``, the usual variance-stabilising step for expression values.

    Introduced in chapter 1, *Data and exploration*.

    Parameters
    ----------
    X
        Non-negative expression (counts, CPM, TPM), samples x genes, as a DataFrame or a 2-D array.
    base
        Logarithm base (2 gives the familiar ``log2(x + 1)`` scale of TCGA / UCSC Xena matrices).
    pseudocount
        Added before the log so that zeros stay finite; must be > 0 when ``X`` contains zeros.
    allow_nan
        Let NaN through (they stay NaN); by default NaN raises.

    Returns
    -------
    The transformed matrix, of the same type as ``X`` (a DataFrame keeps its index and columns), as floats.

    Raises
    ------
    OmicsInputError
        For negative values (count and first cell named), NaN unless allowed, infinite values, a bad base or
        pseudocount, and zeros with ``pseudocount=0``.
    """
    if not isinstance(base, Real) or isinstance(base, bool) or base <= 0 or base == 1:
        raise OmicsInputError(f"base={base!r} is not a valid logarithm base; pass a positive number other than 1")
    if not isinstance(pseudocount, Real) or isinstance(pseudocount, bool):
        raise OmicsInputError(f"pseudocount={pseudocount!r} must be a number; pass e.g. pseudocount=1.0")
    check_range("pseudocount", pseudocount, 0, None)
    values = _check_values(X, name="X", allow_nan=allow_nan, allow_negative=False).astype(np.float64, copy=False)
    if pseudocount == 0 and (values == 0).any():
        raise OmicsInputError(
            f"X has {int((values == 0).sum())} zero value(s) and pseudocount=0 would give -inf; pass pseudocount>0"
        )
    if pseudocount == 1:
        logged = np.log1p(values)  # more accurate than log(x + 1) for small x
    else:
        logged = np.log(values + pseudocount)
    logged /= np.log(base)
    return _rewrap(X, logged)


def cpm(counts: Matrix) -> Matrix:
    """Counts per million: scale each sample (row) so that its counts sum to one million.

    Introduced in chapter 1, *Data and exploration*. Usually followed by :func:`log_transform`.

    Parameters
    ----------
    counts
        Non-negative counts, samples x genes (a DataFrame or a 2-D array); NaN are not allowed.

    Returns
    -------
    The scaled matrix (floats), of the same type as ``counts``.

    Raises
    ------
    OmicsInputError
        For negative, missing or infinite values, and for a sample whose counts sum to zero (named).
    """
    values = _check_values(counts, name="counts", allow_negative=False).astype(np.float64, copy=False)
    library = values.sum(axis=1)
    empty = np.flatnonzero(library == 0)
    if empty.size:
        who = counts.index[empty[0]] if isinstance(counts, pd.DataFrame) else f"row {empty[0]}"
        raise OmicsInputError(
            f"{empty.size} sample(s) have zero total counts (first: {who!r}); drop them before computing CPM"
        )
    return _rewrap(counts, values / library[:, None] * 1e6)


def select_variable_genes(X: pd.DataFrame | np.ndarray, n_top: int) -> pd.Index | np.ndarray:
    """Return the ``n_top`` genes with the largest variance across samples (highly variable genes).

    Introduced in chapter 1, *Data and exploration*.

    Genes are ranked by sample variance, largest first; equal variances are broken by column position (the earlier
    column wins), so the result is deterministic. Compute it on log-scale data, as the book does.

    Parameters
    ----------
    X
        Samples x genes (at least two samples), no NaN.
    n_top
        How many genes to keep, from 1 to the number of genes.

    Returns
    -------
    For a DataFrame, a :class:`pandas.Index` of column names; for an array, an integer array of column positions.
    Both are in rank order (most variable first): ``X[genes]`` or ``X[:, genes]`` selects them.
    """
    values = _check_values(X, name="X")
    n_samples, n_genes = values.shape
    if n_samples < 2:
        raise OmicsInputError(f"X has {n_samples} sample(s); the variance needs at least 2 samples")
    if not isinstance(n_top, Integral) or isinstance(n_top, bool):
        raise OmicsInputError(f"n_top={n_top!r} must be an integer number of genes")
    check_range("n_top", int(n_top), 1, n_genes)
    variance = values.var(axis=0, ddof=1)
    order = np.lexsort((np.arange(n_genes), -variance))[: int(n_top)]
    if isinstance(X, pd.DataFrame):
        return X.columns[order]
    return order


# ----------------------------------------------------------------------------------------------------------------------
# Z-scoring fitted on the training split only
# ----------------------------------------------------------------------------------------------------------------------
def fit_standardizer(X_train: pd.DataFrame | np.ndarray) -> StandardScaler:
    """Fit a :class:`sklearn.preprocessing.StandardScaler` (per-gene mean and standard deviation) on training data.

    Introduced in chapter 2, *Supervised baseline*. Fit it on the training split only, then transform every split
    with it (:func:`standardize` does both), so that no test-set statistics leak into the model.

    Genes that are constant in the training data get a scale of 1 (sklearn's rule): they are centred but not divided,
    so they come out as 0 in the training split and as ``x - mean`` elsewhere, never NaN.
    """
    values = _check_values(X_train, name="X_train")
    if values.shape[0] < 2:
        raise OmicsInputError(f"X_train has {values.shape[0]} sample(s); z-scoring needs at least 2")
    return StandardScaler().fit(values)


def _transform(scaler: StandardScaler, X, reference, name: str):
    """Apply a fitted scaler to ``X``, checking that its genes match the training ``reference`` genes."""
    values = _check_values(X, name=name)
    if values.shape[1] != scaler.n_features_in_:
        raise OmicsInputError(
            f"{name} has {values.shape[1]} genes but the training data had {scaler.n_features_in_}; "
            "select the same genes in every split"
        )
    if isinstance(X, pd.DataFrame) and isinstance(reference, pd.DataFrame) and not X.columns.equals(reference.columns):
        position = int(np.flatnonzero(X.columns.to_numpy() != reference.columns.to_numpy())[0])
        raise OmicsInputError(
            f"{name} genes differ from the training genes (position {position}: {X.columns[position]!r} vs "
            f"{reference.columns[position]!r}); reorder with X[train.columns]"
        )
    return _rewrap(X, scaler.transform(values))


def standardize(train: Matrix, *others: Matrix) -> tuple[StandardScaler, list[Matrix]]:
    """Z-score every gene with the training split's mean and standard deviation, and apply the same to other splits.

    Introduced in chapter 2, *Supervised baseline*.

    Parameters
    ----------
    train
        The training split (samples x genes); the only data whose statistics are used.
    *others
        Further splits (validation, test, ...) with the same genes in the same order.

    Returns
    -------
    scaler, [train_z, *others_z]
        The fitted :class:`~sklearn.preprocessing.StandardScaler` and the transformed splits, each of the same type
        as its input (DataFrames keep index and columns). The training split has mean 0 and unit variance per gene;
        the other splits in general do not, which is the point. Zero-variance genes: see :func:`fit_standardizer`.
    """
    scaler = fit_standardizer(train)
    transformed = [_transform(scaler, train, train, "train")]
    transformed += [_transform(scaler, X, train, f"others[{i}]") for i, X in enumerate(others)]
    return scaler, transformed


def standardize_per_group(X: Matrix, groups) -> Matrix:
    """Z-score every gene within each group (a cohort, a batch) with that group's own mean and standard deviation.

    Introduced in chapter *Transfer across cohorts*. The simplest correction between cohorts: a location and a scale
    per gene and group, as in ComBat but without its empirical-Bayes shrinkage. It removes whatever shifts or
    rescales a gene in *every* sample of a group (a platform, a pipeline, a capture efficiency). It cannot remove
    structure inside a group (batches inside a cohort corrected as one group stay apart), nor differences in the
    correlation between genes. And it cannot tell a technical shift from a difference in what the groups contain:
    when two cohorts mix the classes in different proportions, their means differ for biological reasons too, and
    centring removes that as well, moving every class of one cohort by the mixture difference.

    Parameters
    ----------
    X
        Samples x genes, no NaN.
    groups
        One label per sample (array, list or Series); every group needs at least 2 samples.

    Returns
    -------
    The corrected matrix, of the same kind as ``X`` (a DataFrame keeps index and columns). Each group has mean 0 and
    unit variance per gene; a gene constant within a group is centred only (scale 1, as in :func:`fit_standardizer`).
    """
    values = _check_values(X, name="X")
    labels = _as_labels(groups)
    if len(labels) != values.shape[0]:
        raise OmicsInputError(f"groups has {len(labels)} labels but X has {values.shape[0]} samples; pass one per sample")
    sizes = pd.Series(labels).value_counts()
    if sizes.min() < 2:
        raise OmicsInputError(f"group {sizes.idxmin()!r} has 1 sample; z-scoring needs at least 2 per group "
                              "(merge it with another group or drop it)")
    out = np.empty(values.shape, dtype=np.result_type(values.dtype, np.float32))
    for group in sizes.index:
        rows = np.flatnonzero(labels == group)
        out[rows] = StandardScaler().fit_transform(values[rows])
    return _rewrap(X, out)


# ----------------------------------------------------------------------------------------------------------------------
# Stratified splits and label fractions
# ----------------------------------------------------------------------------------------------------------------------
def _as_labels(labels) -> np.ndarray:
    """Return ``labels`` as a 1-D array, rejecting missing values and empty input."""
    if isinstance(labels, (pd.DataFrame, str, Mapping, set)) or not hasattr(labels, "__len__"):
        raise OmicsInputError(f"labels must be a 1-D array, list or Series, got {type(labels).__name__}")
    y = labels if isinstance(labels, np.ndarray) else np.asarray(labels, dtype=object)
    if y.ndim != 1:
        raise OmicsInputError(f"labels must be 1-D, got shape {y.shape}")
    if y.size == 0:
        raise OmicsInputError("labels is empty; pass one label per sample")
    missing = pd.isna(y)
    if missing.any():
        raise OmicsInputError(
            f"labels has {int(missing.sum())} missing value(s) (first at position {int(np.flatnonzero(missing)[0])}); "
            "drop those samples or give them a label"
        )
    return y


def _resolve_sizes(sizes: Mapping[str, int | float], n: int) -> dict[str, int]:
    """Turn ``sizes`` (all counts or all fractions) into sample counts that sum to at most ``n``."""
    if not isinstance(sizes, Mapping) or not sizes:
        raise OmicsInputError("sizes must be a non-empty dict such as {'train': 0.8, 'test': 0.2}")
    kinds = set()
    for name, size in sizes.items():
        if not isinstance(name, str) or not name:
            raise OmicsInputError(f"split names must be non-empty strings, got {name!r}")
        if isinstance(size, bool) or not isinstance(size, Real):
            raise OmicsInputError(
                f"size of split {name!r} is {size!r} ({type(size).__name__}); pass an int count or a float fraction"
            )
        if size <= 0:
            raise OmicsInputError(f"size of split {name!r} is {size!r}; sizes must be positive")
        kinds.add("count" if isinstance(size, Integral) else "fraction")
    if len(kinds) > 1:
        raise OmicsInputError(f"sizes mixes counts and fractions ({dict(sizes)}); use all ints or all floats")
    if kinds == {"count"}:
        total = sum(int(s) for s in sizes.values())
        if total > n:
            raise OmicsInputError(f"split sizes sum to {total} but there are only {n} samples; make the splits smaller")
        return {name: int(s) for name, s in sizes.items()}
    fractions = {name: float(s) for name, s in sizes.items()}
    total = sum(fractions.values())
    if total > 1 + 1e-9:
        raise OmicsInputError(f"split fractions sum to {total:g} > 1; make them sum to at most 1")
    # Largest-remainder rounding: the counts sum exactly to round(total * n).
    target = min(n, int(np.floor(total * n + 0.5)))
    exact = np.array([f * n for f in fractions.values()])
    counts = np.floor(exact).astype(int)
    order = np.lexsort((np.arange(len(exact)), -(exact - counts)))
    counts[order[: max(target - counts.sum(), 0)]] += 1
    resolved = dict(zip(fractions, counts.tolist()))
    for name, count in resolved.items():
        if count == 0:
            raise OmicsInputError(f"split {name!r} ({fractions[name]:g} of {n} samples) would be empty; make it larger")
    return resolved


def _check_stratifiable(y: np.ndarray, size: int, name: str) -> None:
    """Raise a clear error where sklearn's stratified ``train_test_split`` would fail for this draw."""
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        rare = classes[np.argmin(counts)]
        raise OmicsInputError(
            f"class {rare!r} has only {counts.min()} sample left when drawing split {name!r}; stratifying needs "
            "at least 2 per class: merge rare classes, drop them, or use smaller splits"
        )
    rest = len(y) - size
    if min(size, rest) < len(classes):
        small = f"split {name!r} ({size} samples)" if size < rest else f"what remains after split {name!r} ({rest})"
        raise OmicsInputError(
            f"{small} is smaller than the number of classes ({len(classes)}); a stratified split needs one sample per "
            "class: use larger splits or merge rare classes"
        )


def stratified_split(labels, sizes: Mapping[str, int | float], *, seed: int) -> dict[str, np.ndarray]:
    """Split samples into non-overlapping, label-stratified parts, e.g. pretrain / finetune / test.

    Introduced in chapter 1, *Data and exploration*.

    The parts are drawn one after another, in the order of ``sizes``, each with sklearn's
    :func:`~sklearn.model_selection.train_test_split` (``stratify=`` the labels of the samples not yet assigned), so
    every part keeps the class proportions of the whole, to within about one sample per class.

    Parameters
    ----------
    labels
        One label per sample (list, array or Series; positions are used, not the Series index).
    sizes
        Part name -> size, either all integer counts summing to at most ``n`` (the seed practical's
        ``{"pretrain": 7349, "finetune": 1000, "test": 1000}``) or all float fractions summing to at most 1
        (rounded to counts by largest remainder). Samples left over are not returned.
    seed
        Seed of the draw: the same labels, sizes and seed give the same parts.

    Returns
    -------
    dict
        Part name -> sorted positional indices (``X.iloc[idx]``), in the order of ``sizes``.

    Raises
    ------
    OmicsInputError
        For sizes that are negative, zero, of unknown type, mixed, or too large; for missing labels; and where a
        class has too few samples to stratify (the class and its count are named).
    """
    y = _as_labels(labels)
    counts = _resolve_sizes(sizes, len(y))
    rng = np.random.default_rng(seed)
    remaining = np.arange(len(y))
    parts: dict[str, np.ndarray] = {}
    for name, size in counts.items():
        if size == len(remaining):
            chosen = remaining
        else:
            _check_stratifiable(y[remaining], size, name)
            chosen, _ = train_test_split(
                remaining, train_size=size, stratify=y[remaining], random_state=int(rng.integers(2**32 - 1))
            )
        parts[name] = np.sort(chosen)
        remaining = np.setdiff1d(remaining, chosen, assume_unique=True)
    return parts


def label_fraction_subset(labels, fraction: float, *, seed: int, min_per_class: int = 1) -> np.ndarray:
    """Pick a stratified subset of about ``round(fraction * n)`` labelled samples that keeps every class.

    Introduced in chapter 2, *Supervised baseline*, for label-fraction sweeps (train on 1 %, 5 %, ... 100 % of the
    labels).

    Method: each class is shuffled (by ``seed``) and its ``r``-th sample gets the position ``(r + u_c) / n_c`` on
    [0, 1), with a random offset ``u_c`` per class; all samples are sorted by position and the subset is the first
    ``round(fraction * n)`` of that order, after the first ``min_per_class`` samples of every class, which always
    come first. So each class gets ``fraction * n_c`` samples to within one, no class is lost, and **subsets are
    nested**: for one seed, the subset for a smaller fraction is contained in the subset for a larger one (a sweep
    only ever adds labels). The size is ``round(fraction * n)``; ``fraction=1`` returns every sample. A fraction so
    small that ``round(fraction * n)`` cannot hold ``min_per_class`` samples of every class is an error rather than
    being silently enlarged (the curve would otherwise plot a point at the wrong x).

    Parameters
    ----------
    labels
        One label per sample (list, array or Series; positions are used).
    fraction
        In (0, 1].
    seed
        Seed of the shuffle; the same inputs give the same subset.
    min_per_class
        Samples kept from every class whatever the fraction (0 turns the guarantee off).

    Returns
    -------
    numpy.ndarray
        Sorted positional indices of the subset.
    """
    y = _as_labels(labels)
    if isinstance(fraction, bool) or not isinstance(fraction, Real):
        raise OmicsInputError(f"fraction={fraction!r} must be a number in (0, 1]")
    check_range("fraction", float(fraction), 0, 1, low_open=True)
    if isinstance(min_per_class, bool) or not isinstance(min_per_class, Integral):
        raise OmicsInputError(f"min_per_class={min_per_class!r} must be an integer")
    check_range("min_per_class", int(min_per_class), 0, None)
    classes, codes, class_sizes = np.unique(y, return_inverse=True, return_counts=True)
    if class_sizes.min() < min_per_class:
        small = int(np.argmin(class_sizes))
        raise OmicsInputError(
            f"class {classes[small]!r} has {class_sizes[small]} sample(s), fewer than min_per_class={min_per_class}; "
            "lower min_per_class or merge rare classes"
        )
    size = int(np.floor(fraction * len(y) + 0.5))
    needed = len(classes) * int(min_per_class)
    if size < needed:
        raise OmicsInputError(
            f"fraction={float(fraction):g} of {len(y)} labelled samples gives {size}, too few to keep {min_per_class} "
            f"of each of the {len(classes)} classes; use fraction >= {needed / len(y):.3g} or a larger labelled pool"
        )
    rng = np.random.default_rng(seed)
    rank = np.empty(len(y), dtype=np.int64)
    for c in range(len(classes)):
        members = np.flatnonzero(codes == c)
        rank[rng.permutation(members)] = np.arange(members.size)
    offset = rng.random(len(classes))
    position = (rank + offset[codes]) / class_sizes[codes]
    position[rank < min_per_class] -= 1.0  # the guaranteed samples come first, in the same within-class order
    order = np.lexsort((rng.random(len(y)), position))
    return np.sort(order[:size])
