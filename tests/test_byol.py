"""Tests for omicsnb.models.byol: EMA update, loss, target network, pretraining."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from omicsnb.models.byol import BYOL, byol_loss, ema_update
from omicsnb.validation import OmicsInputError

FAST = dict(epochs=6, batch_size=64, lr=1e-3, projector_dims=(512, 64), progress=False)


@pytest.fixture(scope="module")
def pretrained(splits):
    return BYOL(**FAST).fit(splits.X_pretrain)


@pytest.mark.parametrize("tau", [0.99, 0.9, 0.0, 1.0])
def test_ema_moves_target_by_exactly_one_minus_tau_of_the_gap(tau):
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    target = copy.deepcopy(online)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(torch.randn_like(p))
    online(torch.randn(8, 4))  # give the online batch norm different running statistics
    before = [t.clone() for t in target.state_dict().values()]
    ema_update(target, online, tau)
    for (name, after), old, new in zip(target.state_dict().items(), before, online.state_dict().values()):
        if after.is_floating_point():
            expected = old + (1 - tau) * (new - old)
            assert torch.allclose(after, expected, atol=1e-7), name
        else:
            assert torch.equal(after, new), name


def test_byol_loss_values():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert byol_loss(a, 5 * a).item() == pytest.approx(0.0, abs=1e-6)
    assert byol_loss(a, -a).item() == pytest.approx(4.0)
    assert byol_loss(a, a[[1, 0]]).item() == pytest.approx(2.0)


def test_pretext_loss_decreases_and_target_follows_online(pretrained):
    h = pretrained.history_
    assert list(h.columns) == ["epoch", "loss", "val_loss"]
    assert h["loss"].iloc[-1] < 0.8 * h["loss"].iloc[0]
    m = pretrained.modules_
    assert not any(p.requires_grad for p in m["target_encoder"].parameters())
    online_w = pretrained.encoder.layers[0].weight
    target_w = m["target_encoder"].layers[0].weight
    assert not torch.equal(online_w, target_w)  # the target lags behind ...
    assert (online_w - target_w).abs().max() < 0.5 * online_w.abs().max()  # ... but stays close


def test_determinism(splits):
    X = splits.X_pretrain[:100]
    a, b, c = (BYOL(**dict(FAST, epochs=2, corrupt_both=True), seed=s).fit(X) for s in (0, 0, 2))
    assert a.history_.equals(b.history_)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert not np.array_equal(a.transform(X), c.transform(X))


@pytest.mark.parametrize("params, match", [
    (dict(tau=1.5), "tau=1.5 is out of range"),
    (dict(tau=-0.1), "tau=-0.1 is out of range"),
    (dict(p_swap=2.0), "p_swap=2.0 is out of range"),
    (dict(corrupt_both="yes"), "corrupt_both='yes' must be True or False"),
    (dict(projector_dims=()), "projector_dims=\\(\\) must be a non-empty tuple"),
    (dict(projector_dims=(4096, -1)), "projector width=-1 is out of range"),
])
def test_bad_hyperparameters(params, match):
    with pytest.raises(OmicsInputError, match=match):
        BYOL(**params, progress=False).fit(np.zeros((20, 5)))
    with pytest.raises(OmicsInputError, match="tau=2 is out of range"):
        ema_update(nn.Linear(2, 2), nn.Linear(2, 2), 2)
