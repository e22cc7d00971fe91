"""Tests for omicsnb.models.multitask: masked loss, contrastive views, ablation switches, fitting, fine-tuning."""

import numpy as np
import pytest
import torch

from omicsnb.models import MLPClassifier
from omicsnb.models.multitask import MultiTaskSSL, PathwayEncoder, masked_mse, two_views
from omicsnb.models.scarf import nt_xent
from omicsnb.validation import OmicsInputError

FAST = dict(hidden=(32, 16), epochs=3, batch_size=32, progress=False, projection_dim=8)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 20)).astype(np.float32)
    scores = X[:, :6] @ rng.normal(size=(6, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, scores, y


def test_masked_mse_counts_only_masked_positions():
    pred = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 10.0]])
    target = torch.tensor([[0.0, 2.0, 0.0], [1.0, 5.0, 0.0]])
    mask = torch.tensor([[True, False, False], [True, True, False]])
    # masked squared errors: (1-0)^2, (0-1)^2, (0-5)^2 -> (1 + 1 + 25) / 3; the big unmasked errors are ignored
    assert masked_mse(pred, target, mask).item() == pytest.approx(27 / 3)
    assert masked_mse(pred, target, torch.zeros_like(mask)).item() == 0.0


def test_reconstruction_term_equals_hand_computation(toy):
    X, _, _ = toy
    model = MultiTaskSSL(alpha=0, beta=1.0, gamma=0, **FAST).fit(X)
    x = torch.as_tensor(X[:10])
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        model.encoder_.eval(), model.modules_.eval()
        terms = model._loss(x, None, generator)
        mask = torch.rand(x.shape, generator=torch.Generator().manual_seed(7)) < model.mask_ratio
        pred = model.modules_["mae"](model.encoder_(x.masked_fill(mask, 0.0))).numpy()
    m = mask.numpy()
    hand = sum((pred[i, j] - X[i, j]) ** 2 for i in range(10) for j in range(20) if m[i, j]) / m.sum()
    assert 0.25 < m.mean() < 0.55
    assert terms["mae"].item() == pytest.approx(hand, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(hand, rel=1e-5)


def test_views_differ_and_keep_shape():
    x = torch.randn(16, 30, generator=torch.Generator().manual_seed(0))
    v1, v2 = two_views(x, 0.1, 0.1, torch.Generator().manual_seed(1))
    assert v1.shape == v2.shape == x.shape
    assert not torch.equal(v1, v2) and not torch.equal(v1, x)
    zeroed = (v1 == 0).float().mean().item()
    assert 0.03 < zeroed < 0.2  # feature dropout p = 0.1
    same1, same2 = two_views(x, 0.0, 0.0, torch.Generator().manual_seed(1))
    assert torch.equal(same1, x) and torch.equal(same2, x)


def test_full_loss_is_the_weighted_sum_of_the_three_terms(toy):
    X, scores, _ = toy
    model = MultiTaskSSL(alpha=1.0, beta=0.3, gamma=0.1, **FAST).fit(X, pathway_scores=scores)
    assert list(model.history_.columns) == ["epoch", "loss", "path", "mae", "ctr", "val_loss"]
    h = model.history_
    # per-batch totals are exact weighted sums, so their sample-weighted means are too
    np.testing.assert_allclose(h["loss"], h["path"] + 0.3 * h["mae"] + 0.1 * h["ctr"], rtol=1e-5)
    x = torch.as_tensor(np.hstack([X[:8], (scores[:8] - model.target_mean_) / model.target_scale_]).astype(np.float32))
    with torch.no_grad():
        model.encoder_.eval(), model.modules_.eval()
        terms = model._loss(x, None, torch.Generator().manual_seed(3))
        z = model.encoder_(x[:, :20])
        path = torch.mean((model.modules_["path"](z) - x[:, 20:]) ** 2)
        v1, v2 = two_views(x[:, :20], 0.1, 0.1, torch.Generator().manual_seed(3))
    assert terms["path"].item() == pytest.approx(path.item(), rel=1e-5)
    assert terms["loss"].item() == pytest.approx(
        terms["path"].item() + 0.3 * terms["mae"].item() + 0.1 * terms["ctr"].item(), rel=1e-5)


@pytest.mark.parametrize("off", ["alpha", "beta", "gamma"])
def test_ablation_switch_removes_the_term_and_its_head(toy, off):
    X, scores, _ = toy
    term = {"alpha": "path", "beta": "mae", "gamma": "ctr"}[off]
    model = MultiTaskSSL(**{off: 0.0}, **FAST).fit(X, pathway_scores=scores)
    assert term not in model.modules_ and term not in model.history_.columns
    kept = [t for t in ("path", "mae", "ctr") if t != term]
    assert set(model.modules_) == set(kept)
    weights = {"path": 1.0, "mae": 0.3, "ctr": 0.1}
    np.testing.assert_allclose(model.history_["loss"], sum(weights[t] * model.history_[t] for t in kept), rtol=1e-5)


def test_single_objective_runs_without_targets(toy):
    X, _, _ = toy
    model = MultiTaskSSL(alpha=0, beta=0, gamma=1.0, **FAST).fit(X)
    assert list(model.modules_) == ["ctr"] and model.n_pathways_ == 0
    with pytest.raises(OmicsInputError, match="pathway head"):
        model.predict_pathways(X)


def test_fit_is_deterministic_trains_the_encoder_and_fine_tunes(toy):
    X, scores, y = toy
    a = MultiTaskSSL(**FAST).fit(X, pathway_scores=scores)
    b = MultiTaskSSL(**FAST).fit(X, pathway_scores=scores)
    np.testing.assert_array_equal(a.history_.to_numpy(), b.history_.to_numpy())
    untrained = MultiTaskSSL(**{**FAST, "epochs": 1}, lr=1e-12).fit(X, pathway_scores=scores)
    assert not np.allclose(a.transform(X), untrained.transform(X), atol=1e-3)  # the encoder itself was trained
    assert isinstance(a.encoder, PathwayEncoder) and a.encoder.in_dim == 20 and a.transform(X).shape == (120, 16)
    assert a.predict_pathways(X).shape == scores.shape
    assert a.history_["path"].iloc[-1] < a.history_["path"].iloc[0]
    clf = MLPClassifier(encoder=a.encoder, freeze_encoder=True, max_epochs=5, progress=False).fit(X, y)
    assert clf.predict(X).shape == (120,)


def test_layer_norm_on_z_and_no_dropout_after_the_last_layer():
    enc = PathwayEncoder(10, (8, 6), dropout=0.5)
    kinds = [type(m).__name__ for m in enc.net]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "LayerNorm"]
    z = enc.eval()(torch.randn(4, 10))
    assert torch.allclose(z.mean(1), torch.zeros(4), atol=1e-5)


def test_bad_parameters_raise_one_line_errors(toy):
    X, scores, _ = toy
    with pytest.raises(OmicsInputError, match="pathway_scores"):
        MultiTaskSSL(**FAST).fit(X)
    with pytest.raises(OmicsInputError, match="all 0"):
        MultiTaskSSL(alpha=0, beta=0, gamma=0, **FAST).fit(X)
    with pytest.raises(OmicsInputError, match="mask_ratio"):
        MultiTaskSSL(mask_ratio=1.0, **FAST).fit(X, pathway_scores=scores)
    with pytest.raises(OmicsInputError, match="rows"):
        MultiTaskSSL(**FAST).fit(X, pathway_scores=scores[:10])
    assert nt_xent  # the contrastive term reuses SCARF's NT-Xent
