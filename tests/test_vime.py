"""Tests for omicsnb.models.vime (VIMESelf, VIMESemi) and the shared SSLPretrainer loop."""

import numpy as np
import pytest
import torch
from torch import nn

from omicsnb.models.mlp import Encoder
from omicsnb.models.vime import DRADJAT_HEADS, VIMESelf, VIMESemi, head_widths, mask_oracle_auc, vime_corrupt
from omicsnb.validation import OmicsInputError

FAST = dict(epochs=6, batch_size=64, lr=1e-3, progress=False)


@pytest.fixture(scope="module")
def pretrained(splits):
    return VIMESelf(**FAST).fit(splits.X_pretrain)


def test_mask_labels_are_actual_changes():
    g = torch.Generator().manual_seed(0)
    reference = torch.stack([torch.ones(50), torch.arange(50.0)], 1)  # column 0 constant: swaps never change it
    x = torch.stack([torch.ones(400), torch.full((400,), -1.0)], 1)
    x_tilde, label = vime_corrupt(x, reference, 0.5, g)
    assert torch.equal(label, (x_tilde != x).float())
    assert label[:, 0].sum() == 0
    assert 150 < label[:, 1].sum() < 250


def test_pretext_loss_decreases_and_history_is_tidy(pretrained):
    h = pretrained.history_
    assert list(h.columns) == ["epoch", "loss", "mask_bce", "feature_mse", "val_loss"]
    assert h["epoch"].tolist() == list(range(1, 7))
    assert h["loss"].iloc[-1] < 0.9 * h["loss"].iloc[0]
    assert h["val_loss"].iloc[-1] < h["val_loss"].iloc[0]
    assert np.allclose(h["loss"], h["mask_bce"] + 2.0 * h["feature_mse"], rtol=1e-5)


def test_pretext_check_against_trivial_answers(pretrained, splits):
    check = pretrained.pretext_check(splits.X_test)
    assert set(check) == {"changed_rate", "mask_accuracy", "trivial_mask_accuracy", "mask_auc", "feature_mse",
                          "copy_mse", "mean_mse"}
    assert check["changed_rate"] == pytest.approx(0.3, abs=0.02)  # continuous values: nearly every swap changes one
    assert check["trivial_mask_accuracy"] == pytest.approx(1 - check["changed_rate"])
    assert 0.0 <= check["mask_auc"] <= 1.0 and 0.0 <= check["mask_accuracy"] <= 1.0
    assert check["copy_mse"] == pytest.approx(2 * 0.3 * splits.X_test.var(0).mean(), rel=0.15)
    assert pretrained.pretext_check(splits.X_test) == check  # seeded corruption
    assert pretrained.pretext_check(splits.X_test, seed=1) != check


def test_pretext_check_sees_learning_and_few_valued_features():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(600, 4))
    X = np.repeat(factors, 8, axis=1) + 0.1 * rng.normal(size=(600, 32))  # 8 near-copies of each factor
    reconstruct = VIMESelf(p_m=0.3, hidden=(64, 64), epochs=10, batch_size=64, lr=3e-3, progress=False).fit(X[:500])
    check = reconstruct.pretext_check(X[500:])
    assert check["feature_mse"] < 0.5 * check["copy_mse"] and check["copy_mse"] < check["mean_mse"]
    # the mask task is learnable (a swapped entry disagrees with its copies) but slower: train its head alone
    detect = VIMESelf(p_m=0.3, alpha=0.0, hidden=(128, 128), dropout=0.0, epochs=30, batch_size=64, lr=3e-3,
                      progress=False).fit(X[:500])
    check = detect.pretext_check(X[500:])
    assert check["mask_auc"] > 0.6 and check["mask_accuracy"] > check["trivial_mask_accuracy"]
    genotypes = rng.binomial(2, 0.3, size=(300, 20)).astype(float)
    geno = VIMESelf(p_m=0.3, hidden=(16,), epochs=1, progress=False).fit(genotypes)
    # a swap of a 0/1/2 genotype draws the same value about half the time: the mask target is rarer than p_m
    assert geno.pretext_check(genotypes)["changed_rate"] < 0.2


def test_encoder_and_transform(pretrained, splits):
    assert isinstance(pretrained.encoder, Encoder)
    assert pretrained.encoder.out_dim == 256 and not pretrained.encoder.training
    z = pretrained.transform(splits.X_test)
    assert z.shape == (100, 256) and np.isfinite(z).all()
    with pytest.raises(OmicsInputError, match="pretrained on 300"):
        pretrained.transform(splits.X_test[:, :10])


def test_determinism_by_seed(splits):
    X = splits.X_pretrain[:120]
    params = dict(FAST, epochs=2)
    a = VIMESelf(**params).fit(X)
    b = VIMESelf(**params).fit(X)
    c = VIMESelf(**params, seed=1).fit(X)
    assert a.history_.equals(b.history_)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert not np.array_equal(a.transform(X), c.transform(X))


@pytest.mark.parametrize("consistency", ["variance", "mse"])
def test_vime_semi_fits_and_predicts(pretrained, splits, consistency):
    model = VIMESemi(encoder_from=pretrained, consistency=consistency, max_epochs=4, batch_size=32, progress=False)
    model.fit(splits.X_finetune, splits.y_finetune, splits.X_pretrain)
    h = model.history_
    assert list(h.columns) == ["epoch", "loss", "cross_entropy", "consistency", "val_loss", "val_accuracy"]
    assert (h["consistency"] > 0).all()
    assert np.allclose(h["loss"], h["cross_entropy"] + h["consistency"], rtol=1e-4)
    proba = model.predict_proba(splits.X_test)
    assert proba.shape == (100, len(model.classes_)) and np.allclose(proba.sum(1), 1)
    assert set(model.predict(splits.X_test)) <= set(model.classes_)
    assert model.score(splits.X_test, splits.y_test) > 1.5 / len(model.classes_)  # better than chance
    # the encoder is frozen by default (as in the reference code)
    assert torch.equal(model.model_.encoder.layers[0].weight, pretrained.encoder.layers[0].weight)


@pytest.mark.parametrize("params, match", [
    (dict(p_m=1.2), "p_m=1.2 is out of range"),
    (dict(p_m=-0.5), "p_m=-0.5 is out of range"),
    (dict(alpha=-1.0), "alpha=-1.0 is out of range"),
    (dict(lr=0.0), "lr=0.0 is out of range"),
    (dict(epochs=0), "epochs=0 is out of range"),
    (dict(batch_size=1), "batch_size=1 is out of range"),
    (dict(val_fraction=1.0), "val_fraction=1.0 is out of range"),
    (dict(dropout=1.0), "dropout=1.0 is out of range"),
    (dict(hidden="256"), "must be a sequence"),
    (dict(seed=-1), "seed=-1 is out of range"),
    (dict(device="gpu0"), "not a torch device"),
])
def test_vime_self_bad_hyperparameters(params, match):
    with pytest.raises(OmicsInputError, match=match):
        VIMESelf(**params, progress=False).fit(np.zeros((20, 5)))


def test_too_few_samples_and_bad_X():
    with pytest.raises(OmicsInputError, match="left for training"):
        VIMESelf(progress=False, val_fraction=0.5).fit(np.zeros((2, 5)))
    with pytest.raises(OmicsInputError, match="NaN"):
        VIMESelf(progress=False).fit(np.full((20, 5), np.nan))


@pytest.mark.parametrize("params, match", [
    (dict(K=0), "K=0 is out of range"),
    (dict(K=1), "needs K >= 2"),
    (dict(beta=-1.0), "beta=-1.0 is out of range"),
    (dict(consistency="kl"), "consistency='kl' is unknown"),
    (dict(encoder_from="vime"), "encoder_from must be"),
])
def test_vime_semi_bad_hyperparameters(params, match):
    X, y = np.zeros((20, 5)), np.arange(20) % 2
    with pytest.raises(OmicsInputError, match=match):
        VIMESemi(**params, progress=False).fit(X, y, X)


def test_vime_semi_feature_mismatch(pretrained):
    X, y = np.zeros((20, 5)), np.arange(20) % 2
    with pytest.raises(OmicsInputError, match="X_unlabeled has 4 features"):
        VIMESemi(progress=False).fit(X, y, X[:, :4])
    with pytest.raises(OmicsInputError, match="encoder expects 300 features"):
        VIMESemi(encoder_from=pretrained, progress=False).fit(X, y, X)


def test_head_presets_resolve_to_widths():
    assert head_widths("linear") == () and head_widths(()) == ()
    assert head_widths("dradjat") == DRADJAT_HEADS == (256, 256, 256, 256)
    assert head_widths([64, 32]) == (64, 32)
    with pytest.raises(OmicsInputError, match="head_hidden='deep' is unknown; pass one of 'linear', 'dradjat'"):
        head_widths("deep")
    with pytest.raises(OmicsInputError, match="hidden layer width=0 is out of range"):
        head_widths((8, 0))


@pytest.mark.parametrize("head_hidden, n_linear", [("linear", 1), ((), 1), ((16,), 2), ("dradjat", 5)])
def test_heads_follow_dradjat_architecture(head_hidden, n_linear):
    X = np.random.default_rng(0).normal(size=(40, 7)).astype(np.float32)
    model = VIMESelf(head_hidden=head_hidden, hidden=(12,), epochs=1, batch_size=16, progress=False).fit(X)
    assert model.get_params()["head_hidden"] == head_hidden  # the preset name survives get_params / clone
    for name in ("mask", "feature"):
        layers = list(model.modules_[name].layers)
        linear = [m for m in layers if isinstance(m, nn.Linear)]
        assert len(linear) == n_linear
        assert linear[0].in_features == 12 and linear[-1].out_features == 7
        assert tuple(m.out_features for m in linear[:-1]) == head_widths(head_hidden)
        # hidden blocks are Linear - ReLU only (Dradjat et al.'s decoders): no batch norm, no active dropout
        assert not any(isinstance(m, nn.BatchNorm1d) for m in layers)
        assert all(m.p == 0 for m in layers if isinstance(m, nn.Dropout))
        assert sum(isinstance(m, nn.ReLU) for m in layers) == n_linear - 1


def test_deep_heads_learn_the_pretext_task():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(400, 4))
    X = (np.repeat(factors, 8, axis=1) + 0.1 * rng.normal(size=(400, 32))).astype(np.float32)
    model = VIMESelf(head_hidden="dradjat", hidden=(64, 64), epochs=8, batch_size=64, lr=1e-3,
                     progress=False).fit(X[:300])
    h = model.history_
    assert h["feature_mse"].iloc[-1] < 0.5 * h["feature_mse"].iloc[0]
    check = model.pretext_check(X[300:])
    assert check["feature_mse"] < check["mean_mse"]
    with pytest.raises(OmicsInputError, match="head_hidden='four' is unknown"):
        VIMESelf(head_hidden="four", progress=False).fit(X)


def test_vime_semi_without_validation_runs_every_epoch(splits):
    model = VIMESemi(
        encoder_from=Encoder(splits.X_finetune.shape[1], hidden=(16,)), K=2, max_epochs=3, patience=1,
        batch_size=32, val_fraction=0.0, progress=False)
    model.fit(splits.X_finetune, splits.y_finetune, splits.X_pretrain)
    h = model.history_
    assert h["epoch"].tolist() == [1, 2, 3] and model.best_epoch_ == 3  # patience needs validation data
    assert h[["val_loss", "val_accuracy"]].isna().all().all()


def test_mask_oracle_auc_sees_correlations_and_nothing_else():
    rng = np.random.default_rng(0)
    independent = rng.normal(size=(600, 12))
    # independent genes: a swapped value is just another draw from the same marginal, undetectable
    assert mask_oracle_auc(independent[:400], independent[400:]) == pytest.approx(0.5, abs=0.03)
    factors = rng.normal(size=(600, 3))
    copies = np.repeat(factors, 6, axis=1) + 0.1 * rng.normal(size=(600, 18))
    # near-copies: a swapped entry disagrees with its five siblings (blurred when siblings are swapped too)
    assert mask_oracle_auc(copies[:400], copies[400:]) > 0.75
    assert mask_oracle_auc(copies[:400], copies[400:], seed=1) != mask_oracle_auc(copies[:400], copies[400:])
    assert np.isnan(mask_oracle_auc(copies[:400], copies[400:], p_m=0.0))  # nothing changed: no AUC
    with pytest.raises(OmicsInputError, match="X_eval has 5 features but the model was fitted on 18"):
        mask_oracle_auc(copies, copies[:, :5])
    with pytest.raises(OmicsInputError, match="p_m=2 is out of range"):
        mask_oracle_auc(copies, copies, p_m=2)


def test_mask_oracle_uses_the_same_corruption_as_pretext_check():
    rng = np.random.default_rng(1)
    X = (np.repeat(rng.normal(size=(300, 3)), 4, axis=1) + 0.1 * rng.normal(size=(300, 12))).astype(np.float32)
    model = VIMESelf(hidden=(8,), epochs=1, batch_size=64, progress=False).fit(X[:200])
    check = model.pretext_check(X[200:], seed=3)
    x = torch.as_tensor(X[200:])
    _, changed = vime_corrupt(x, x, 0.3, torch.Generator().manual_seed(3))
    assert check["changed_rate"] == pytest.approx(changed.float().mean().item())
    assert 0.5 < mask_oracle_auc(X[:200], X[200:], 0.3, seed=3) <= 1.0


def test_chapters_pretrain_vime_with_dradjat_decoders_except_at_quick():
    """Issue 10: chapters 3, 5 and 6 use Dradjat et al.'s four-layer heads at the book and paper profiles; quick may not."""
    from omicsnb.models.vime import DRADJAT_HEADS, head_widths
    from omicsnb.runner import discover_notebooks, get_notebook, load_profile

    specs = discover_notebooks()
    for name in ("03_vime", "05_label_fractions", "06_representations"):
        default = get_notebook(name, specs).parameters["vime_head_hidden"].default
        for profile in ("book", "paper"):
            setting = load_profile(profile, specs)[name].get("vime_head_hidden", default)
            assert head_widths(setting) == DRADJAT_HEADS == (256, 256, 256, 256), (name, profile, setting)
        assert head_widths(load_profile("quick", specs)[name].get("vime_head_hidden", default)) == ()
