"""Tests for omicsnb.training: seeding, mini-batches and the supervised loop."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from omicsnb.training import (
    best_epoch,
    fit_loop,
    forward_in_batches,
    iterate_minibatches,
    set_seed,
    torch_seed,
    train_supervised,
)
from omicsnb.validation import OmicsInputError


def toy_problem(n=120, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


def toy_model(p=6, seed=0):
    with torch_seed(seed):
        return nn.Sequential(nn.Linear(p, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))


def test_set_seed_makes_all_three_generators_repeatable():
    previous = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        set_seed(11)
        first = (random.random(), np.random.rand(), torch.rand(1).item())
        set_seed(11)
        assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def test_torch_seed_is_repeatable_and_restores_the_global_state():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with torch_seed(5):
        a = torch.rand(3)
    assert torch.equal(torch.random.get_rng_state(), before)
    with torch_seed(5):
        b = torch.rand(3)
    assert torch.equal(a, b)


def test_iterate_minibatches_covers_every_index_once():
    batches = list(iterate_minibatches(10, 4, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert torch.cat(batches).tolist() != list(range(10))  # shuffled


def test_iterate_minibatches_options_and_reproducibility():
    again = [torch.cat(list(iterate_minibatches(50, 8, torch.Generator().manual_seed(3)))) for _ in range(2)]
    assert torch.equal(again[0], again[1])
    assert torch.cat(list(iterate_minibatches(5, 2, shuffle=False))).tolist() == [0, 1, 2, 3, 4]
    assert [len(b) for b in iterate_minibatches(10, 4, torch.Generator(), drop_last=True)] == [4, 4]
    assert [len(b) for b in iterate_minibatches(3, 4, torch.Generator(), drop_last=True)] == [3]
    with pytest.raises(OmicsInputError, match="batch_size >= 1"):
        next(iterate_minibatches(10, 0))


def test_forward_in_batches_matches_a_single_forward_in_eval_mode():
    model = toy_model()
    X = torch.randn(37, 6)
    out = forward_in_batches(model, X, batch_size=8)
    assert not model.training
    assert torch.allclose(out, model(X), atol=1e-6)


def test_train_supervised_learns_and_returns_the_loaded_best_state():
    X, y = toy_problem()
    model = toy_model()
    state, history = train_supervised(
        model, X[:90], y[:90], X[90:], y[90:], lr=1e-2, batch_size=16, max_epochs=40, patience=40, progress=False
    )
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "val_accuracy"]
    assert history["epoch"].tolist() == list(range(1, 41))
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    kept = best_epoch(history)
    val_loss = nn.functional.cross_entropy(forward_in_batches(model, torch.as_tensor(X[90:])), torch.as_tensor(y[90:]))
    assert val_loss.item() == pytest.approx(history.loc[kept - 1, "val_loss"], abs=1e-6)
    assert history.loc[kept - 1, "val_accuracy"] > 0.8


def test_train_supervised_is_deterministic_and_seed_sensitive():
    X, y = toy_problem()
    runs = []
    for seed in (0, 0, 1):
        _, history = train_supervised(
            toy_model(), X[:90], y[:90], X[90:], y[90:], batch_size=16, max_epochs=5, patience=5, seed=seed,
            progress=False,
        )
        runs.append(history)
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert not runs[0]["train_loss"].equals(runs[2]["train_loss"])


def test_train_supervised_skips_frozen_parameters():
    X, y = toy_problem()
    model = toy_model()
    model[0].requires_grad_(False)
    frozen = model[0].weight.clone()
    head = model[3].weight.clone()
    train_supervised(model, X, y, lr=1e-2, max_epochs=3, progress=False)
    assert torch.equal(model[0].weight, frozen)
    assert not torch.equal(model[3].weight, head)


def test_train_supervised_without_validation_runs_every_epoch():
    X, y = toy_problem()
    _, history = train_supervised(toy_model(), X, y, max_epochs=4, patience=1, progress=False)
    assert len(history) == 4 and history["val_loss"].isna().all()
    assert best_epoch(history) == 4


def test_best_epoch_is_the_first_minimum():
    history = pd.DataFrame(
        {"epoch": [1, 2, 3, 4], "train_loss": 1.0, "val_loss": [0.9, 0.5, 0.5, 0.7], "val_accuracy": 0.5}
    )
    assert best_epoch(history) == 2


def test_train_supervised_rejects_divergence_and_bad_shapes():
    X, y = toy_problem()
    model = toy_model()
    with torch.no_grad():
        model[0].weight.fill_(float("nan"))
    with pytest.raises(OmicsInputError, match="training diverged"):
        train_supervised(model, X, y, max_epochs=2, progress=False)
    with pytest.raises(OmicsInputError, match="equal non-zero length"):
        train_supervised(toy_model(), X, y[:-1], max_epochs=1, progress=False)
    with pytest.raises(OmicsInputError, match="patience=0 is out of range"):
        train_supervised(toy_model(), X, y, patience=0, progress=False)
    frozen = toy_model().requires_grad_(False)
    with pytest.raises(OmicsInputError, match="no trainable parameters"):
        train_supervised(frozen, X, y, max_epochs=1, progress=False)


def test_train_supervised_regression_with_mse():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = (X[:, 0] - 0.5 * X[:, 1]).astype(np.float32)
    with torch_seed(0):
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1))
    _, history = train_supervised(model, X[:150], y[:150], X[150:], y[150:], loss="mse", lr=1e-2, batch_size=32,
                                  max_epochs=60, patience=60, progress=False)
    assert history["val_accuracy"].isna().all()
    kept = best_epoch(history)
    pred = forward_in_batches(model, torch.as_tensor(X[150:])).squeeze(1).numpy()
    assert np.mean((pred - y[150:]) ** 2) == pytest.approx(history.loc[kept - 1, "val_loss"], rel=1e-5)
    assert history["val_loss"].min() < 0.05 * y.var()
    with pytest.raises(OmicsInputError, match="loss='hinge' is unknown"):
        train_supervised(model, X, y, loss="hinge", progress=False)


# ---------------------------------------------------------------------------------------------------------------------
# fit_loop, the one training loop
# ---------------------------------------------------------------------------------------------------------------------
def supervised_step(model, X, y, noise_scale=0.0):
    """A step on the toy problem; with ``noise_scale`` the inputs are jittered from the loop's generator."""
    X, y = torch.as_tensor(X), torch.as_tensor(y)

    def step(idx, generator):
        x = X[idx]
        if noise_scale:
            x = x + noise_scale * torch.randn(x.shape, generator=generator)
        return {"loss": nn.functional.cross_entropy(model(x), y[idx])}

    return step


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_fit_loop_early_stopping_restores_the_best_epochs_weights():
    X, y = toy_problem()
    model = toy_model()
    scripted = iter([3.0, 1.0, 2.0, 1.5, 4.0, 0.1])  # best at epoch 2, then three epochs without improvement
    snapshots = {}
    result = fit_loop(
        supervised_step(model, X, y), [model], len(X), epochs=6, batch_size=16, lr=1e-2,
        validate=lambda: {"val_loss": next(scripted)},
        on_epoch_end=lambda epoch: snapshots.setdefault(epoch, weights(model)) and {},
        patience=3, progress=False,
    )
    assert result.stopped_early and result.best_epoch == 2
    assert result.history["epoch"].tolist() == [1, 2, 3, 4, 5]  # epoch 6 never ran
    assert result.history["val_loss"].tolist() == [3.0, 1.0, 2.0, 1.5, 4.0]
    assert not torch.equal(snapshots[2]["0.weight"], snapshots[5]["0.weight"])  # training went on ...
    for key, value in model.state_dict().items():  # ... but the weights of epoch 2 were put back
        assert torch.equal(value, snapshots[2][key]), key
    assert not model.training


def test_fit_loop_without_patience_keeps_the_last_weights():
    X, y = toy_problem()
    model = toy_model()
    snapshots = {}
    result = fit_loop(supervised_step(model, X, y), [model], len(X), epochs=3, batch_size=32,
                      validate=lambda: {"val_loss": 1.0}, on_epoch_end=lambda e: snapshots.update({e: weights(model)}) or {},
                      progress=False)
    assert result.best_epoch == 3 and not result.stopped_early
    assert all(torch.equal(v, snapshots[3][k]) for k, v in model.state_dict().items())


def test_fit_loop_after_step_runs_once_per_step_after_the_update_without_gradients():
    X, y = toy_problem(n=9)
    model = toy_model()
    calls = []

    def clip():  # a projection onto constraints, as a proximal operator would be
        calls.append(torch.is_grad_enabled())
        model[0].weight.clamp_(-0.05, 0.05)

    fit_loop(supervised_step(model, X, y), [model], 9, epochs=3, batch_size=4, lr=0.5, after_step=clip,
             progress=False)
    # 9 samples in batches of 4: the lone ninth sample is dropped, so 2 steps per epoch
    assert calls == [False] * 6
    assert model[0].weight.abs().max() <= 0.05  # the last optimiser step was followed by the projection
    calls.clear()
    fit_loop(supervised_step(model, X, y), [model], 9, epochs=2, batch_size=3, after_step=clip, progress=False)
    assert len(calls) == 2 * 3


def test_fit_loop_on_epoch_end_cannot_change_the_training_stream():
    X, y = toy_problem()

    def run(monitor):
        model = toy_model()  # has dropout: training draws from torch's global generator
        result = fit_loop(supervised_step(model, X, y, noise_scale=0.1), [model], len(X), epochs=3, batch_size=16,
                          seed=4, on_epoch_end=monitor, progress=False)
        return result.history, weights(model)

    def greedy_monitor(epoch):
        torch.rand(1000)  # consumes the global stream ...
        torch.manual_seed(epoch)  # ... and even reseeds it
        return {"probe": float(epoch)}

    plain, plain_w = run(None)
    watched, watched_w = run(greedy_monitor)
    assert watched["probe"].tolist() == [1.0, 2.0, 3.0]
    pd.testing.assert_frame_equal(plain, watched.drop(columns="probe"))
    assert all(torch.equal(plain_w[k], watched_w[k]) for k in plain_w)


def test_fit_loop_same_seed_same_history_and_other_seed_differs():
    X, y = toy_problem()

    def run(seed):
        model = toy_model()
        return fit_loop(supervised_step(model, X, y, noise_scale=0.5), [model], len(X), epochs=3, batch_size=16,
                        seed=seed, validate=lambda: {"val_loss": 0.0}, progress=False).history

    first, again, other = run(0), run(0), run(1)
    pd.testing.assert_frame_equal(first, again)
    assert not first["loss"].equals(other["loss"])


def test_fit_loop_history_averages_each_term_over_samples():
    model = nn.Linear(1, 1)
    n = 10

    def step(idx, generator):
        position = idx.float().mean()
        return {"loss": model.weight.sum() * 0 + position, "size": torch.tensor(float(len(idx)))}

    history = fit_loop(step, [model], n, epochs=2, batch_size=4, progress=False).history
    assert list(history.columns) == ["epoch", "loss", "size"]
    # every position 0..9 is seen once per epoch, so the sample-weighted mean of batch means is the mean position
    assert history["loss"].tolist() == pytest.approx([4.5, 4.5])
    assert history["size"].tolist() == pytest.approx([(4 * 4 + 4 * 4 + 2 * 2) / 10] * 2)


def test_fit_loop_leaves_a_frozen_module_unchanged():
    X, y = toy_problem()
    with torch_seed(1):
        frozen = nn.Sequential(nn.Linear(6, 6), nn.BatchNorm1d(6), nn.Dropout(0.5)).requires_grad_(False)
    head = toy_model()
    before_frozen, before_head = weights(frozen), weights(head)
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    modes = []

    def step(idx, generator):
        modes.append((frozen.training, head.training))
        return {"loss": nn.functional.cross_entropy(head(frozen(X_t[idx])), y_t[idx])}

    fit_loop(step, [frozen, head], len(X), epochs=2, batch_size=16, lr=1e-2, progress=False)
    assert set(modes) == {(False, True)}  # the frozen module stays in evaluation mode: no dropout, no BN updates
    for key, value in frozen.state_dict().items():  # weights and batch-norm running statistics
        assert torch.equal(value, before_frozen[key]), key
    assert not torch.equal(head[0].weight, before_head["0.weight"])


def test_fit_loop_custom_optimizer_is_used():
    X, y = toy_problem()
    model = toy_model()
    before = weights(model)
    frozen_by_lr = torch.optim.SGD(model.parameters(), lr=0.0)
    fit_loop(supervised_step(model, X, y), [model], len(X), epochs=1, batch_size=16, optimizer=frozen_by_lr,
             progress=False)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items() if "weight" in k or "bias" in k)


def test_fit_loop_divergence_and_bad_settings_give_one_line_errors():
    model = nn.Linear(2, 1)

    def step(idx, generator):
        return {"loss": model.weight.sum() * float("nan")}

    with pytest.raises(OmicsInputError, match=r"^pretraining diverged \(loss nan at epoch 1\); lower lr") as err:
        fit_loop(step, [model], 8, epochs=3, batch_size=4, desc="pretraining", progress=False)
    assert "\n" not in str(err.value)
    with pytest.raises(OmicsInputError, match="patience needs a validate callable"):
        fit_loop(step, [model], 8, epochs=3, batch_size=4, patience=2, progress=False)
    with pytest.raises(OmicsInputError, match="nothing to train"):
        fit_loop(step, [nn.Linear(2, 1).requires_grad_(False)], 8, epochs=1, batch_size=4, progress=False)
    with pytest.raises(OmicsInputError, match="epochs=0 is out of range"):
        fit_loop(step, [model], 8, epochs=0, batch_size=4, progress=False)
    with pytest.raises(OmicsInputError, match="lr=0 is out of range"):
        fit_loop(step, [model], 8, epochs=1, batch_size=4, lr=0, progress=False)
