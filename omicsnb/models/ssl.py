"""What VIME, SCARF and BYOL share: :class:`SSLPretrainer`.

A self-supervised method in this book is an :class:`~omicsnb.models.mlp.Encoder` plus method-specific heads trained on
unlabelled samples with a pretext loss. Everything else -- validation split, seeding, mini-batches, corruption
generator, optimiser, history, progress bar, embeddings -- is identical: the split, the validation loss and the
embeddings live here once, and the training itself is the book's one loop, :func:`~omicsnb.training.fit_loop`. A
method only says which extra modules it needs (:meth:`SSLPretrainer._build`) and what its loss on a batch is
(:meth:`SSLPretrainer._loss`); BYOL also updates its target network after each step (:meth:`SSLPretrainer._after_step`,
the loop's ``after_step`` hook).

After ``fit``, ``model.encoder`` is an ``Encoder`` ready for fine-tuning with
``MLPClassifier(encoder=model.encoder, freeze_encoder=...)`` (the classifier copies it; the pretrained model is left
unchanged). Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from omicsnb.models.mlp import MLP, Encoder
from omicsnb.training import fit_loop, forward_in_batches, torch_seed
from omicsnb.validation import OmicsInputError, as_feature_matrix, check_float, check_int


class SSLPretrainer(TransformerMixin, BaseEstimator):
    """Base class of the self-supervised pretrainers: fit on unlabelled ``X``, then embed with the trained encoder.

    Subclasses set ``components`` (names of the loss terms besides the total) and implement :meth:`_build`,
    :meth:`_loss` and, when needed, :meth:`_check_method_params` and :meth:`_after_step`.

    Parameters (shared by every method)
    -----------------------------------
    hidden, dropout, batch_norm : encoder architecture (default: Dradjat et al.'s
        4 x [Linear 256 - BN - ReLU - Dropout]).
    lr, weight_decay : Adam learning rate and L2 penalty.
    batch_size, epochs : mini-batch size and number of passes over the training samples.
    val_fraction : share of samples held out (at random) to report a validation loss each epoch, in [0, 1).
        The validation corruptions are drawn once, so the curve is not blurred by fresh noise every epoch.
    seed : seeds weight initialisation, dropout, batch order and corruptions; the caller's random state is untouched.
    device : torch device, e.g. ``"cpu"`` or ``"cuda"``.
    progress : show a tqdm bar over epochs with the current losses.

    Attributes
    ----------
    encoder : Encoder
        The pretrained encoder (evaluation mode), also available as ``encoder_``.
    history_ : pandas.DataFrame
        One row per epoch: epoch, loss, one column per loss component, val_loss (NaN without validation), then the
        columns of ``fit``'s ``monitor`` if one was given.
    n_features_in_ : int
        Number of features seen in ``fit``.
    validation_indices_ : ndarray
        Row positions of ``X`` held out for the validation loss.

    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """

    components: tuple[str, ...] = ()

    def __init__(self, hidden: Sequence[int] = (256, 256, 256, 256), dropout: float = 0.1, batch_norm: bool = True,
                 lr: float = 1e-4, weight_decay: float = 0.0, batch_size: int = 256, epochs: int = 100,
                 val_fraction: float = 0.1, seed: int = 0, device: str = "cpu", progress: bool = True):
        self.hidden = hidden
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.progress = progress

    # -- the hooks a method implements ------------------------------------------------------------------------------
    def _check_method_params(self) -> None:
        """Raise :class:`OmicsInputError` on a bad method-specific hyperparameter."""

    def _build(self, n_features: int) -> nn.ModuleDict:
        """The method's modules besides ``self.encoder_`` (heads, target network ...)."""
        raise NotImplementedError

    def _loss(self, x: torch.Tensor, reference: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Pretext loss on batch ``x``: ``{"loss": total, <component>: value, ...}``.

        ``reference`` is the training matrix (for empirical-marginal corruption) and ``generator`` the corruption
        generator (on the model's device).
        """
        raise NotImplementedError

    def _after_step(self) -> None:
        """Called after every optimiser step (BYOL's target update)."""

    # -- fitting -----------------------------------------------------------------------------------------------------
    def fit(self, X, y=None, monitor: Callable[[SSLPretrainer, int], Mapping[str, float]] | None = None,
            ) -> SSLPretrainer:
        """Pretrain on unlabelled ``X`` (samples x features, ndarray or DataFrame; ``y`` is ignored).

        ``X`` can also be a :class:`~omicsnb.data.streaming.StreamingMatrix` (an HDF5 or parquet file read chunk by
        chunk): training then holds only the current chunks, the validation samples (at most ``X.max_val_rows``) and
        a seeded sample of ``X.reference_rows`` training samples for the corruption marginals in memory, and visits
        the samples in ``X``'s order (chunks shuffled, then samples within a chunk). On a file small enough that
        every training sample is a reference row, the weights equal in-memory training on ``X.to_numpy()`` whenever
        the order is the same (``shuffle="global"``, or a single chunk).

        ``monitor(model, epoch)``, if given, is called at the end of every epoch with the networks in evaluation mode
        (it can call :meth:`transform`, or fit a linear probe on ``model.encoder``; wrap direct forward passes in
        ``torch.no_grad()``) and returns a dict of numbers that become extra columns of ``history_`` -- e.g. a collapse
        diagnostic tracked during training. It does not change the training run: the CPU random state is restored
        afterwards.
        """
        device = self._check_params()
        if monitor is not None and not callable(monitor):
            raise OmicsInputError("monitor must be a callable monitor(model, epoch) -> dict of numbers, or None")
        streaming = hasattr(X, "epoch_batches") and hasattr(X, "cache")  # an omicsnb.data.streaming.StreamingMatrix
        features = None if streaming else as_feature_matrix(X)
        n, d = X.shape if streaming else features.shape
        rng = np.random.default_rng(self.seed)
        n_val = int(self.val_fraction * n + 0.5)
        order = rng.permutation(n)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        if len(train_idx) < 2:
            raise OmicsInputError(
                f"only {len(train_idx)} of {n} samples left for training after val_fraction={self.val_fraction}; "
                "pass more samples or a smaller val_fraction"
            )
        batches = None
        if streaming:  # from disk: only the validation samples and a sample of marginals are held in memory
            keep_val = val_idx if len(val_idx) <= X.max_val_rows else \
                np.sort(rng.choice(val_idx, X.max_val_rows, replace=False))
            reference_idx = train_idx if len(train_idx) <= X.reference_rows else \
                np.sort(rng.choice(train_idx, X.reference_rows, replace=False))
            held = X.take(np.concatenate([keep_val, reference_idx]))
            X_val = torch.as_tensor(held[: len(keep_val)], device=device)
            reference = torch.as_tensor(held[len(keep_val):], device=device)
            del held
            cache = X.cache(train_idx)

            def rows(idx: torch.Tensor) -> torch.Tensor:
                return torch.as_tensor(cache.rows(idx.numpy()), device=device)

            def batches(generator: torch.Generator):
                return X.epoch_batches(train_idx, self.batch_size, generator)
        else:
            X_train = reference = torch.as_tensor(features[train_idx], device=device)
            X_val = torch.as_tensor(features[val_idx], device=device)

            def rows(idx: torch.Tensor) -> torch.Tensor:
                return X_train[idx.to(device)]
        self.n_features_in_ = d  # set before training so that a monitor can call transform

        with torch_seed(self.seed):
            self.encoder_ = Encoder(d, self.hidden, self.dropout, self.batch_norm).to(device)
            self.modules_ = self._build(d).to(device)

        def step(idx: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            return self._loss(rows(idx), reference, generator)

        result = fit_loop(
            step, [self.encoder_, self.modules_], len(train_idx), epochs=self.epochs, batch_size=self.batch_size,
            lr=self.lr, weight_decay=self.weight_decay, seed=self.seed,
            validate=lambda: {"val_loss": self._validation_loss(X_val, reference)},
            after_step=self._after_step,
            on_epoch_end=None if monitor is None else lambda epoch: self._monitor(monitor, epoch),
            device=device, desc=type(self).__name__, progress=self.progress, batches=batches,
        )
        history = result.history
        extra = [key for key in history.columns if key not in ("epoch", "loss", *self.components, "val_loss")]
        self.history_ = history[["epoch", "loss", *self.components, "val_loss", *extra]].astype({"epoch": int})
        self.validation_indices_ = val_idx
        return self

    def _monitor(self, monitor, epoch: int) -> dict[str, float]:
        """The monitor's numbers for this epoch; :func:`~omicsnb.training.fit_loop` calls it in evaluation mode with
        the CPU random stream forked, so it cannot change the training run."""
        values = monitor(self, epoch)
        reserved = {"epoch", "loss", *self.components, "val_loss"}
        if not isinstance(values, Mapping) or reserved & set(values):
            raise OmicsInputError(
                f"monitor must return a dict of numbers whose keys are not {sorted(reserved)}; got {values!r}"
            )
        return {str(key): float(value) for key, value in values.items()}

    @torch.no_grad()
    def _validation_loss(self, X_val: torch.Tensor, reference: torch.Tensor) -> float:
        """Mean pretext loss on the held-out samples in evaluation mode, with corruptions fixed across epochs."""
        if len(X_val) < 2:  # a contrastive loss needs at least two samples
            return math.nan
        generator = torch.Generator(device=X_val.device).manual_seed(self.seed + 2)
        total = 0.0
        for start in range(0, len(X_val), self.batch_size):
            batch = X_val[start : start + self.batch_size]
            if len(batch) < 2:
                break
            total += self._loss(batch, reference, generator)["loss"].item() * len(batch)
        return total / (len(X_val) - (len(X_val) % self.batch_size == 1))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # embeddings are float32, whatever X's dtype
        return tags

    # -- using the result --------------------------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        """The pretrained encoder (pass it to ``MLPClassifier(encoder=...)``, which fine-tunes a copy)."""
        check_is_fitted(self, "encoder_")
        return self.encoder_

    def transform(self, X) -> np.ndarray:
        """Encoder embeddings of ``X`` in evaluation mode, shape (samples, encoder.out_dim)."""
        check_is_fitted(self, "encoder_")
        features = as_feature_matrix(X, n_features=self.n_features_in_, fitted="pretrained")
        device = next(self.encoder_.parameters()).device
        return forward_in_batches(self.encoder_, torch.as_tensor(features, device=device)).cpu().numpy()

    # -- checks ------------------------------------------------------------------------------------------------------
    def _check_params(self) -> torch.device:
        """Raise :class:`OmicsInputError` on a bad hyperparameter; return the torch device."""
        Encoder(1, self.hidden, self.dropout, self.batch_norm)  # validates hidden and dropout
        check_float("lr", self.lr, 0.0, low_open=True)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_int("batch_size", self.batch_size, 2)
        check_int("epochs", self.epochs, 1)
        check_float("val_fraction", self.val_fraction, 0.0, 1.0, high_open=True)
        check_int("seed", self.seed, 0)
        self._check_method_params()
        return as_device(self.device)


def as_device(device) -> torch.device:
    """``torch.device(device)`` or a one-line :class:`OmicsInputError`.

    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise OmicsInputError(f"device={device!r} is not a torch device; pass 'cpu' or 'cuda'") from err


def projection_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, batch_norm: bool = True) -> nn.Module:
    """A pretraining head: [Linear - (BN) - ReLU] blocks of widths ``hidden``, then Linear to ``out_dim``, no dropout.

    SCARF's projection head and BYOL's projector/predictor (``hidden=(4096,)``, ``out_dim=256``).
    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    return MLP(in_dim, tuple(hidden), out_dim=out_dim, dropout=0.0, batch_norm=batch_norm)
