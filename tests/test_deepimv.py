"""Tests for omicsnb.models.deepimv: the product of experts, masked losses, the test protocol and the estimator."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from omicsnb.models.deepimv import (
    ConcatClassifier,
    DeepIMV,
    LateFusion,
    drop_views,
    gaussian_kl,
    held_out_information,
    product_of_experts,
    view_subsets,
)
from omicsnb.validation import OmicsInputError


# ---------------------------------------------------------------------------------------------------------------------
# Product of experts
# ---------------------------------------------------------------------------------------------------------------------
def test_poe_one_view_and_flat_prior_returns_that_view():
    mu = torch.tensor([[[0.7, -2.0, 3.0]]])
    log_var = torch.log(torch.tensor([[[0.5, 2.0, 0.1]]]))
    joint_mu, joint_log_var = product_of_experts(mu, log_var, torch.ones(1, 1), prior_var=1e12)
    torch.testing.assert_close(joint_mu, mu[:, 0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(torch.exp(joint_log_var), torch.exp(log_var[:, 0]), rtol=1e-6, atol=1e-6)


def test_poe_all_views_masked_returns_the_prior():
    mu = torch.randn(3, 4, 5)
    log_var = torch.randn(3, 4, 5)
    for prior_var in (1.0, 2.5):
        joint_mu, joint_log_var = product_of_experts(mu, log_var, torch.zeros(3, 4), prior_var=prior_var)
        assert torch.equal(joint_mu, torch.zeros(3, 5))
        torch.testing.assert_close(torch.exp(joint_log_var), torch.full((3, 5), prior_var))


def test_poe_matches_hand_computation_and_ignores_masked_nan():
    # two observed experts N(1, 1/2) and N(-2, 1/4), a masked one holding NaN, and the N(0, 1) prior:
    # precision 1 + 2 + 4 = 7, mean (2 * 1 + 4 * -2) / 7 = -6/7
    mu = torch.tensor([[[1.0], [-2.0], [float("nan")]]], requires_grad=True)
    log_var = torch.log(torch.tensor([[[0.5], [0.25], [float("nan")]]])).requires_grad_(True)
    joint_mu, joint_log_var = product_of_experts(mu, log_var, torch.tensor([[1.0, 1.0, 0.0]]))
    torch.testing.assert_close(joint_mu, torch.tensor([[-6 / 7]]))
    torch.testing.assert_close(joint_log_var, torch.log(torch.tensor([[1 / 7]])))
    (joint_mu.sum() + joint_log_var.sum()).backward()
    assert mu.grad[0, 2].item() == 0.0 and log_var.grad[0, 2].item() == 0.0
    assert torch.isfinite(mu.grad).all() and torch.isfinite(log_var.grad).all()


def test_gaussian_kl_closed_form():
    mu, log_var = torch.tensor([[1.0, 0.0]]), torch.log(torch.tensor([[1.0, 4.0]]))
    expected = 0.5 * (1 + 1 - 1 - 0) + 0.5 * (4 + 0 - 1 - np.log(4))
    torch.testing.assert_close(gaussian_kl(mu, log_var), torch.tensor([expected], dtype=torch.float32))


def test_poe_bad_shapes():
    with pytest.raises(OmicsInputError, match="shape"):
        product_of_experts(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.ones(2, 4))
    with pytest.raises(OmicsInputError, match="prior_var"):
        product_of_experts(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.ones(2, 3), prior_var=0.0)


# ---------------------------------------------------------------------------------------------------------------------
# An easy simulated task: each of four views carries its own quarter of the label signal
# ---------------------------------------------------------------------------------------------------------------------
def easy_views(n, seed=0, dims=(12, 8, 10, 6)):
    rng = np.random.default_rng(seed)
    signals = rng.standard_normal((n, 4))
    y = (signals.sum(axis=1) + 0.3 * rng.standard_normal(n) > 0).astype(int)
    views = []
    for j, d in enumerate(dims):
        loadings = rng.normal(1.0, 0.2, d)
        views.append(signals[:, [j]] * loadings + 0.5 * rng.standard_normal((n, d)))
    return views, y


@pytest.fixture(scope="module")
def fitted():
    views, y = easy_views(600, seed=1)
    rng = np.random.default_rng(2)
    observed = rng.random((600, 4)) > np.array([0.1, 0.24, 0.13, 0.74])
    observed[~observed.any(axis=1), 0] = True
    incomplete = [np.where(observed[:, [j]], v, np.nan) for j, v in enumerate(views)]
    model = DeepIMV(z_dim=8, encoder_hidden=(16,), predictor_hidden=(16,), epochs=40, batch_size=64, lr=3e-3,
                    seed=0, progress=False)
    return model.fit(incomplete, y)


def test_four_views_beat_one_on_an_easy_task(fitted):
    views, y = easy_views(400, seed=3)
    all_four = roc_auc_score(y, fitted.predict_proba(views, np.ones((400, 4), bool))[:, 1])
    one = [roc_auc_score(y, fitted.predict_proba(views, drop_views(np.ones((400, 4), bool), 1, seed=s))[:, 1])
           for s in range(3)]
    assert all_four > 0.9
    assert all_four > max(one) + 0.1


def test_history_and_nan_rows_are_missing_views(fitted):
    assert list(fitted.history_.columns[:5]) == ["epoch", "loss", "joint", "kl", "marginal"]
    assert fitted.history_["loss"].iloc[-1] < fitted.history_["loss"].iloc[0]
    views, _ = easy_views(5, seed=4)
    nan_rows = [v.copy() for v in views]
    nan_rows[3][:] = np.nan
    mask = np.ones((5, 4), bool)
    mask[:, 3] = False
    np.testing.assert_allclose(fitted.predict_proba(nan_rows), fitted.predict_proba(views, mask))
    assert fitted.transform(views).shape == (5, 8)


def test_predictions_reproducible_and_drop_views_seeded(fitted):
    views, _ = easy_views(50, seed=5)
    mask = drop_views(np.ones((50, 4), bool), 2, seed=11)
    assert np.array_equal(mask, drop_views(np.ones((50, 4), bool), 2, seed=11))
    assert not np.array_equal(mask, drop_views(np.ones((50, 4), bool), 2, seed=12))
    assert (mask.sum(axis=1) == 2).all()
    np.testing.assert_array_equal(fitted.predict_proba(views, mask), fitted.predict_proba(views, mask))
    # every subset of two views is drawn about equally often
    counts = np.unique(drop_views(np.ones((6000, 4), bool), 2, seed=0), axis=0, return_counts=True)[1]
    assert len(counts) == 6 and counts.min() > 850
    # only observed views are kept
    observed = np.array([[True, False, True, False]] * 20)
    kept = drop_views(observed, 1, seed=0)
    assert not (kept & ~observed).any() and (kept.sum(axis=1) == 1).all()
    with pytest.raises(OmicsInputError, match="fewer than n_keep"):
        drop_views(observed, 3)


def test_same_seed_same_model():
    views, y = easy_views(120, seed=6)
    a = DeepIMV(epochs=3, seed=4, progress=False).fit(views, y)
    b = DeepIMV(epochs=3, seed=4, progress=False).fit(views, y)
    np.testing.assert_array_equal(a.predict_proba(views), b.predict_proba(views))
    c = DeepIMV(epochs=3, seed=5, progress=False).fit(views, y)
    assert not np.array_equal(a.predict_proba(views), c.predict_proba(views))


# ---------------------------------------------------------------------------------------------------------------------
# Masked losses ignore missing views exactly
# ---------------------------------------------------------------------------------------------------------------------
def _loss_and_grads(model, xs, mask, y):
    net = model.network_
    net.train()
    net.zero_grad()
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the same dropout masks in both calls
        terms = model._loss(xs, mask, y, torch.Generator().manual_seed(1))
    terms["loss"].backward()
    grads = {name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for name, p in
             net.named_parameters()}
    return terms["loss"].detach(), grads


def test_masked_view_gets_no_gradient_from_that_sample(fitted):
    views, y = easy_views(8, seed=7)
    xs = [torch.tensor(v, dtype=torch.float32) for v in views]
    y = torch.tensor(y)
    mask = torch.ones(8, 4, dtype=torch.bool)
    mask[2, 1] = False  # sample 2 lacks view 2
    loss, grads = _loss_and_grads(fitted, xs, mask, y)
    changed = [x.clone() for x in xs]
    changed[1][2] = 1e6  # whatever the missing row holds
    loss2, grads2 = _loss_and_grads(fitted, changed, mask, y)
    assert loss.item() == loss2.item()
    for name in grads:
        assert torch.equal(grads[name], grads2[name]), name
    # a batch in which nobody has view 2: its encoder and marginal predictor get exactly zero gradient
    mask[:, 1] = False
    _, grads3 = _loss_and_grads(fitted, xs, mask, y)
    for name, grad in grads3.items():
        if name.startswith(("encoders.1.", "view_predictors.1.")):
            assert torch.count_nonzero(grad) == 0, name
        if name.startswith("encoders.0."):
            assert torch.count_nonzero(grad) > 0, name


def test_loss_terms_against_hand_computation():
    """alpha = beta = 0 leaves the joint cross-entropy only; alpha = 1 adds each view's masked-mean term."""
    views, y = easy_views(6, seed=8, dims=(3, 2, 2, 2))
    model = DeepIMV(z_dim=2, encoder_hidden=[], predictor_hidden=[], dropout=0.0, epochs=1, alpha=0.0, beta=0.0,
                    standardize=False, progress=False).fit(views, y)
    xs = [torch.tensor(v, dtype=torch.float32) for v in views]
    mask = torch.tensor([[1, 1, 0, 0]] * 3 + [[1, 0, 1, 1]] * 3, dtype=torch.bool)
    target = torch.tensor(y)
    net = model.network_
    with torch.no_grad():
        mu, log_var = net.encode(xs, mask)
        g = torch.Generator().manual_seed(3)
        joint_mu, joint_log_var = product_of_experts(mu, log_var, mask)
        eps = torch.randn(joint_mu.shape, generator=g)
        eps_v = torch.randn(mu.shape, generator=g)
        z = joint_mu + torch.exp(0.5 * joint_log_var) * eps
        ce = torch.nn.functional.cross_entropy(net.joint_predictor(z), target)
        kl = gaussian_kl(joint_mu, joint_log_var).mean()
        marginal = 0.0
        for j in range(4):
            rows = mask[:, j]
            z_j = mu[rows, j] + torch.exp(0.5 * log_var[rows, j]) * eps_v[rows, j]
            marginal += (torch.nn.functional.cross_entropy(net.view_predictors[j](z_j), target[rows])
                         + 0.5 * gaussian_kl(mu[rows, j], log_var[rows, j]).mean())
        for alpha, beta in ((0.0, 0.0), (1.0, 0.5)):
            model.alpha, model.beta = alpha, beta
            terms = model._loss(xs, mask, target, torch.Generator().manual_seed(3))
            expected = ce + beta * kl + alpha * (marginal if beta else 0.0)
            torch.testing.assert_close(terms["loss"], expected)


# ---------------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------------
def test_bad_input_is_one_line():
    views, y = easy_views(30, seed=9)
    partial = [v.copy() for v in views]
    partial[0][3, 0] = np.nan
    with pytest.raises(OmicsInputError, match="NaN or infinite values in 1 observed"):
        DeepIMV(epochs=1, progress=False).fit(partial, y)
    with pytest.raises(OmicsInputError, match="different numbers of samples"):
        DeepIMV(epochs=1, progress=False).fit([views[0], views[1][:10]], y)
    with pytest.raises(OmicsInputError, match="no observed view"):
        DeepIMV(epochs=1, progress=False).fit(views, y, np.zeros((30, 4), bool))
    with pytest.raises(OmicsInputError, match="alpha"):
        DeepIMV(alpha=-1.0, progress=False).fit(views, y)
    with pytest.raises(OmicsInputError, match="not fitted"):
        DeepIMV().predict_proba(views)
    model = DeepIMV(epochs=1, progress=False).fit(views, y)
    with pytest.raises(OmicsInputError, match="fitted on 4"):
        model.predict_proba(views[:3])
    with pytest.raises(OmicsInputError, match="features"):
        model.predict_proba([views[0][:, :5], *views[1:]])


# ---------------------------------------------------------------------------------------------------------------------
# Baselines and the information estimate
# ---------------------------------------------------------------------------------------------------------------------
class _MeanOfCompleteImputer:
    """A stand-in imputer: fills with the complete samples' column means (records what it was fitted on)."""

    def fit(self, X):
        self.fitted_rows, self.means = len(X), X.mean(axis=0)
        return self

    def transform(self, X):
        return np.where(np.isnan(X), self.means, X)


def test_concat_and_late_fusion():
    views, y = easy_views(300, seed=10)
    observed = np.ones((300, 4), bool)
    observed[:100, 3] = False
    concat = ConcatClassifier().fit(views, y, observed)
    imputer = _MeanOfCompleteImputer()
    concat_imputed = ConcatClassifier(imputer=imputer).fit(views, y, observed)
    assert imputer.fitted_rows == 200
    test, y_test = easy_views(200, seed=11)
    assert roc_auc_score(y_test, concat.predict_proba(test)[:, 1]) > 0.9
    assert roc_auc_score(y_test, concat_imputed.predict_proba(test)[:, 1]) > 0.9
    late = LateFusion().fit(views, y, observed)
    proba = late.view_proba(test, drop_views(np.ones((200, 4), bool), 1, seed=0))
    assert proba.shape == (200, 4, 2) and (np.isnan(proba[..., 0]).sum(axis=1) == 3).all()
    ranking = late.rank_views(test, y_test)
    assert list(ranking["view"]) == ["view1", "view2", "view3", "view4"]
    mask = np.zeros((200, 4), bool)
    mask[:, [1, 2]] = True
    best = late.predict_proba(test, mask, mode="best")
    order = late.view_order_
    chosen = 1 if order.index(1) < order.index(2) else 2
    np.testing.assert_allclose(best, late.view_proba(test, mask)[:, chosen])
    np.testing.assert_allclose(late.predict_proba(test, mask), late.view_proba(test, mask)[:, [1, 2]].mean(axis=1))


def test_held_out_information_bounds():
    y = np.array([0, 1] * 50)
    perfect = np.eye(2)[y]
    assert held_out_information(perfect, y, [0, 1]) == pytest.approx(np.log(2), abs=1e-6)
    assert held_out_information(np.full((100, 2), 0.5), y, [0, 1]) == pytest.approx(0.0, abs=1e-12)


def test_view_subsets():
    subsets = view_subsets(4)
    assert len(subsets) == 15 and subsets[0] == (0,) and subsets[-1] == (0, 1, 2, 3)


def test_experts_combine_into_the_posterior(fitted):
    views, _ = easy_views(20, seed=12)
    mask = drop_views(np.ones((20, 4), bool), 2, seed=3)
    mu, var = fitted.experts(views, mask)
    assert np.isnan(mu[~mask]).all() and np.isfinite(mu[mask]).all()
    precision = 1.0 + np.nansum(1.0 / var, axis=1)
    expected_mu = np.nansum(mu / var, axis=1) / precision
    joint_mu, joint_var = fitted.posterior(views, mask)
    np.testing.assert_allclose(joint_var, 1.0 / precision, rtol=1e-5)
    np.testing.assert_allclose(joint_mu, expected_mu, rtol=1e-4, atol=1e-6)


def test_bad_device_is_one_line():
    views, y = easy_views(20, seed=13)
    with pytest.raises(OmicsInputError, match="not a torch device"):
        DeepIMV(device="abacus", epochs=1, progress=False).fit(views, y)
