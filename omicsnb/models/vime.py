"""VIME (Yoon et al., NeurIPS 2020): self-supervised mask and feature estimation, then semi-supervised consistency.

- :class:`VIMESelf` -- corrupt each entry with probability ``p_m`` (value from the feature's empirical marginal); from
  the encoder's embedding of the corrupted sample, a *mask head* predicts which entries changed (binary
  cross-entropy) and a *feature head* reconstructs the clean sample (MSE). Loss ``BCE + alpha * MSE``.
- :class:`VIMESemi` -- a classifier on the (pretrained) encoder trained on labelled samples with cross-entropy plus
  ``beta`` times a consistency loss on ``K`` corrupted copies of unlabelled samples.

Differences from the TF1 reference code, each deliberate (see the methods notes): masks are re-drawn every batch
(the reference corrupts the data once before training); the feature head's output layer is linear (the reference's
sigmoid cannot reproduce z-scored values); the encoder is the book's 4 x 256 encoder (the reference uses one layer of
width d). The heads are one Linear layer by default; ``head_hidden="dradjat"`` (:data:`DRADJAT_HEADS`) gives each of
them Dradjat et al.'s four [Linear 256 - ReLU] blocks before its output layer.
Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted
from torch import nn

from omicsnb.models.corruption import corrupt, mask_bernoulli
from omicsnb.models.mlp import MLP, Encoder, EncoderClassifier, stratified_validation_split
from omicsnb.models.ssl import SSLPretrainer, as_device
from omicsnb.training import fit_loop, forward_in_batches, torch_seed
from omicsnb.validation import OmicsInputError, as_feature_matrix, as_label_vector, check_float, check_int

CONSISTENCY = ("variance", "mse")
#: Hidden widths of each VIME decoder in Dradjat et al.'s ``vime_self_4layers``: four Dense-256 ReLU layers (no batch
#: norm, no dropout) between the encoder's output and the decoder's output layer.
DRADJAT_HEADS = (256, 256, 256, 256)
#: Named head architectures that ``VIMESelf(head_hidden=...)`` and the profiles accept in place of a tuple of widths.
HEAD_PRESETS = {"linear": (), "dradjat": DRADJAT_HEADS}


def head_widths(head_hidden) -> tuple[int, ...]:
    """The hidden widths a ``head_hidden`` setting stands for: a preset name from :data:`HEAD_PRESETS` or widths.

    ``"linear"`` -> ``()`` (each head one Linear layer), ``"dradjat"`` -> :data:`DRADJAT_HEADS`; a sequence of
    positive integers is returned as a tuple. Anything else raises a one-line :class:`OmicsInputError`.
    Introduced in chapter *VIME*.
    """
    if isinstance(head_hidden, str):
        if head_hidden not in HEAD_PRESETS:
            raise OmicsInputError(
                f"head_hidden={head_hidden!r} is unknown; pass one of {', '.join(map(repr, HEAD_PRESETS))} "
                "or a tuple of layer widths such as (256, 256)"
            )
        return HEAD_PRESETS[head_hidden]
    MLP(1, head_hidden, out_dim=1)  # validates a sequence of widths (one-line error otherwise)
    return tuple(int(h) for h in head_hidden)


def vime_corrupt(x: torch.Tensor, reference: torch.Tensor, p_m: float,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """VIME's pretext pair: ``x_tilde`` (each entry swapped with probability ``p_m``) and the mask label.

    The label is 1 where the value actually changed (``x_tilde != x``), as in the reference code, not where a swap was
    attempted. Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    x_tilde, changed = corrupt(x, mask_bernoulli(x.shape, p_m, generator), reference, generator)
    return x_tilde, changed.to(x.dtype)


class VIMESelf(SSLPretrainer):
    """VIME self-supervised pretraining: estimate the corruption mask and the clean features from a corrupted sample.

    Parameters
    ----------
    p_m : probability that an entry is corrupted, in [0, 1] (reference default 0.3).
    alpha : weight of the feature-reconstruction MSE relative to the mask BCE (reference default 2.0).
    head_hidden : hidden widths of both heads (the mask and the feature decoder), or a preset name (see
        :func:`head_widths`). ``()`` or ``"linear"`` (default) makes each head one Linear layer;
        ``"dradjat"`` (= :data:`DRADJAT_HEADS`) gives each head Dradjat et al.'s four [Linear 256 - ReLU] blocks
        before its output layer. Hidden head layers have no batch norm and no dropout, as in their code.
    **kwargs : the shared settings of :class:`~omicsnb.models.ssl.SSLPretrainer` (hidden, dropout, lr, epochs ...).

    The mask target is ``changed`` (entries whose value actually differs), as in the reference code. ``history_``
    has the components ``mask_bce`` and ``feature_mse``. Introduced in chapter *Self-supervised pretraining
    (VIME, SCARF, BYOL)*.
    """

    components = ("mask_bce", "feature_mse")

    def __init__(self, p_m: float = 0.3, alpha: float = 2.0, head_hidden: Sequence[int] | str = (),
                 hidden: Sequence[int] = (256, 256, 256, 256), dropout: float = 0.1, batch_norm: bool = True,
                 lr: float = 1e-4, weight_decay: float = 0.0, batch_size: int = 256, epochs: int = 100,
                 val_fraction: float = 0.1, seed: int = 0, device: str = "cpu", progress: bool = True):
        super().__init__(hidden=hidden, dropout=dropout, batch_norm=batch_norm, lr=lr, weight_decay=weight_decay,
                         batch_size=batch_size, epochs=epochs, val_fraction=val_fraction, seed=seed, device=device,
                         progress=progress)
        self.p_m = p_m
        self.alpha = alpha
        self.head_hidden = head_hidden

    def _check_method_params(self) -> None:
        check_float("p_m", self.p_m, 0.0, 1.0)
        check_float("alpha", self.alpha, 0.0)
        head_widths(self.head_hidden)

    def _build(self, n_features: int) -> nn.ModuleDict:
        width, hidden = self.encoder_.out_dim, head_widths(self.head_hidden)
        heads = {name: MLP(width, hidden, out_dim=n_features, dropout=0.0, batch_norm=False)
                 for name in ("mask", "feature")}
        return nn.ModuleDict(heads)

    def _loss(self, x, reference, generator):
        x_tilde, mask_label = vime_corrupt(x, reference, self.p_m, generator)
        h = self.encoder_(x_tilde)
        mask_bce = F.binary_cross_entropy_with_logits(self.modules_["mask"](h), mask_label)
        feature_mse = F.mse_loss(self.modules_["feature"](h), x)
        return {"loss": mask_bce + self.alpha * feature_mse, "mask_bce": mask_bce.detach(),
                "feature_mse": feature_mse.detach()}

    @torch.no_grad()
    def pretext_check(self, X, *, seed: int = 0) -> dict[str, float]:
        """How well the trained heads solve the pretext task on ``X``, next to answers that need no learning.

        ``X`` (e.g. held-out samples) is corrupted once -- probability ``p_m`` per entry, values drawn from ``X``'s own
        columns, generator seeded by ``seed`` -- and both heads run in evaluation mode. Returns a dict with

        - ``changed_rate``: share of entries whose value changed (below ``p_m`` when a feature has few distinct values,
          e.g. genotypes 0/1/2, because a swap often draws the same value);
        - ``mask_accuracy``: the mask head thresholded at probability 0.5; ``trivial_mask_accuracy``: always answering
          "unchanged" (``1 - changed_rate``); ``mask_auc``: how well the mask head ranks changed above unchanged
          entries (0.5: chance);
        - ``feature_mse``: the feature head's reconstruction error; ``copy_mse``: returning the corrupted input as it
          is; ``mean_mse``: predicting every feature's mean.

        Usable as a ``monitor`` during ``fit`` (``monitor=lambda m, epoch: m.pretext_check(X_val)``).
        Introduced in chapter *VIME*.
        """
        check_is_fitted(self, "encoder_")
        features = as_feature_matrix(X, n_features=self.n_features_in_, fitted="pretrained")
        device = next(self.encoder_.parameters()).device
        x = torch.as_tensor(features, device=device)
        x_tilde, changed = vime_corrupt(x, x, self.p_m, torch.Generator(device=device).manual_seed(seed))
        h = forward_in_batches(self.encoder_, x_tilde)
        mask_prob = torch.sigmoid(forward_in_batches(self.modules_["mask"], h))
        x_hat = forward_in_batches(self.modules_["feature"], h)
        rate = changed.mean().item()
        labels = changed.cpu().numpy().ravel()
        auc = roc_auc_score(labels, mask_prob.cpu().numpy().ravel()) if 0 < labels.sum() < labels.size else math.nan
        return {
            "changed_rate": rate,
            "mask_accuracy": ((mask_prob > 0.5).to(x.dtype) == changed).float().mean().item(),
            "trivial_mask_accuracy": 1.0 - rate,
            "mask_auc": float(auc),
            "feature_mse": F.mse_loss(x_hat, x).item(),
            "copy_mse": F.mse_loss(x_tilde, x).item(),
            "mean_mse": F.mse_loss(x.mean(0, keepdim=True).expand_as(x), x).item(),
        }


def mask_oracle_auc(X_fit, X_eval, p_m: float = 0.3, *, seed: int = 0) -> float:
    """How detectable VIME's corrupted entries are without any learning: the mask AUC of a Gaussian residual test.

    A Gaussian model of the features (Ledoit-Wolf shrunk covariance, fitted on ``X_fit``) predicts each entry of a
    sample from all its other entries; the detector scores an entry by its standardised residual,
    ``|(x Theta)_j| / sqrt(Theta_jj)`` with ``Theta`` the precision matrix, since ``(x Theta)_j / Theta_jj`` is
    ``x_j`` minus its conditional mean. ``X_eval`` is corrupted exactly as :meth:`VIMESelf.pretext_check` does with
    the same ``p_m`` and ``seed`` (on CPU), so the two AUCs are measured on the same entries. A mask head below this
    linear, non-learned reference has not extracted what the feature correlations offer; an AUC near 0.5 here means
    the data give little to detect (e.g. independent features). Introduced in chapter *VIME*.
    """
    from sklearn.covariance import LedoitWolf

    check_float("p_m", p_m, 0.0, 1.0)
    check_int("seed", seed, 0)
    fit = as_feature_matrix(X_fit, name="X_fit").astype(np.float64)
    if len(fit) < 2:
        raise OmicsInputError(f"X_fit has {len(fit)} sample; the covariance needs at least 2, pass more samples")
    evaluate = as_feature_matrix(X_eval, name="X_eval", n_features=fit.shape[1])
    precision = LedoitWolf().fit(fit).precision_
    x = torch.as_tensor(evaluate)
    x_tilde, changed = vime_corrupt(x, x, p_m, torch.Generator().manual_seed(seed))
    residual = (x_tilde.double().numpy() - fit.mean(0)) @ precision
    score = np.abs(residual) / np.sqrt(np.diag(precision))
    labels = changed.numpy().ravel()
    return float(roc_auc_score(labels, score.ravel())) if 0 < labels.sum() < labels.size else math.nan


class VIMESemi(ClassifierMixin, BaseEstimator):
    """VIME semi-supervised learning: cross-entropy on labelled samples + consistency under corruption on unlabelled.

    For each labelled batch a batch of unlabelled samples is drawn, each corrupted ``K`` times (probability ``p_m``
    per entry, values from the unlabelled data's marginals), and the loss is ``CE + beta * consistency`` with
    ``consistency="variance"``: the variance of the logits across the K copies, averaged over samples and classes
    (the reference code; the clean sample is not used), or ``"mse"``: mean squared difference between the logits of
    each copy and of the clean sample (TabularS3L's variant). Training stops ``patience`` epochs after the lowest
    validation cross-entropy (stratified ``val_fraction`` of the labelled data) and keeps the best weights.
    The model supplies only that loss, as a step of :func:`~omicsnb.training.fit_loop`, the book's one training loop.

    Parameters
    ----------
    encoder_from : a fitted :class:`VIMESelf` (its encoder is used), any encoder module with ``.out_dim``, or
        ``None`` for a fresh 4 x 256 encoder (semi-supervised learning without pretraining). Always copied.
    K, beta, p_m, consistency : see above (reference defaults 3, 1.0, 0.3, "variance").
    head_hidden : hidden widths of the predictor on top of the encoder (reference: two layers of 100).
    freeze_encoder : keep the encoder fixed (as the reference does); ``False`` fine-tunes it too.
    dropout, lr, weight_decay, batch_size, max_epochs, patience, val_fraction, seed, device, progress :
        as in :class:`~omicsnb.models.mlp.MLPClassifier`.

    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """

    def __init__(self, encoder_from=None, K: int = 3, beta: float = 1.0, consistency: str = "variance",
                 p_m: float = 0.3, head_hidden: Sequence[int] = (100, 100), freeze_encoder: bool = True,
                 dropout: float = 0.1, lr: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 128,
                 max_epochs: int = 200, patience: int = 20, val_fraction: float = 0.1, seed: int = 0,
                 device: str = "cpu", progress: bool = True):
        self.encoder_from = encoder_from
        self.K = K
        self.beta = beta
        self.consistency = consistency
        self.p_m = p_m
        self.head_hidden = head_hidden
        self.freeze_encoder = freeze_encoder
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.progress = progress

    def fit(self, X_labeled, y, X_unlabeled) -> VIMESemi:
        """Train on labelled ``(X_labeled, y)`` and unlabelled ``X_unlabeled`` (same features)."""
        device = self._check_params()
        features = as_feature_matrix(X_labeled, name="X_labeled")
        unlabeled = as_feature_matrix(X_unlabeled, name="X_unlabeled")
        if unlabeled.shape[1] != features.shape[1]:
            raise OmicsInputError(
                f"X_unlabeled has {unlabeled.shape[1]} features but X_labeled has {features.shape[1]}; "
                "pass the same features (genes) in both"
            )
        labels = as_label_vector(y, len(features))
        encoder_labels = LabelEncoder()
        codes = encoder_labels.fit_transform(labels)
        if len(encoder_labels.classes_) < 2:
            raise OmicsInputError(f"y has {len(encoder_labels.classes_)} class; a classifier needs at least 2 classes")
        train_idx, val_idx = stratified_validation_split(codes, self.val_fraction, seed=self.seed)

        with torch_seed(self.seed):
            module = self._build_module(features.shape[1], len(encoder_labels.classes_)).to(device)
        X_tr = torch.as_tensor(features[train_idx], device=device)
        y_tr = torch.as_tensor(codes[train_idx], dtype=torch.long, device=device)
        X_va = torch.as_tensor(features[val_idx], device=device)
        y_va = torch.as_tensor(codes[val_idx], dtype=torch.long, device=device)
        X_u = torch.as_tensor(unlabeled, device=device)

        def step(idx: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            idx = idx.to(device)
            u_idx = torch.randint(len(X_u), (self.batch_size,), generator=generator, device=device)
            ce = F.cross_entropy(module(X_tr[idx]), y_tr[idx])
            consistency = self._consistency(module, X_u[u_idx], X_u, generator)
            return {"loss": ce + self.beta * consistency, "cross_entropy": ce, "consistency": consistency}

        def validate() -> dict[str, float]:
            logits = forward_in_batches(module, X_va)
            return {"val_loss": F.cross_entropy(logits, y_va).item(),
                    "val_accuracy": (logits.argmax(1) == y_va).float().mean().item()}

        has_val = len(X_va) > 0
        result = fit_loop(
            step, [module], len(X_tr), epochs=self.max_epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, seed=self.seed, validate=validate if has_val else None,
            patience=self.patience if has_val else None, device=device, desc="VIMESemi", progress=self.progress,
        )
        self.model_ = module
        self.classes_ = encoder_labels.classes_
        self.n_features_in_ = features.shape[1]
        self.history_ = result.history.reindex(
            columns=["epoch", "loss", "cross_entropy", "consistency", "val_loss", "val_accuracy"]
        ).astype({"epoch": int})
        self.best_epoch_ = result.best_epoch
        return self

    def _consistency(self, module: nn.Module, x_u: torch.Tensor, reference: torch.Tensor,
                     generator: torch.Generator) -> torch.Tensor:
        """Consistency of the logits across ``K`` corruptions of each unlabelled sample."""
        copies = x_u.repeat(self.K, 1)  # (K * B, d): copy k of sample i is row k * B + i
        x_tilde, _ = vime_corrupt(copies, reference, self.p_m, generator)
        logits = module(x_tilde).view(self.K, len(x_u), -1)
        if self.consistency == "variance":
            return logits.var(dim=0, unbiased=False).mean()
        return ((logits - module(x_u).unsqueeze(0)) ** 2).mean()

    def _build_module(self, n_features: int, n_classes: int) -> EncoderClassifier:
        source = self.encoder_from
        if source is None:
            encoder = Encoder(n_features, dropout=self.dropout)
        else:
            encoder = copy.deepcopy(source.encoder if isinstance(source, SSLPretrainer) else source)
        in_dim = getattr(encoder, "in_dim", n_features)
        if in_dim != n_features:
            raise OmicsInputError(
                f"the encoder expects {in_dim} features but X has {n_features}; pass X with the encoder's features"
            )
        module = EncoderClassifier(encoder, n_classes, freeze_encoder=self.freeze_encoder)
        module.head = MLP(encoder.out_dim, self.head_hidden, out_dim=n_classes, dropout=self.dropout)
        return module

    # -- prediction --------------------------------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (samples, classes), columns ordered as ``classes_``."""
        logits = forward_in_batches(self.model_, self._features(X)).double()
        return torch.softmax(logits, dim=1).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Most probable class label per sample."""
        return self.classes_[forward_in_batches(self.model_, self._features(X)).argmax(1).cpu().numpy()]

    def _features(self, X) -> torch.Tensor:
        check_is_fitted(self, "model_")
        features = as_feature_matrix(X, n_features=self.n_features_in_)
        return torch.as_tensor(features, device=next(self.model_.parameters()).device)

    def _check_params(self) -> torch.device:
        check_int("K", self.K, 1)
        check_float("beta", self.beta, 0.0)
        check_float("p_m", self.p_m, 0.0, 1.0)
        if self.consistency not in CONSISTENCY:
            raise OmicsInputError(f"consistency={self.consistency!r} is unknown; pass one of: {', '.join(CONSISTENCY)}")
        if self.consistency == "variance" and self.K < 2:
            raise OmicsInputError(f"consistency='variance' needs K >= 2 corrupted copies, got K={self.K}; pass K=3")
        MLP(1, self.head_hidden, out_dim=1, dropout=self.dropout)  # validates head_hidden and dropout
        check_float("lr", self.lr, 0.0, low_open=True)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_int("batch_size", self.batch_size, 2)
        check_int("max_epochs", self.max_epochs, 1)
        check_int("patience", self.patience, 1)
        check_float("val_fraction", self.val_fraction, 0.0, 1.0, high_open=True)
        check_int("seed", self.seed, 0)
        source = self.encoder_from
        if isinstance(source, SSLPretrainer):
            check_is_fitted(source, "encoder_")
        elif source is not None and not (isinstance(source, nn.Module)
                                         and isinstance(getattr(source, "out_dim", None), int)):
            raise OmicsInputError(
                "encoder_from must be a fitted VIMESelf, an nn.Module with an integer .out_dim, or None"
            )
        return as_device(self.device)
