"""The imputers are scikit-learn estimators: scikit-learn's own estimator checks, clone, tags, fit_transform."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from omicsnb.impute import IterativeSVDImputer, KNNImputer, MeanImputer, RandomImputer, VAEImputer
from omicsnb.validation import OmicsInputError

TINY_VAE = dict(hidden=(8, 8), latent=2, epochs=2, batch_size=16, lr=1e-3, validation_fraction=0.0, patience=None,
                progress=False)
ESTIMATORS = [MeanImputer(), RandomImputer(seed=0), KNNImputer(n_neighbors=2), IterativeSVDImputer(rank=2),
              VAEImputer(**TINY_VAE)]

# Where the imputers' API cannot comply with a generic check, and why.
_OBJECT = ("a non-numeric object in X raises the book's one-line OmicsInputError (a ValueError), not the TypeError "
           "the check expects; numbers stored as objects are accepted")
EXPECTED_FAILURES = {
    "IterativeSVDImputer": {"check_transformer_n_iter": "the SVD passes run in transform (SVD refits for every new "
                                                        "batch, the paper's point about its cost), so fit sets no "
                                                        "n_iter_"},
}


def _expected_failed_checks(estimator):
    return {"check_dtype_object": _OBJECT, **EXPECTED_FAILURES.get(type(estimator).__name__, {})}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_tags_clone_and_fit_transform_meaning(estimator):
    assert estimator.__sklearn_tags__().input_tags.allow_nan
    copy = clone(estimator)
    assert copy.get_params() == estimator.get_params() and not hasattr(copy, "n_features_in_")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)) + np.arange(6)
    X[rng.random(X.shape) < 0.1] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 1.0
    a = clone(estimator).fit_transform(X)
    b = clone(estimator).fit(X).transform(X)
    np.testing.assert_allclose(a, b)  # fit_transform(X) keeps scikit-learn's meaning: fit(X).transform(X)
    assert np.isfinite(a).all() and np.array_equal(a[~np.isnan(X)], X[~np.isnan(X)])


@pytest.mark.parametrize("estimator, match", [
    (KNNImputer(n_neighbors=0), "n_neighbors"),
    (KNNImputer(weights="cosine"), "weights"),
    (IterativeSVDImputer(rank=0), "rank"),
    (IterativeSVDImputer(tol=0.0), "tol"),
    (RandomImputer(seed=-1), "seed"),
    (VAEImputer(hidden=(10,)), "two layer sizes"),
    (VAEImputer(decoder_sigma="fixed"), "decoder_sigma"),
    (VAEImputer(validation_fraction=0.0), "patience needs"),
])
def test_parameters_are_checked_in_fit_not_init(estimator, match):
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(OmicsInputError, match=match):
        estimator.fit(X)
