"""Tests for omicsnb.models.corruption: masks and empirical-marginal corruption."""

import pytest
import torch

from omicsnb.models.corruption import corrupt, mask_bernoulli, mask_exact_fraction, n_corrupted
from omicsnb.validation import OmicsInputError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("c, d", [(0.6, 50), (0.3, 2000), (0.25, 10), (0.05, 7)])
def test_exact_fraction_corrupts_round_cd_features_per_row(c, d):
    mask = mask_exact_fraction((64, d), c, gen())
    k = n_corrupted(d, c)
    assert k == int(c * d + 0.5)
    assert (mask.sum(1) == k).all()


def test_exact_fraction_positions_are_uniform():
    mask = mask_exact_fraction((4000, 10), 0.3, gen())
    freq = mask.float().mean(0)
    assert torch.allclose(freq, torch.full((10,), 0.3), atol=0.03)


def test_bernoulli_rate():
    mask = mask_bernoulli((500, 400), 0.3, gen())
    assert mask.dtype == torch.bool
    assert abs(mask.float().mean().item() - 0.3) < 0.01
    assert not mask_bernoulli((5, 5), 0.0, gen()).any()
    assert mask_bernoulli((5, 5), 1.0, gen()).all()


def test_corrupted_values_come_from_the_same_column_of_the_reference():
    reference = torch.arange(30, dtype=torch.float32).reshape(10, 3) * 10 + torch.tensor([0.0, 1.0, 2.0])
    x = torch.full((200, 3), -1.0)
    mask = mask_exact_fraction(x.shape, 0.5, gen(1))
    x_tilde, changed = corrupt(x, mask, reference, gen(2))
    assert torch.equal(x_tilde[~mask], x[~mask])
    for j in range(3):
        values = x_tilde[mask[:, j], j]
        assert torch.isin(values, reference[:, j]).all()  # a value of column j, never of another column
    # every reference row gets drawn eventually: the draw is over the whole marginal
    assert len(torch.unique(x_tilde[mask[:, 0], 0])) == 10
    assert torch.equal(changed, mask)  # x never equals a reference value here


def test_changed_excludes_swaps_that_draw_the_same_value():
    reference = torch.tensor([[1.0, 5.0], [1.0, 6.0]])  # column 0 is constant
    x = torch.tensor([[1.0, 5.0]]).repeat(100, 1)
    mask = torch.ones_like(x, dtype=torch.bool)
    x_tilde, changed = corrupt(x, mask, reference, gen())
    assert not changed[:, 0].any()
    assert torch.equal(changed[:, 1], x_tilde[:, 1] == 6.0)
    assert 20 < changed[:, 1].sum() < 80


def test_determinism_by_generator_seed():
    ref = torch.randn(50, 20, generator=gen(9))
    x = torch.randn(16, 20, generator=gen(8))
    a = corrupt(x, mask_bernoulli(x.shape, 0.3, gen(3)), ref, gen(4))[0]
    b = corrupt(x, mask_bernoulli(x.shape, 0.3, gen(3)), ref, gen(4))[0]
    c = corrupt(x, mask_bernoulli(x.shape, 0.3, gen(5)), ref, gen(6))[0]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("call, match", [
    (lambda: mask_bernoulli((4, 4), 1.5), "p_m=1.5 is out of range"),
    (lambda: mask_bernoulli((4, 4), -0.1), "p_m=-0.1 is out of range"),
    (lambda: mask_exact_fraction((4, 4), 1.0), "corruption_rate=1.0 is out of range"),
    (lambda: mask_exact_fraction((4, 4), 0.0), "corruption_rate=0.0 is out of range"),
    (lambda: mask_exact_fraction((4,), 0.5), "must be \\(rows, features\\)"),
    (lambda: corrupt(torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(5, 3)), "boolean mask"),
    (lambda: corrupt(torch.zeros(4, 3), torch.zeros(4, 3, dtype=torch.bool), torch.zeros(5, 2)), "3 features"),
])
def test_bad_inputs(call, match):
    with pytest.raises(OmicsInputError, match=match):
        call()
