"""Multilayer perceptrons: the encoder every chapter pretrains, and the classifier every chapter fine-tunes.

- :class:`MLP` -- blocks of [Linear - (BatchNorm) - activation - Dropout], with an optional output layer;
- :class:`Encoder` -- an :class:`MLP` without an output layer (Dradjat et al.'s 4 x [Linear 256 - BN - ReLU - Dropout]);
- :class:`EncoderClassifier` -- encoder + linear head, optionally with the encoder frozen;
- :class:`MLPClassifier` -- the sklearn-style estimator wrapping all of it, with early stopping;
- :class:`MLPRegressor` -- the same network and training with one output and squared error (chapter *VIME*).

Introduced in chapter 2, *Supervised baseline*.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted
from torch import nn

from omicsnb.training import best_epoch, check_training_params, forward_in_batches, torch_seed, train_supervised
from omicsnb.validation import OmicsInputError, as_feature_matrix, as_label_vector, check_float, check_int

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh}


class MLP(nn.Module):
    """A multilayer perceptron: ``len(hidden)`` blocks of [Linear - (BatchNorm) - activation - Dropout].

    With ``out_dim`` a final Linear layer (no activation) maps to ``out_dim`` outputs, e.g. class logits; without it the
    network is an encoder whose output width is ``.out_dim == hidden[-1]``. Introduced in chapter 2,
    *Supervised baseline*.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int] = (256, 256), out_dim: int | None = None,
                 dropout: float = 0.1, batch_norm: bool = False, activation: str = "relu"):
        super().__init__()
        _check_architecture(in_dim, hidden, out_dim, dropout, activation)
        layers, width = [], in_dim
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers += [ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = h
        if out_dim is not None:
            layers.append(nn.Linear(width, out_dim))
            width = out_dim
        self.layers = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Encoder(MLP):
    """An :class:`MLP` without an output layer; defaults follow Dradjat et al. (4 x [Linear 256 - BN - ReLU - Dropout]).

    Introduced in chapter 2, *Supervised baseline*; pretrained in the self-supervised chapters.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int] = (256, 256, 256, 256), dropout: float = 0.1,
                 batch_norm: bool = True, activation: str = "relu"):
        super().__init__(in_dim, hidden, None, dropout, batch_norm, activation)


class EncoderClassifier(nn.Module):
    """An encoder followed by a linear head producing class logits (``n_classes=1``: one output, for regression).

    With ``freeze_encoder=True`` the encoder's parameters get ``requires_grad=False`` and the encoder stays in
    evaluation mode even while the head trains, so dropout is off and batch-norm statistics do not move: the
    representation is used exactly as pretrained (a "linear probe"). Introduced in chapter 2, *Supervised baseline*.
    """

    def __init__(self, encoder: nn.Module, n_classes: int, freeze_encoder: bool = False):
        super().__init__()
        self.encoder, self.freeze_encoder = encoder, freeze_encoder
        self.head = nn.Linear(encoder.out_dim, n_classes)
        if freeze_encoder:
            self.encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> EncoderClassifier:
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class _NetworkEstimator(TransformerMixin, BaseEstimator):
    """What :class:`MLPClassifier` and :class:`MLPRegressor` share: hyperparameters, the network, the training call,
    embeddings and input checks. Subclasses set ``_loss`` and write ``fit`` (targets, validation split) and ``predict``.
    """

    _loss = "cross_entropy"

    def __init__(self, hidden=(256, 128), dropout=0.3, batch_norm=False, lr=1e-3, weight_decay=0.0, batch_size=64,
                 max_epochs=200, patience=20, val_fraction=0.15, encoder=None, freeze_encoder=False, seed=0,
                 device="cpu", progress=True):
        self.hidden = hidden
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.encoder = encoder
        self.freeze_encoder = freeze_encoder
        self.seed = seed
        self.device = device
        self.progress = progress

    def _fit_network(self, X, features: np.ndarray, targets: np.ndarray, n_outputs: int, train_idx: np.ndarray,
                     val_idx: np.ndarray, device: torch.device) -> None:
        """Build the network (``n_outputs`` outputs), train it on ``train_idx`` with early stopping on ``val_idx``."""
        with torch_seed(self.seed):
            module = self._build_module(features.shape[1], n_outputs).to(device)
        trained, inputs = module, features
        if self.freeze_encoder:
            # A frozen encoder (evaluation mode, no gradients) is a fixed function, so embedding every sample once and
            # training the head on the embeddings gives the same result as passing each batch through it, far faster.
            trained = module.head
            inputs = forward_in_batches(module.encoder, torch.as_tensor(features, device=device)).cpu().numpy()
        _, history = train_supervised(
            trained, inputs[train_idx], targets[train_idx], inputs[val_idx], targets[val_idx], loss=self._loss,
            lr=self.lr, weight_decay=self.weight_decay, batch_size=self.batch_size, max_epochs=self.max_epochs,
            patience=self.patience, seed=self.seed, progress=self.progress,
        )
        module.eval()
        self.n_features_in_ = features.shape[1]
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.model_ = module
        self.history_ = history
        self.n_epochs_ = len(history)
        self.best_epoch_ = best_epoch(history)
        self.validation_indices_ = val_idx

    def _build_module(self, n_features: int, n_outputs: int) -> EncoderClassifier:
        """A fresh network: a copy of the given encoder (or a new MLP encoder) plus a linear head."""
        if self.encoder is not None:
            encoder = copy.deepcopy(self.encoder)
        else:
            encoder = MLP(n_features, self.hidden, dropout=self.dropout, batch_norm=self.batch_norm)
        return EncoderClassifier(encoder, n_outputs, freeze_encoder=self.freeze_encoder)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # the network computes in float32, whatever X's dtype
        return tags

    def transform(self, X) -> np.ndarray:
        """Encoder embedding (output of the last hidden block), shape (samples, encoder.out_dim)."""
        features = self._features(X)
        return forward_in_batches(self.model_.encoder, features).cpu().numpy()

    # -- checks -------------------------------------------------------------------------------------------------------
    def _features(self, X) -> torch.Tensor:
        """Validate prediction-time features against what ``fit`` saw; return a tensor on the model's device."""
        check_is_fitted(self, "model_")
        features = as_feature_matrix(X, n_features=self.n_features_in_)
        names = getattr(self, "feature_names_in_", None)
        if names is not None and isinstance(X, pd.DataFrame) and list(X.columns) != list(names):
            raise OmicsInputError(
                "X columns differ from those seen in fit (names or order); reorder with X[model.feature_names_in_]"
            )
        return torch.as_tensor(features, device=next(self.model_.parameters()).device)

    def _check_params(self) -> torch.device:
        """Raise :class:`OmicsInputError` on a bad hyperparameter; return the torch device."""
        check_training_params(self.lr, self.weight_decay, self.batch_size, self.max_epochs, self.patience, self.seed)
        check_float("val_fraction", self.val_fraction, 0.0, 1.0, high_open=True)
        if self.encoder is None:
            _check_architecture(1, self.hidden, None, self.dropout, "relu")
        elif not isinstance(self.encoder, nn.Module) or not isinstance(getattr(self.encoder, "out_dim", None), int):
            raise OmicsInputError("encoder must be a torch nn.Module with an integer .out_dim; e.g. pass an Encoder")
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError) as err:
            raise OmicsInputError(f"device={self.device!r} is not a torch device; pass 'cpu' or 'cuda'") from err

    def _check_encoder_input(self, n_features: int) -> None:
        in_dim = getattr(self.encoder, "in_dim", None)
        if in_dim is not None and in_dim != n_features:
            raise OmicsInputError(
                f"encoder expects {in_dim} input features but X has {n_features}; pass X with the encoder's features"
            )


class MLPClassifier(ClassifierMixin, _NetworkEstimator):
    """Neural-network classifier with an sklearn interface: an encoder plus a linear head, trained with early stopping.

    Without ``encoder`` the network is ``MLP(n_features, hidden, dropout, batch_norm)`` followed by a linear head
    (``hidden=()`` gives multinomial logistic regression). With a pretrained ``encoder`` (any ``nn.Module`` with an
    ``.out_dim`` attribute) the same head is put on a *copy* of it -- the fine-tuning used by every self-supervised
    chapter -- and ``freeze_encoder=True`` trains the head only.

    ``fit`` holds out a stratified ``val_fraction`` of the training samples (per class, rounded; at most
    ``n_c - 1`` of a class of ``n_c`` samples, so classes with a single sample stay entirely in training), trains
    with Adam on cross-entropy, stops after ``patience`` epochs without a lower validation loss and restores the best
    weights. ``val_fraction=0`` trains for exactly ``max_epochs`` epochs. Introduced in chapter 2,
    *Supervised baseline*.

    Attributes
    ----------
    classes_ : ndarray
        Class labels, sorted (column order of :meth:`predict_proba`).
    model_ : EncoderClassifier
        The trained network (in evaluation mode); ``model_.encoder`` gives embeddings, see :meth:`transform`.
    history_ : pandas.DataFrame
        Per epoch: epoch, train_loss, val_loss, val_accuracy.
    n_epochs_, best_epoch_ : int
        Epochs run, and the epoch whose weights were kept.
    validation_indices_ : ndarray
        Row positions of ``X`` held out for early stopping.
    n_features_in_ : int
        Number of features seen in ``fit`` (``feature_names_in_`` too when ``X`` was a DataFrame).
    """

    # -- fitting ------------------------------------------------------------------------------------------------------
    def fit(self, X, y) -> MLPClassifier:
        """Train on ``X`` (samples x features, ndarray or DataFrame) and labels ``y`` (any hashable values)."""
        device = self._check_params()
        features = as_feature_matrix(X)
        if y is None:
            raise OmicsInputError("MLPClassifier requires y to be passed, but the target y is None; pass class labels")
        labels = as_label_vector(y, len(features))
        if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
            raise OmicsInputError("y looks continuous (non-integer floats); pass class labels, not a numeric outcome")
        encoder = LabelEncoder()
        try:
            codes = encoder.fit_transform(labels)
        except TypeError as err:
            raise OmicsInputError(
                f"y mixes label types that cannot be sorted ({err}); pass labels of one type"
            ) from err
        if len(encoder.classes_) < 2:
            raise OmicsInputError(f"y has {len(encoder.classes_)} class; a classifier needs at least 2 classes")
        self._check_encoder_input(features.shape[1])

        train_idx, val_idx = stratified_validation_split(codes, self.val_fraction, seed=self.seed)
        if self.val_fraction > 0 and len(val_idx) == 0:
            warnings.warn(
                f"no class has enough samples for a {self.val_fraction:g} validation split; "
                f"training without early stopping for max_epochs={self.max_epochs}",
                stacklevel=2,
            )
        # network, frozen-encoder shortcut, train_supervised (Adam, cross-entropy, early stopping), fitted attributes
        self._fit_network(X, features, codes, len(encoder.classes_), train_idx, val_idx, device)
        self.classes_ = encoder.classes_
        return self

    # -- prediction ---------------------------------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (samples, classes), columns ordered as :attr:`classes_`."""
        features = self._features(X)
        logits = forward_in_batches(self.model_, features).double()
        return torch.softmax(logits, dim=1).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Most probable class label for each sample."""
        features = self._features(X)
        logits = forward_in_batches(self.model_, features)
        return self.classes_[logits.argmax(1).cpu().numpy()]


class MLPRegressor(RegressorMixin, _NetworkEstimator):
    """Neural-network regressor: the :class:`MLPClassifier` network and training with one output and squared error.

    Same parameters, encoder options (``encoder``, ``freeze_encoder``) and early stopping as :class:`MLPClassifier`;
    the validation split is a random ``val_fraction`` of the samples (rounded, at least one left for training). The
    target is z-scored with its training mean and standard deviation before training and predictions are put back on
    its scale, so the learning rate does not depend on the units of ``y``. ``score`` is R^2 (sklearn's
    ``RegressorMixin``). ``history_`` has the same columns as the classifier's, with ``val_accuracy`` NaN and the
    losses in squared standard deviations of ``y``. Introduced in chapter *VIME* (polygenic scores from SNPs).

    Attributes
    ----------
    target_mean_, target_scale_ : float
        Mean and standard deviation of ``y`` used to standardise it.
    model_, history_, n_epochs_, best_epoch_, validation_indices_, n_features_in_ : as in :class:`MLPClassifier`.
    """

    _loss = "mse"

    def fit(self, X, y) -> MLPRegressor:
        """Train on ``X`` (samples x features, ndarray or DataFrame) and a numeric target ``y``."""
        device = self._check_params()
        features = as_feature_matrix(X)
        if y is None:
            raise OmicsInputError("MLPRegressor requires y to be passed, but the target y is None; pass a numeric y")
        target = as_label_vector(y, len(features))
        if target.dtype == bool or not np.issubdtype(target.dtype, np.number) or not np.isfinite(target).all():
            raise OmicsInputError("y must be finite numbers for regression; pass a numeric outcome (class labels: "
                                  "use MLPClassifier)")
        self._check_encoder_input(features.shape[1])
        target = target.astype(np.float64)
        train_idx, val_idx = random_validation_split(len(target), self.val_fraction, seed=self.seed)
        self.target_mean_ = float(target[train_idx].mean())
        scale = float(target[train_idx].std())
        self.target_scale_ = scale if scale > 0 else 1.0
        standardised = ((target - self.target_mean_) / self.target_scale_).astype(np.float32)
        self._fit_network(X, features, standardised, 1, train_idx, val_idx, device)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted ``y`` for each sample (float64, on the scale of the training target)."""
        features = self._features(X)  # first: an unfitted model raises NotFittedError, not AttributeError
        outputs = forward_in_batches(self.model_, features).reshape(-1).double().cpu().numpy()
        return outputs * self.target_scale_ + self.target_mean_


def stratified_validation_split(codes: np.ndarray, val_fraction: float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split positions into (train, validation), holding out ``round(val_fraction * n_c)`` of each class.

    At most ``n_c - 1`` samples of a class go to validation, so every class keeps at least one training sample and a
    class with a single sample stays entirely in training. Both index arrays are sorted. Introduced in chapter 2,
    *Supervised baseline*.
    """
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(codes):
        members = np.flatnonzero(codes == c)
        n_val = min(int(np.floor(val_fraction * len(members) + 0.5)), len(members) - 1)
        val.append(rng.permutation(members)[:n_val])
    val_idx = np.sort(np.concatenate(val)).astype(np.int64)
    train_idx = np.setdiff1d(np.arange(len(codes)), val_idx)
    return train_idx, val_idx


def random_validation_split(n: int, val_fraction: float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into (train, validation) at random, ``round(val_fraction * n)`` held out (at most ``n - 1``).

    The regression counterpart of :func:`stratified_validation_split`; both index arrays are sorted. Introduced in
    chapter *VIME* (polygenic scores from SNPs).
    """
    n_val = min(int(np.floor(val_fraction * n + 0.5)), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]).astype(np.int64), np.sort(order[:n_val]).astype(np.int64)


def _check_architecture(in_dim, hidden, out_dim, dropout, activation) -> None:
    """Raise :class:`OmicsInputError` on an impossible MLP specification."""
    check_int("in_dim", in_dim, 1)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise OmicsInputError(f"hidden={hidden!r} must be a sequence of layer widths; pass e.g. hidden=(256, 128)")
    for h in hidden:
        check_int("hidden layer width", h, 1)
    if out_dim is not None:
        check_int("out_dim", out_dim, 1)
    check_float("dropout", dropout, 0.0, 1.0, high_open=True)
    if activation not in ACTIVATIONS:
        raise OmicsInputError(f"activation={activation!r} is unknown; pass one of {', '.join(ACTIVATIONS)}")
