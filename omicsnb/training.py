"""Seeding, mini-batches and :func:`fit_loop`, the one training loop every model of the book supplies a loss to.

Chapter 2 trains its MLP baseline with :func:`train_supervised`, a step (cross-entropy on a batch) plus a validation
pass handed to :func:`fit_loop`; the self-supervised pretrainers, VIME's semi-supervised stage and the imputation VAE
hand it their own losses. Introduced in chapter 2, *Supervised baseline*.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm  # text bars: work in terminals and notebooks without ipywidgets

from omicsnb.validation import OmicsInputError, check_float, check_int

HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "val_accuracy"]
LOSSES = ("cross_entropy", "mse")


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's legacy global generator and torch, and ask torch for deterministic kernels.

    Use it once at the top of a notebook for code you do not control. The package itself never relies on global
    state: its functions take a ``seed`` and use their own generators (see :func:`torch_seed`).
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` costs nothing on CPU and only warns (rather than
    failing) if a kernel without a deterministic version is used. Introduced in chapter 2, *Supervised baseline*.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


@contextlib.contextmanager
def torch_seed(seed: int) -> Iterator[None]:
    """Run a block with torch's global generators seeded to ``seed``, then restore their previous state.

    Weight initialisation and dropout draw from torch's global generator; wrapping them in this context makes them
    reproducible without changing the random stream the caller sees afterwards. Introduced in chapter 2,
    *Supervised baseline*.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def iterate_minibatches(
    n: int, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = True, drop_last: bool = False
) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n)`` in batches of ``batch_size`` (the last one may be smaller).

    With ``shuffle=True`` the order is a fresh permutation drawn from ``generator`` on every call, so a seeded
    ``torch.Generator`` gives the same batches run after run. ``drop_last`` skips a final incomplete batch.
    Index the data with the yielded tensor, ``X[idx]``: one gather per batch, no per-sample Python loop.
    Introduced in chapter 2, *Supervised baseline*.
    """
    if n < 1 or batch_size < 1:
        raise OmicsInputError(f"need n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}; pass positive ones")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


@torch.no_grad()
def forward_in_batches(module: nn.Module, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """``module(X)`` in evaluation mode (dropout off, batch-norm running statistics), in chunks, without gradients.

    Introduced in chapter 2, *Supervised baseline*.
    """
    module.eval()
    return torch.cat([module(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])


def train_supervised(
    model: nn.Module,
    X_train,
    y_train,
    X_val=None,
    y_val=None,
    *,
    loss: str = "cross_entropy",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 64,
    max_epochs: int = 200,
    patience: int = 20,
    seed: int = 0,
    progress: bool = True,
) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """Train ``model`` with Adam on cross-entropy (regression: squared error), early-stopping on validation loss.

    A thin wrapper around :func:`fit_loop`: the step is the loss of one mini-batch, and after each epoch the validation
    pass computes the loss and accuracy of the held-out samples in evaluation mode. Training stops once the validation
    loss has not improved for ``patience`` epochs, and the weights of the best epoch are loaded back into ``model``.
    Without a validation set (``X_val=None``) it runs all ``max_epochs`` and keeps the last weights.
    Only parameters with ``requires_grad=True`` are optimised, so a frozen encoder stays fixed.
    A final batch of a single sample is skipped each epoch (batch norm cannot normalise one sample); the shuffling
    changes every epoch, so no sample is left out systematically.
    Introduced in chapter 2, *Supervised baseline*.

    Parameters
    ----------
    model
        Module mapping a float32 batch ``(batch, features)`` to logits ``(batch, classes)`` (``loss="mse"``: to one
        prediction per sample, ``(batch, 1)``).
    X_train, y_train, X_val, y_val
        Features (float array or tensor) and integer class codes ``0..k-1`` (``loss="mse"``: float targets).
    loss
        ``"cross_entropy"`` (classification, the default) or ``"mse"`` (regression, added in chapter *VIME*; the
        validation accuracy is then NaN).
    lr, weight_decay
        Adam learning rate and L2 penalty.
    batch_size, max_epochs, patience
        Mini-batch size, epoch cap and early-stopping patience (epochs without a lower validation loss).
    seed
        Seeds the batch order and dropout (the caller's global torch random state is left untouched).
    progress
        Show a tqdm bar over epochs with the current losses.

    Returns
    -------
    best_state : dict
        A copy of ``model.state_dict()`` at the best epoch (already loaded into ``model``).
    history : pandas.DataFrame
        One row per epoch: epoch (1-based), train_loss, val_loss, val_accuracy (NaN without validation data).
    """
    check_training_params(lr, weight_decay, batch_size, max_epochs, patience, seed)
    if loss not in LOSSES:
        raise OmicsInputError(f"loss={loss!r} is unknown; pass one of: {', '.join(LOSSES)}")
    criterion, classify = (F.cross_entropy, True) if loss == "cross_entropy" else (_squared_error, False)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise OmicsInputError("model has no trainable parameters; unfreeze at least the classification head")
    device = params[0].device
    target_dtype = torch.long if classify else torch.float32
    X_train, y_train = _as_tensors(X_train, y_train, device, target_dtype)
    has_val = X_val is not None and len(X_val) > 0
    if has_val:
        X_val, y_val = _as_tensors(X_val, y_val, device, target_dtype)

    def step(idx: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        idx = idx.to(device)
        return {"loss": criterion(model(X_train[idx]), y_train[idx])}

    def validate() -> dict[str, float]:
        outputs = forward_in_batches(model, X_val)
        accuracy = (outputs.argmax(1) == y_val).float().mean().item() if classify else math.nan
        return {"val_loss": criterion(outputs, y_val).item(), "val_accuracy": accuracy}

    result = fit_loop(
        step, [model], len(X_train), epochs=max_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        seed=seed, validate=validate if has_val else None, patience=patience if has_val else None, device=device,
        progress=progress,
    )
    history = result.history.rename(columns={"loss": "train_loss"})
    history = history.reindex(columns=HISTORY_COLUMNS).astype({"epoch": int})
    return _copy_state(model), history


def check_training_params(lr, weight_decay, batch_size, max_epochs, patience, seed) -> None:
    """Raise :class:`~omicsnb.validation.OmicsInputError` on an impossible optimisation setting.

    Introduced in chapter 2, *Supervised baseline*.
    """
    check_float("lr", lr, 0.0, low_open=True)
    check_float("weight_decay", weight_decay, 0.0)
    check_int("batch_size", batch_size, 1)
    check_int("max_epochs", max_epochs, 1)
    check_int("patience", patience, 1)
    check_int("seed", seed, 0)


def best_epoch(history: pd.DataFrame) -> int:
    """The epoch whose weights :func:`train_supervised` kept: lowest validation loss (first one on ties), else the last.

    Introduced in chapter 2, *Supervised baseline*.
    """
    val = history["val_loss"]
    return int(history["epoch"].iloc[-1] if val.isna().all() else history.loc[val.idxmin(), "epoch"])


def _squared_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error between one-column predictions ``(batch, 1)`` and targets ``(batch,)``."""
    return F.mse_loss(outputs.reshape(targets.shape), targets)


def _as_tensors(X, y, device, target_dtype=torch.long) -> tuple[torch.Tensor, torch.Tensor]:
    """Features as float32 and targets as ``target_dtype`` tensors on ``device``, with matching lengths."""
    X = torch.as_tensor(X, dtype=torch.float32, device=device)
    y = torch.as_tensor(y, dtype=target_dtype, device=device)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(X) == 0:
        raise OmicsInputError(
            f"need X (samples x features) and y (samples,) of equal non-zero length, got {tuple(X.shape)} and "
            f"{tuple(y.shape)}; pass matching arrays"
        )
    return X, y


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the model's parameters and buffers."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------------------------------------------------
# The one training loop
# ---------------------------------------------------------------------------------------------------------------------
Step = Callable[[torch.Tensor, torch.Generator], Mapping[str, torch.Tensor]]


@dataclass
class LoopResult:
    """What :func:`fit_loop` returns.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per epoch: ``epoch`` (1-based), ``loss`` (mean training loss), one column per extra loss term the step
        returned, then the columns of ``validate`` (``val_loss`` ...) and of ``on_epoch_end``.
    best_epoch : int
        The epoch whose weights the modules hold at the end (the last one without early stopping).
    stopped_early : bool
        Whether early stopping ended training before ``epochs``.
    """

    history: pd.DataFrame
    best_epoch: int
    stopped_early: bool


def fit_loop(
    step: Step,
    modules: Sequence[nn.Module],
    n_train: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    validate: Callable[[], Mapping[str, float]] | None = None,
    patience: int | None = None,
    after_step: Callable[[], None] | None = None,
    on_epoch_end: Callable[[int], Mapping[str, float]] | None = None,
    device: torch.device | str = "cpu",
    desc: str = "training",
    progress: bool = True,
    batches: Callable[[torch.Generator], Iterable[torch.Tensor]] | None = None,
) -> LoopResult:
    """Train ``modules`` by mini-batch gradient descent on the loss that ``step`` returns: the book's only loop.

    Every model in the book -- the supervised MLP, the self-supervised pretrainers, VIME's semi-supervised stage, the
    imputation VAE and the later chapters' models -- supplies a *step*, not a loop. A step receives the positions of
    one mini-batch (a 1-D ``torch.long`` tensor into ``range(n_train)``) and a seeded ``torch.Generator`` on
    ``device`` for its corruptions and noise, and returns a dict of scalar tensors with the total under ``"loss"``
    and any named terms beside it (e.g. ``{"loss": l, "mask": l_m, "feature": l_f}``). The loop owns everything
    else: seeding, shuffling, the optimiser, train/eval modes, progress, divergence checks, history, validation and
    early stopping.

    Parameters
    ----------
    step
        ``step(batch_index, generator) -> {"loss": tensor, ...}``; called in training mode.
    modules
        The networks the step uses. They are switched to ``train()`` for the steps and to ``eval()`` for
        ``validate`` and ``on_epoch_end``; early stopping restores their state at the best epoch. A module whose
        parameters are all frozen (``requires_grad=False``) stays in ``eval()`` throughout, so its dropout is off
        and its batch-norm statistics do not move.
    n_train
        Number of training samples the batch positions index.
    epochs, batch_size
        Passes over the training samples, and samples per step. A last batch of one sample is dropped (batch norm
        cannot normalise it); the order is reshuffled every epoch, so no sample is left out systematically.
    lr, weight_decay
        Adam's learning rate and L2 penalty, used when ``optimizer`` is None. Adam then optimises every parameter of
        ``modules`` with ``requires_grad=True``.
    seed
        Seeds the batch order (CPU generator ``seed``), the step's generator (``seed + 1``) and torch's global
        generator inside the loop (dropout); the caller's random state is restored afterwards.
    optimizer
        Any torch optimiser over the modules' parameters, for a model that needs its own (for example separate
        parameter groups).
    validate
        Called once per epoch in evaluation mode under ``torch.no_grad()``; returns a dict of numbers that become
        history columns. Early stopping reads its ``"val_loss"``.
    patience
        Stop once ``val_loss`` has not improved for this many epochs and restore the best epoch's weights. None: run
        every epoch and keep the last weights.
    after_step
        Called after every optimiser step, with gradients off: an EMA update of a target network, a proximal
        operator, a projection onto constraints.
    on_epoch_end
        ``on_epoch_end(epoch) -> dict`` called after validation in evaluation mode, with torch's global random
        stream (CPU, and the CUDA device trained on) forked so that it cannot change training; its numbers become
        history columns (a monitor).
    device
        Where the step's generator lives.
    desc, progress
        Label and switch of the tqdm bar over epochs.
    batches
        ``batches(generator) -> iterable of index tensors``, called once per epoch with the loop's seeded batch-order
        generator, for an order other than a fresh permutation of ``range(n_train)``: a streaming source reads its
        file chunk by chunk (:mod:`omicsnb.data.streaming`). None (default): :func:`iterate_minibatches` with the
        one-sample last batch dropped.

    Returns
    -------
    LoopResult
        History, best epoch, and whether training stopped early.
    """
    check_int("n_train", n_train, 1)
    check_int("epochs", epochs, 1)
    check_int("batch_size", batch_size, 1)
    check_int("seed", seed, 0)
    if patience is not None:
        check_int("patience", patience, 1)
        if validate is None:
            raise OmicsInputError("patience needs a validate callable returning 'val_loss'; pass validate= or patience=None")
    modules = list(modules)
    if optimizer is None:
        check_float("lr", lr, 0.0, low_open=True)
        check_float("weight_decay", weight_decay, 0.0)
        params = [p for m in modules for p in m.parameters() if p.requires_grad]
        if not params:
            raise OmicsInputError("nothing to train: every parameter is frozen; unfreeze at least one layer")
        fused = params[0].device.type in ("cpu", "cuda")  # the fused kernel is ~2x faster on CPU for small networks
        optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused)
    device = torch.device(device)
    if batches is not None and not callable(batches):
        raise OmicsInputError("batches must be a callable batches(generator) -> index tensors, or None")
    batch_order = torch.Generator().manual_seed(seed)
    noise = torch.Generator(device=device).manual_seed(seed + 1)
    drop_last = n_train > 1 and n_train % batch_size == 1

    # a module with parameters none of which is trained (a frozen pretrained encoder) stays in evaluation mode, so
    # that its dropout is off and its batch-norm statistics do not move: it is used exactly as it was given
    frozen = [any(True for _ in m.parameters()) and not any(p.requires_grad for p in m.parameters()) for m in modules]
    rng_devices = [device.index or 0] if device.type == "cuda" else []

    def set_mode(training: bool) -> None:
        for module, fixed in zip(modules, frozen):
            module.train(training and not fixed)

    rows: list[dict[str, float]] = []
    best_loss, best_state, best_at, waited, stopped = math.inf, None, 0, 0, False
    bar = tqdm(total=epochs, desc=desc, unit="epoch", disable=not progress, leave=False)
    with bar, torch_seed(seed):
        for epoch in range(1, epochs + 1):
            set_mode(True)
            sums: dict[str, float] = {}
            seen = 0
            order = (iterate_minibatches(n_train, batch_size, batch_order, drop_last=drop_last) if batches is None
                     else batches(batch_order))
            for idx in order:
                terms = step(idx, noise)
                optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                optimizer.step()
                if after_step is not None:
                    with torch.no_grad():
                        after_step()
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(idx)
                seen += len(idx)
            if seen == 0:
                raise OmicsInputError(f"{desc}: the batches of epoch {epoch} were empty; pass batches that yield indices")
            row = {"epoch": epoch, **{key: value / seen for key, value in sums.items()}}
            if not math.isfinite(row["loss"]):
                raise OmicsInputError(
                    f"{desc} diverged (loss {row['loss']} at epoch {epoch}); lower lr or standardise the inputs"
                )
            set_mode(False)
            if validate is not None:
                with torch.no_grad():
                    row.update({str(k): float(v) for k, v in validate().items()})
            if on_epoch_end is not None:
                with torch.random.fork_rng(devices=rng_devices):
                    row.update({str(k): float(v) for k, v in on_epoch_end(epoch).items()})
            rows.append(row)
            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k in ("loss", "val_loss")}, refresh=False)
            bar.update()
            if patience is None:
                continue
            val_loss = row.get("val_loss", math.nan)
            if val_loss < best_loss:
                best_loss, best_at, waited = val_loss, epoch, 0
                best_state = [_copy_state(m) for m in modules]
            else:
                waited += 1
                if waited >= patience:
                    stopped = True
                    break

    if best_state is not None:
        for module, state in zip(modules, best_state):
            module.load_state_dict(state)
    else:
        best_at = len(rows)
    set_mode(False)
    return LoopResult(pd.DataFrame(rows), best_at, stopped)
