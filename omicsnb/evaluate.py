"""Metrics, label-fraction sweeps, clustering agreement and explained variance.

Every representation in the book is judged the same way: how well a classifier trained on a *fraction* of the labels
predicts held-out samples (:func:`label_fraction_sweep`, :func:`summarise_sweep`, :func:`area_under_label_curve`), and
how well the unsupervised structure of an embedding matches the known classes (:func:`cluster_agreement`).
The self-supervised chapters add the gap between two curves (:func:`aupc`), the labels a model needs to reach a
target (:func:`labels_to_reach`) and the dimensional-collapse spectrum (:func:`embedding_spectrum`); the transfer
chapter measures how strongly cohorts or batches show in the data (:func:`group_effect`).
Introduced in chapters 1, *Data and exploration*, and 2, *Supervised baseline*.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import (
    accuracy_score,
    adjusted_rand_score,
    balanced_accuracy_score,
    f1_score,
    normalized_mutual_info_score,
)

from omicsnb.data.preprocess import label_fraction_subset
from omicsnb.executor import get_executor
from omicsnb.validation import OmicsInputError, as_feature_matrix, as_label_vector, check_float, check_int

DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SWEEP_COLUMNS = ["model", "fraction", "n_train", "repeat", "seed", "accuracy", "macro_f1", "balanced_accuracy"]


def _take_rows(X, index: np.ndarray):
    """Rows ``index`` of an ndarray or DataFrame (positional)."""
    return X.iloc[index] if isinstance(X, pd.DataFrame) else np.asarray(X)[index]


# ---------------------------------------------------------------------------------------------------------------------
# Classification metrics and label-fraction sweeps
# ---------------------------------------------------------------------------------------------------------------------
def classification_metrics(y_true, y_pred) -> dict[str, float]:
    """Accuracy, macro-averaged F1 and balanced accuracy of predictions (all via :mod:`sklearn.metrics`).

    Macro F1 and balanced accuracy weight every class equally, so they expose a model that ignores rare cancer types
    while plain accuracy still looks good. Classes absent from ``y_pred`` count as F1 = 0 (``zero_division=0``).
    Introduced in chapter 2, *Supervised baseline*.

    Returns
    -------
    dict
        ``{"accuracy": ..., "macro_f1": ..., "balanced_accuracy": ...}`` as Python floats.
    """
    y_true = as_label_vector(y_true, len(y_true), name="y_true")
    y_pred = as_label_vector(y_pred, len(y_true), name="y_pred")
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
    }


def _sweep_cell(task: Mapping[str, Any], shared: Mapping[str, Any]) -> dict[str, Any]:
    """One (fraction, repeat) run of :func:`label_fraction_sweep`: fit on the task's subset, score on the test set."""
    index = task["index"]
    model = shared["make_model"](task["seed"])
    model.fit(_take_rows(shared["X_finetune"], index), shared["y_pool"][index], **shared["fit_params"])
    scores = classification_metrics(shared["y_true"], np.asarray(model.predict(shared["X_test"])))
    return {"model": shared["name"] or type(model).__name__, "fraction": task["fraction"], "n_train": len(index),
            "repeat": task["repeat"], "seed": task["seed"], **scores}


def label_fraction_sweep(
    make_model: Callable[[int], Any],
    X_finetune,
    y_finetune,
    X_test,
    y_test,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    repeats: int = 5,
    seed: int = 0,
    subset_fn: Callable[..., np.ndarray] | None = None,
    name: str | None = None,
    progress: bool = True,
    fit_params: Mapping[str, Any] | None = None,
    executor: Any = None,
) -> pd.DataFrame:
    """Train on growing fractions of the labelled set and score each model on the same test set.

    For every ``fraction`` and ``repeat`` the run seed is ``seed + repeat``: it draws the labelled subset
    (``subset_fn(y_finetune, fraction, seed=seed + repeat)``) and builds the model (``make_model(seed + repeat)``).
    Subsets therefore depend only on (fraction, repeat), never on the model, so two models swept with the same
    ``seed`` see exactly the same training samples and their curves can be compared pairwise. With the default
    ``subset_fn`` the subsets of one repeat are also nested across fractions (a larger fraction only adds labels).
    Introduced in chapter 2, *Supervised baseline*.

    Parameters
    ----------
    make_model
        ``make_model(seed) -> estimator`` returning a fresh, unfitted sklearn-style classifier (``fit``/``predict``).
    X_finetune, y_finetune
        The labelled pool (ndarray or DataFrame, samples x features) and its labels.
    X_test, y_test
        The held-out test set; never used for training or model selection.
    fractions
        Fractions of the pool to train on, each in (0, 1].
    repeats
        Independent subsets (and model seeds) per fraction.
    seed
        Base seed; run ``r`` uses ``seed + r``.
    subset_fn
        ``subset_fn(labels, fraction, *, seed) -> positional index array``; defaults to
        :func:`omicsnb.data.preprocess.label_fraction_subset` (stratified, keeps at least one sample per class).
        Every class of ``y_finetune`` must be present in every subset.
    name
        Value of the ``model`` column; defaults to the estimator's class name.
    progress
        Show a tqdm bar over the ``len(fractions) * repeats`` runs.
    fit_params
        Extra keyword arguments for every ``fit`` call, the same in every run; e.g. ``{"X_unlabeled": X_pretrain}``
        for :class:`~omicsnb.models.vime.VIMESemi` (added in chapter *VIME*).
    executor
        Where the (fraction, repeat) runs go: ``None``/``"serial"`` (default), ``"processes?workers=N"``,
        ``"dask://local?workers=N"``, ``"dask://tcp://host:8786"`` or an :class:`omicsnb.executor.Executor`. Every
        run carries its own seed, so the rows are identical on every backend; the data are sent to each worker once.

    Returns
    -------
    pandas.DataFrame
        One row per run: model, fraction, n_train, repeat, seed, accuracy, macro_f1, balanced_accuracy.
    """
    if subset_fn is None:
        subset_fn = label_fraction_subset
    if not callable(make_model):
        raise OmicsInputError("make_model must be a callable make_model(seed) -> estimator; wrap the model in a lambda")
    fractions = list(fractions)
    if not fractions:
        raise OmicsInputError("fractions is empty; pass at least one fraction in (0, 1]")
    for f in fractions:
        check_float("fraction", f, 0.0, 1.0, low_open=True)
    fractions = [float(f) for f in fractions]
    check_int("repeats", repeats, 1)
    check_int("seed", seed, 0)
    n_pool = len(X_finetune)
    y_pool = as_label_vector(y_finetune, n_pool, name="y_finetune")
    y_true = as_label_vector(y_test, len(X_test), name="y_test")
    all_classes = set(pd.unique(y_pool))

    tasks = []
    for fraction in fractions:
        for repeat in range(repeats):
            run_seed = seed + repeat
            index = np.asarray(subset_fn(y_pool, fraction, seed=run_seed))
            if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer) or len(index) == 0:
                raise OmicsInputError("subset_fn must return a non-empty 1-D integer array of positions into y_finetune")
            if index.min() < 0 or index.max() >= n_pool or len(np.unique(index)) != len(index):
                raise OmicsInputError("subset_fn returned out-of-range or repeated positions; return unique row positions")
            lost = all_classes - set(pd.unique(y_pool[index]))
            if lost:
                raise OmicsInputError(
                    f"the {fraction:g} subset (seed {run_seed}) lost {len(lost)} class(es) e.g. {sorted(map(str, lost))[0]}"
                    "; use a subset_fn that keeps at least one sample per class"
                )
            tasks.append({"model": name or "model", "fraction": fraction, "repeat": repeat, "seed": run_seed,
                          "index": index})
    shared = {"make_model": make_model, "X_finetune": X_finetune, "y_pool": y_pool, "X_test": X_test,
              "y_true": y_true, "fit_params": dict(fit_params or {}), "name": name}
    runner, owned = get_executor(executor, progress=progress)
    try:
        rows = runner.map(_sweep_cell, tasks, shared=shared, desc=f"label-fraction sweep ({name or 'model'})")
    finally:
        if owned:
            runner.close()
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def summarise_sweep(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Mean and standard deviation of ``metric`` over repeats, per model and fraction.

    ``sd`` is the sample standard deviation (``ddof=1``; NaN when a cell has a single repeat) and ``n_train`` the
    mean subset size over repeats (an integer when every repeat had the same size). Introduced in chapter 2, *Supervised baseline*.

    Returns
    -------
    pandas.DataFrame
        Columns model, fraction, n_train, mean, sd, n, sorted by model then fraction.
    """
    needed = {"model", "fraction", "n_train", metric}
    if not isinstance(df, pd.DataFrame) or not needed <= set(df.columns):
        missing = sorted(needed - set(getattr(df, "columns", [])))
        raise OmicsInputError(f"sweep frame lacks column(s) {missing}; pass the output of label_fraction_sweep")
    if df.empty:
        raise OmicsInputError("sweep frame is empty; run label_fraction_sweep first")
    grouped = df.groupby(["model", "fraction"], sort=True)
    out = grouped.agg(
        n_train=("n_train", "mean"), mean=(metric, "mean"), sd=(metric, "std"), n=(metric, "size")
    ).reset_index()
    if (grouped["n_train"].nunique() == 1).all():  # nested stratified subsets: one size per fraction
        out["n_train"] = out["n_train"].astype(int)
    return out


def area_under_label_curve(summary: pd.DataFrame) -> pd.DataFrame:
    """Normalised area under each model's mean label-fraction curve.

    The area is the trapezoid integral of the mean metric over the labelled *fraction*, divided by the width of the
    fraction range::

        area = (1 / (f_max - f_min)) * integral_{f_min}^{f_max} mean_metric(f) df

    so it is on the metric's own scale: a model with accuracy 0.8 at every fraction has area 0.8, and a model that
    reaches the same final accuracy with fewer labels has a larger area. This is the single-number summary of a
    label-efficiency curve used by Dradjat et al. (their "area under the performance curve"); compare areas only
    between curves computed on the same fractions. Introduced in chapter 2, *Supervised baseline*.

    Returns
    -------
    pandas.DataFrame
        Columns model, area, n_fractions (one row per model, in the order of first appearance).
    """
    if not isinstance(summary, pd.DataFrame) or not {"model", "fraction", "mean"} <= set(summary.columns):
        raise OmicsInputError("summary lacks columns model/fraction/mean; pass the output of summarise_sweep")
    rows = []
    for model, curve in summary.groupby("model", sort=False):
        curve = curve.sort_values("fraction")
        f, m = curve["fraction"].to_numpy(float), curve["mean"].to_numpy(float)
        if len(np.unique(f)) < 2:
            raise OmicsInputError(f"model {model!r} has fewer than 2 distinct fractions; sweep at least two fractions")
        if len(np.unique(f)) != len(f):
            raise OmicsInputError(f"model {model!r} has repeated fractions; pass summarise_sweep output (one row each)")
        rows.append({"model": model, "area": float(np.trapezoid(m, f) / (f[-1] - f[0])), "n_fractions": len(f)})
    return pd.DataFrame(rows, columns=["model", "area", "n_fractions"])


def _mean_curve(summary: pd.DataFrame, model: str) -> pd.Series:
    """One model's mean metric indexed by fraction, from a :func:`summarise_sweep` frame."""
    if not isinstance(summary, pd.DataFrame) or not {"model", "fraction", "mean"} <= set(summary.columns):
        raise OmicsInputError("summary lacks columns model/fraction/mean; pass the output of summarise_sweep")
    curve = summary[summary["model"] == model]
    if curve.empty:
        raise OmicsInputError(f"model {model!r} is not in the summary; pass one of {sorted(summary['model'].unique())}")
    if curve["fraction"].duplicated().any():
        raise OmicsInputError(f"model {model!r} has repeated fractions; pass summarise_sweep output (one row each)")
    return curve.set_index("fraction")["mean"].sort_index()


def aupc(summary: pd.DataFrame, model: str, baseline: str, *, low: float = 0.02, high: float = 0.3) -> float:
    """Dradjat et al.'s eq. (3): the average gap between two label-fraction curves over fractions ``[low, high]``.

    ::

        AUPC(model, baseline) = 1 / (high - low) * integral_low^high (acc_model(p) - acc_baseline(p)) dp

    computed with the trapezoid rule on the fractions both curves share in ``[low, high]`` (at least two, and the
    range must start at ``low`` and end at ``high``, so the integral is not extrapolated). It is on the accuracy scale:
    positive when ``model`` is better on average over the low-label range, 0.05 meaning five points better. The seed
    restricts it to 0.02-0.3 (20 to 300 labelled examples there) because that is the size of most real cohorts.
    Introduced in chapter *How much does pretraining help?*.
    """
    check_float("low", low, 0.0, 1.0, low_open=True)
    check_float("high", high, 0.0, 1.0, low_open=True)
    if high <= low:
        raise OmicsInputError(f"high={high} must be larger than low={low}; e.g. low=0.02, high=0.3")
    a, b = _mean_curve(summary, model), _mean_curve(summary, baseline)
    grid = np.array(sorted(set(a.index) & set(b.index)), dtype=float)
    grid = grid[(grid >= low - 1e-9) & (grid <= high + 1e-9)]
    if len(grid) < 2 or not np.isclose(grid[0], low) or not np.isclose(grid[-1], high):
        raise OmicsInputError(
            f"the curves of {model!r} and {baseline!r} must share fractions {low:g} and {high:g} and at least two in "
            f"between or at the ends (shared: {grid.tolist()}); sweep fractions that include {low:g} and {high:g}"
        )
    gap = a.reindex(grid).to_numpy(float) - b.reindex(grid).to_numpy(float)
    return float(np.trapezoid(gap, grid) / (grid[-1] - grid[0]))


def labels_to_reach(summary: pd.DataFrame, model: str, target: float) -> float:
    """The fewest labelled examples (``n_train``) at which ``model``'s mean metric reaches ``target``; NaN if never.

    Used for "labelled examples saved": with ``target`` the baseline's best mean accuracy, a pretrained model that
    reaches it with ``n`` labels saves ``1 - n / n_baseline`` of the labels the baseline needed. Introduced in chapter
    *How much does pretraining help?*.
    """
    if "n_train" not in getattr(summary, "columns", []):
        raise OmicsInputError("summary lacks column n_train; pass the output of summarise_sweep")
    curve = summary[summary["model"] == model].sort_values("n_train")
    if curve.empty:
        raise OmicsInputError(f"model {model!r} is not in the summary; pass one of {sorted(summary['model'].unique())}")
    reached = curve[curve["mean"] >= target - 1e-12]
    return float(reached["n_train"].iloc[0]) if len(reached) else float("nan")


def embedding_spectrum(embedding) -> np.ndarray:
    """Singular values of the embedding covariance, largest first: the dimensional-collapse diagnostic.

    Following Jing et al. (2021), as used by Dradjat et al.: the covariance ``C = (Z - mean)^T (Z - mean) / N`` of the
    embedding vectors ``Z`` (samples x dimensions) is decomposed by SVD; a representation that uses all its dimensions
    has a flat spectrum, a collapsed one has singular values falling towards zero (plot them on a log scale).
    Computed in float64. Introduced in chapter *Inside the representations*.
    """
    Z = as_feature_matrix(embedding, name="embedding", dtype=np.float64)
    if len(Z) < 2:
        raise OmicsInputError("embedding has fewer than 2 samples; a covariance needs at least 2")
    centred = Z - Z.mean(axis=0)
    return np.linalg.svd(centred.T @ centred / len(Z), compute_uv=False, hermitian=True)


def normalised_spread(embedding) -> float:
    """Standard deviation across samples of the L2-normalised embedding, averaged over dimensions: a collapse check.

    Each row of ``Z`` (samples x k) is scaled to unit length, and the per-dimension standard deviations across
    samples are averaged. A *complete* collapse (every sample mapped to the same direction) gives 0; unit vectors
    spread evenly over the sphere give about ``1 / sqrt(k)`` (Chen & He's SimSiam diagnostic), so the ratio to
    ``1 / sqrt(k)`` reads as "how far from collapse". Complements :func:`embedding_spectrum`, which detects a collapse
    onto a few dimensions. Introduced in chapter *Contrastive and bootstrap pretraining: SCARF and BYOL*.
    """
    Z = as_feature_matrix(embedding, name="embedding", dtype=np.float64)
    if len(Z) < 2:
        raise OmicsInputError("embedding has fewer than 2 samples; a spread needs at least 2")
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    unit = Z / np.where(norms > 0, norms, 1.0)
    return float(unit.std(axis=0).mean())


def collapsed_dimensions(singular_values, *, rel_tol: float = 1e-5) -> int:
    """Number of singular values below ``rel_tol`` times the largest: dimensions the embedding has given up.

    Introduced in chapter *Inside the representations*.
    """
    s = np.asarray(singular_values, dtype=float)
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)) or (s < -1e-12).any():
        raise OmicsInputError("singular_values must be a non-empty 1-D array of finite non-negative numbers")
    check_float("rel_tol", rel_tol, 0.0, 1.0, low_open=True)
    return int((s < rel_tol * s.max()).sum())


def effective_rank(spectrum) -> float:
    """Effective rank of an embedding from its covariance spectrum (the output of :func:`embedding_spectrum`).

    ``exp(H(p))`` with ``p_i = s_i / sum(s)`` and ``s_i`` the singular values of the centred embedding, i.e. the square
    roots of the covariance spectrum (Roy and Vetterli, 2007; RankMe). It is a continuous count of used dimensions:
    ``k`` equal singular values and zeros elsewhere give exactly ``k``; a spectrum that decays smoothly gives a number
    well below the width even when no singular value is exactly zero, which :func:`collapsed_dimensions` would miss.
    Introduced in chapter *Inside the representations*.
    """
    lam = np.asarray(spectrum, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or not np.all(np.isfinite(lam)) or (lam < -1e-12).any() or lam.max() <= 0:
        raise OmicsInputError("spectrum must be a non-empty 1-D array of finite non-negative numbers, not all zero")
    s = np.sqrt(np.clip(lam, 0.0, None))
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


# ---------------------------------------------------------------------------------------------------------------------
# Unsupervised structure
# ---------------------------------------------------------------------------------------------------------------------
def cluster_agreement(embedding, labels, *, n_clusters: int | None = None, seed: int = 0) -> dict[str, Any]:
    """k-means clusters of an embedding compared with known labels (ARI and NMI).

    ``k`` defaults to the number of distinct labels. The adjusted Rand index is 0 for random assignments and 1 for a
    perfect match; normalised mutual information lies in [0, 1]. Both ignore how clusters are numbered.
    Introduced in chapter 1, *Data and exploration*.

    Returns
    -------
    dict
        ``{"ari": float, "nmi": float, "n_clusters": int, "clusters": ndarray of cluster ids per sample}``.
    """
    Z = as_feature_matrix(embedding, name="embedding", dtype=np.float64)
    y = as_label_vector(labels, len(Z), name="labels")
    k = len(pd.unique(y)) if n_clusters is None else n_clusters
    check_int("n_clusters", k, 2)
    if k > len(Z):
        raise OmicsInputError(f"n_clusters={k} exceeds the {len(Z)} samples; pass a smaller n_clusters")
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(Z)
    return {
        "ari": float(adjusted_rand_score(y, clusters)),
        "nmi": float(normalized_mutual_info_score(y, clusters)),
        "n_clusters": int(k),
        "clusters": clusters,
    }


def explained_variance_curve(X, n_components: int = 10, seed: int = 0) -> pd.DataFrame:
    """Fraction of variance explained by the leading principal components (:class:`sklearn.decomposition.PCA`).

    Introduced in chapter 1, *Data and exploration*.

    Returns
    -------
    pandas.DataFrame
        Columns component (1-based), explained_variance_ratio, cumulative.
    """
    A = as_feature_matrix(X, name="X", dtype=np.float64)
    check_int("n_components", n_components, 1)
    if n_components > min(A.shape):
        raise OmicsInputError(
            f"n_components={n_components} exceeds min(n_samples, n_features)={min(A.shape)}; pass a smaller value"
        )
    ratio = PCA(n_components=n_components, random_state=seed).fit(A).explained_variance_ratio_
    return pd.DataFrame(
        {"component": np.arange(1, n_components + 1), "explained_variance_ratio": ratio, "cumulative": np.cumsum(ratio)}
    )


def group_effect(X, groups, *, n_components: int = 10, n_neighbors: int = 15, folds: int = 5,
                 seed: int = 0) -> dict[str, float]:
    """How strongly a technical grouping (cohorts, batches) shows in the data, to compare before and after a correction.

    Both numbers are read on the top ``n_components`` principal components of ``X``:

    - ``variance_share``: the share of their variance that the group means explain (each component's R^2 on the
      groups, weighted by its variance). 0 when every group has the same mean on every component; 1 when the
      components do nothing but separate the groups.
    - ``knn_accuracy``: the cross-validated (``folds`` stratified folds) balanced accuracy of a k-nearest-neighbour
      classifier that predicts the group from the components; ``chance`` is 1 / the number of groups. It also sees
      differences of spread and shape that leave the means equal. (A linear classifier would mislead here: after each
      group is centred exactly, the held-out fold's mean sits opposite the training folds', and accuracy drops
      *below* chance.)

    Introduced in chapter *Transfer across cohorts*.

    Returns
    -------
    dict
        ``{"variance_share", "knn_accuracy", "chance"}``.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    A = as_feature_matrix(X, name="X", dtype=np.float64)
    g = as_label_vector(groups, len(A), name="groups").astype(str)
    check_int("n_components", n_components, 1, min(A.shape))
    check_int("n_neighbors", n_neighbors, 1)
    check_int("folds", folds, 2)
    sizes = pd.Series(g).value_counts()
    if len(sizes) < 2:
        raise OmicsInputError("groups has a single group; pass labels of at least two cohorts or batches")
    if sizes.min() < folds:
        raise OmicsInputError(f"group {sizes.idxmin()!r} has {sizes.min()} samples, fewer than folds={folds}; "
                              "lower folds or merge small groups")
    pca = PCA(n_components=n_components, random_state=seed)
    scores = pca.fit_transform(A)
    means = pd.DataFrame(scores).groupby(g).transform("mean").to_numpy()
    total = ((scores - scores.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1.0 - ((scores - means) ** 2).sum(axis=0) / np.maximum(total, np.finfo(float).tiny)
    weights = pca.explained_variance_
    if n_neighbors > len(A) - -(-len(A) // folds):
        raise OmicsInputError(f"n_neighbors={n_neighbors} exceeds the training samples of a fold; pass a smaller value")
    knn = KNeighborsClassifier(n_neighbors=n_neighbors)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    accuracy = cross_val_score(knn, scores, g, cv=cv, scoring="balanced_accuracy")
    return {"variance_share": float(np.dot(r2, weights) / weights.sum()), "knn_accuracy": float(accuracy.mean()),
            "chance": 1.0 / len(sizes)}


# ---------------------------------------------------------------------------------------------------------------------
# Verdicts: every claim as an estimate, a 95% interval and one of three words
# ---------------------------------------------------------------------------------------------------------------------
VERDICTS = ("holds", "does not hold", "inconclusive")
VERDICT_COLUMNS = ["claim", "source", "data", "estimate", "ci_low", "ci_high", "n", "threshold", "direction",
                   "verdict", "method"]
_DIRECTIONS = ("greater", "less", "within")


def mean_interval(values, *, method: str = "t", confidence: float = 0.95, n_boot: int = 10_000,
                  seed: int = 0) -> tuple[float, float, float, int]:
    """Mean of ``values`` and its ``confidence`` interval: ``(estimate, low, high, n)``.

    ``method="t"`` uses Student's t (``scipy.stats.t``) on the standard error, the right choice for a handful of
    paired repeats; ``"bootstrap"`` uses the percentile bootstrap (``scipy.stats.bootstrap``) for larger samples of
    skewed differences. NaN entries are dropped. With one value the interval is infinite (nothing can be concluded).
    """
    from scipy import stats

    check_float("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    if method not in ("t", "bootstrap"):
        raise OmicsInputError(f"method={method!r} is unknown; pass 't' or 'bootstrap'")
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        raise OmicsInputError("no finite values to summarise; pass at least one number per repeat")
    estimate = float(x.mean())
    if n == 1:
        return estimate, -math.inf, math.inf, 1
    if np.ptp(x) == 0.0:  # identical repeats: the interval is the point
        return estimate, estimate, estimate, n
    if method == "t":
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
        return estimate, estimate - half, estimate + half, n
    boot = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_boot, method="percentile",
                           random_state=np.random.default_rng(seed))
    return estimate, float(boot.confidence_interval.low), float(boot.confidence_interval.high), n


def verdict(values, *, claim: str, threshold: float = 0.0, direction: str = "greater", baseline=None,
            source: str = "", data: str = "", method: str = "t", confidence: float = 0.95,
            seed: int = 0) -> dict[str, Any]:
    """Check one claim on repeated measurements: estimate, 95% interval, and *holds* / *does not hold* / *inconclusive*.

    ``values`` are one number per repeat (an accuracy, an AUPC ...). With ``baseline`` (the same repeats of the
    comparison, paired by position) the claim is about the paired differences ``values - baseline``.

    - ``direction="greater"``: the claim is "the mean exceeds ``threshold``". It *holds* when the whole interval lies
      above the threshold, *does not hold* when the whole interval lies at or below it, and is *inconclusive* when
      the interval contains it.
    - ``direction="less"``: the mirror image, "the mean is below ``threshold``".
    - ``direction="within"``: an equivalence claim, "the mean lies within ``±threshold``" (say, "about equal"). It
      *holds* when the whole interval lies inside the band, *does not hold* when the whole interval lies outside it,
      and is *inconclusive* otherwise.

    Returns a dict with the columns of :data:`VERDICT_COLUMNS`, ready for :func:`claims_table`.
    """
    if direction not in _DIRECTIONS:
        raise OmicsInputError(f"direction={direction!r} is unknown; pass one of: {', '.join(_DIRECTIONS)}")
    check_float("threshold", threshold)
    if not isinstance(claim, str) or not claim.strip():
        raise OmicsInputError("claim must be a non-empty sentence saying what is tested")
    x = np.asarray(values, dtype=np.float64).ravel()
    if baseline is not None:
        b = np.asarray(baseline, dtype=np.float64).ravel()
        if b.shape != x.shape:
            raise OmicsInputError(
                f"values has {x.size} repeats but baseline has {b.size}; pass paired repeats of equal length"
            )
        x = x - b
    if direction == "within" and threshold <= 0:
        raise OmicsInputError(f"threshold={threshold} must be > 0 for direction='within'; pass the equivalence margin")
    estimate, low, high, n = mean_interval(x, method=method, confidence=confidence, seed=seed)
    if direction == "greater":
        word = VERDICTS[0] if low > threshold else VERDICTS[1] if high <= threshold else VERDICTS[2]
    elif direction == "less":
        word = VERDICTS[0] if high < threshold else VERDICTS[1] if low >= threshold else VERDICTS[2]
    else:
        inside = -threshold < low and high < threshold
        outside = low >= threshold or high <= -threshold
        word = VERDICTS[0] if inside else VERDICTS[1] if outside else VERDICTS[2]
    label = f"{method} {confidence:.0%}" + (" paired" if baseline is not None else "")
    return {"claim": claim.strip(), "source": source, "data": data, "estimate": estimate, "ci_low": low,
            "ci_high": high, "n": n, "threshold": float(threshold), "direction": direction, "verdict": word,
            "method": label}


def claims_table(rows) -> pd.DataFrame:
    """Collect :func:`verdict` dicts into the chapter's claims table (one row per claim, fixed column order)."""
    rows = list(rows)
    if not rows:
        raise OmicsInputError("no claims to tabulate; pass the dicts returned by evaluate.verdict")
    table = pd.DataFrame(rows)
    missing = [c for c in VERDICT_COLUMNS if c not in table.columns]
    if missing:
        raise OmicsInputError(f"claims lack column(s) {missing}; build each row with evaluate.verdict")
    bad = sorted(set(table["verdict"]) - set(VERDICTS))
    if bad:
        raise OmicsInputError(f"unknown verdict word(s) {bad}; use one of {VERDICTS}")
    return table[VERDICT_COLUMNS + [c for c in table.columns if c not in VERDICT_COLUMNS]]
