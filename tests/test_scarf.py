"""Tests for omicsnb.models.scarf: NT-Xent, exact-fraction corruption inside SCARF, pretraining."""

import math

import numpy as np
import pytest
import torch

from omicsnb.models.scarf import SCARF, nt_xent
from omicsnb.validation import OmicsInputError

FAST = dict(epochs=6, batch_size=64, lr=1e-3, progress=False)


@pytest.fixture(scope="module")
def pretrained(splits):
    return SCARF(**FAST).fit(splits.X_pretrain)


def hand_nt_xent(z1, z2, t):
    """NT-Xent written out view by view with plain Python."""
    views = [list(map(float, v)) for v in list(z1) + list(z2)]
    n = len(z1)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    total = 0.0
    for a in range(2 * n):
        partner = a + n if a < n else a - n
        denominator = sum(math.exp(cos(views[a], views[b]) / t) for b in range(2 * n) if b != a)
        total += -math.log(math.exp(cos(views[a], views[partner]) / t) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("t", [1.0, 0.5, 0.1])
def test_nt_xent_equals_hand_computation(t):
    z1 = torch.tensor([[1.0, 0.0], [0.5, 2.0], [-1.0, 1.0]])
    z2 = torch.tensor([[0.8, 0.3], [0.0, 1.0], [-2.0, 0.5]])
    assert nt_xent(z1, z2, t).item() == pytest.approx(hand_nt_xent(z1, z2, t), rel=1e-5)


def test_nt_xent_is_low_for_aligned_pairs_and_scale_invariant():
    z = torch.eye(4)
    aligned = nt_xent(z, 3 * z, 0.1).item()
    shuffled = nt_xent(z, z[[1, 2, 3, 0]], 0.1).item()
    assert aligned < 0.01 < shuffled


def test_scarf_corrupts_exactly_round_cd_features_with_column_values(monkeypatch):
    import omicsnb.models.scarf as scarf_module

    seen = []
    original = scarf_module.corrupt

    def spy(x, mask, reference, generator):
        out = original(x, mask, reference, generator)
        seen.append((x, mask, reference, out[0]))
        return out

    monkeypatch.setattr(scarf_module, "corrupt", spy)
    X = np.random.default_rng(0).normal(size=(64, 40)).astype(np.float32)
    SCARF(corruption_rate=0.3, epochs=1, batch_size=32, val_fraction=0.0, progress=False).fit(X)
    assert len(seen) == 2
    for x, mask, reference, x_tilde in seen:
        assert (mask.sum(1) == 12).all()  # round(0.3 * 40)
        assert torch.equal(x_tilde[~mask], x[~mask])
        rows, cols = torch.nonzero(mask, as_tuple=True)
        assert ((reference[:, cols] == x_tilde[rows, cols]).any(0)).all()  # each value is from its own column


def test_pretext_loss_decreases(pretrained):
    h = pretrained.history_
    assert list(h.columns) == ["epoch", "loss", "val_loss"]
    assert h["loss"].iloc[-1] < h["loss"].iloc[0] - 0.05
    assert h["val_loss"].iloc[-1] < h["val_loss"].iloc[0]


def test_determinism(splits):
    X = splits.X_pretrain[:120]
    a, b, c = (SCARF(**dict(FAST, epochs=2), seed=s).fit(X) for s in (0, 0, 3))
    assert a.history_.equals(b.history_)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert not np.array_equal(a.transform(X), c.transform(X))


@pytest.mark.parametrize("params, match", [
    (dict(corruption_rate=1.0), "corruption_rate=1.0 is out of range"),
    (dict(corruption_rate=0.0), "corruption_rate=0.0 is out of range"),
    (dict(temperature=0.0), "temperature=0.0 is out of range"),
    (dict(head_dims=()), "head_dims=\\(\\) must be a non-empty tuple"),
    (dict(head_dims=(256, 0)), "out_dim=0 is out of range"),
])
def test_bad_hyperparameters(params, match):
    with pytest.raises(OmicsInputError, match=match):
        SCARF(**params, progress=False).fit(np.zeros((20, 5)))
    with pytest.raises(OmicsInputError, match="temperature"):
        nt_xent(torch.ones(2, 2), torch.ones(2, 2), -1.0)
