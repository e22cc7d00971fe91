"""Multi-task pretraining with pathway targets: :class:`MultiTaskSSL`.

The practical report's self-supervised model: one encoder ``G -> 1024 -> 512 -> D = 256`` (ReLU, dropout 0.3, a layer
normalisation on ``z``) shared by three heads,

- **pathway regression** (``"path"``): a linear map of ``z`` to the sample's ssGSEA scores, mean squared error;
- **masked-gene reconstruction** (``"mae"``): a ``mask_ratio`` share of each sample's genes is set to zero, a linear
  decoder of ``z`` predicts every gene, and the squared error is averaged over the masked positions only;
- **contrastive** (``"ctr"``): two views of each sample (Gaussian noise of sd ``noise_sd``, then each feature zeroed
  with probability ``feature_dropout``) go through the encoder and a projection to ``projection_dim``; NT-Xent at
  temperature ``temperature`` (:func:`omicsnb.models.scarf.nt_xent`).

The total is ``alpha * path + beta * mae + gamma * ctr``. A weight of zero removes its term entirely: the head is not
built and the term is not computed (the ablations of the chapter). The training loop is the shared one of
:class:`~omicsnb.models.ssl.SSLPretrainer`.

How the pathway targets travel: the shared loop draws rows of one matrix, so :meth:`MultiTaskSSL.fit` appends the
(standardised) scores to ``X`` as extra columns; the validation split, the shuffling and the mini-batches therefore
keep each sample with its own targets, and :meth:`_loss` splits the columns again. The encoder only ever sees the
``G`` genes. Introduced in chapter *Pathway-informed pretraining*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from omicsnb.models.scarf import nt_xent
from omicsnb.models.ssl import SSLPretrainer
from omicsnb.training import forward_in_batches
from omicsnb.validation import OmicsInputError, as_feature_matrix, check_float, check_int

TERMS = ("path", "mae", "ctr")


class PathwayEncoder(nn.Module):
    """``[Linear - ReLU - Dropout]`` blocks of widths ``hidden`` (no dropout after the last), then LayerNorm on ``z``.

    Has ``in_dim`` and ``out_dim`` like :class:`~omicsnb.models.mlp.Encoder`, so ``MLPClassifier(encoder=...)``
    fine-tunes it. Introduced in chapter *Pathway-informed pretraining*.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int] = (1024, 512, 256), dropout: float = 0.3,
                 layer_norm: bool = True):
        super().__init__()
        check_int("in_dim", in_dim, 1)
        check_float("dropout", dropout, 0.0, 1.0, high_open=True)
        if not isinstance(hidden, (list, tuple)) or not hidden:
            raise OmicsInputError(f"hidden={hidden!r} must be a non-empty tuple of widths, e.g. (1024, 512, 256)")
        layers, width = [], in_dim
        for i, out in enumerate(hidden):
            check_int("hidden width", out, 1)
            layers += [nn.Linear(width, out), nn.ReLU()]
            if i < len(hidden) - 1 and dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = out
        if layer_norm:
            layers.append(nn.LayerNorm(width))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries where ``mask`` is true (0 when nothing is masked).

    Introduced in chapter *Pathway-informed pretraining*.
    """
    count = mask.sum()
    if count == 0:
        return prediction.sum() * 0.0
    return ((prediction - target) ** 2 * mask).sum() / count


def two_views(x: torch.Tensor, noise_sd: float, feature_dropout: float,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views of ``x``: ``x + N(0, noise_sd^2)``, then each entry zeroed with probability ``feature_dropout``.

    Introduced in chapter *Pathway-informed pretraining*.
    """
    views = []
    for _ in range(2):
        noisy = x + noise_sd * torch.randn(x.shape, generator=generator, device=x.device)
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= feature_dropout
        views.append(noisy * keep)
    return views[0], views[1]


class MultiTaskSSL(SSLPretrainer):
    """Multi-task self-supervised pretraining: pathway regression + masked reconstruction + NT-Xent.

    Parameters
    ----------
    alpha, beta, gamma : weights of the pathway, masked-reconstruction and contrastive terms (1.0, 0.3, 0.1 as in the
        report); 0 removes a term (no head, no computation).
    mask_ratio : share of genes set to zero for the reconstruction task (0.4).
    projection_dim : width of the contrastive projection (128).
    temperature : NT-Xent temperature (0.5).
    noise_sd, feature_dropout : the contrastive views' Gaussian noise sd (0.1) and feature-dropout probability (0.1).
    standardize_targets : z-score each pathway score on the training samples before the MSE, so that ``alpha``
        weighs a term on the same scale as the others (gseapy's NES spread over a few hundredths; the report
        regresses the raw scores). The fitted means and sds are ``target_mean_`` and ``target_scale_``.
    hidden, dropout, layer_norm : encoder widths (1024, 512, 256), dropout 0.3 and LayerNorm on ``z``.
    lr, weight_decay, batch_size, epochs, val_fraction, seed, device, progress : as in
        :class:`~omicsnb.models.ssl.SSLPretrainer` (Adam at 1e-3, batch 64, 50 epochs as in the report).

    Attributes
    ----------
    history_ : one row per epoch with loss, one column per active term (path, mae, ctr; unweighted) and val_loss.
    n_pathways_ : number of pathway targets (0 with ``alpha=0``).

    Introduced in chapter *Pathway-informed pretraining*.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.3, gamma: float = 0.1, mask_ratio: float = 0.4,
                 projection_dim: int = 128, temperature: float = 0.5, noise_sd: float = 0.1,
                 feature_dropout: float = 0.1, standardize_targets: bool = True,
                 hidden: Sequence[int] = (1024, 512, 256), dropout: float = 0.3, layer_norm: bool = True,
                 lr: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 64, epochs: int = 50,
                 val_fraction: float = 0.1, seed: int = 0, device: str = "cpu", progress: bool = True):
        super().__init__(hidden=hidden, dropout=dropout, batch_norm=False, lr=lr, weight_decay=weight_decay,
                         batch_size=batch_size, epochs=epochs, val_fraction=val_fraction, seed=seed, device=device,
                         progress=progress)
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.mask_ratio = mask_ratio
        self.projection_dim = projection_dim
        self.temperature = temperature
        self.noise_sd = noise_sd
        self.feature_dropout = feature_dropout
        self.standardize_targets = standardize_targets
        self.layer_norm = layer_norm

    # -- which terms are on --------------------------------------------------------------------------------------------
    @property
    def components(self) -> tuple[str, ...]:
        """The loss terms the shared loop logs: the active ones (a switched-off term is neither computed nor logged)."""
        return self.active_terms

    @property
    def active_terms(self) -> tuple[str, ...]:
        """The loss terms with a non-zero weight, in the order path, mae, ctr."""
        weights = {"path": self.alpha, "mae": self.beta, "ctr": self.gamma}
        return tuple(t for t in TERMS if weights[t] != 0)

    def _check_method_params(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            check_float(name, getattr(self, name), 0.0)
        if not self.active_terms:
            raise OmicsInputError("alpha, beta and gamma are all 0; give at least one loss term a positive weight")
        check_float("mask_ratio", self.mask_ratio, 0.0, 1.0, low_open=True, high_open=True)
        check_int("projection_dim", self.projection_dim, 1)
        check_float("temperature", self.temperature, 0.0, low_open=True)
        check_float("noise_sd", self.noise_sd, 0.0)
        check_float("feature_dropout", self.feature_dropout, 0.0, 1.0, high_open=True)
        PathwayEncoder(1, self.hidden, self.dropout, self.layer_norm)  # validates the architecture

    # -- fitting -------------------------------------------------------------------------------------------------------
    def fit(self, X, y=None, pathway_scores=None,
            monitor: Callable[[SSLPretrainer, int], Mapping[str, float]] | None = None) -> MultiTaskSSL:
        """Pretrain on unlabelled ``X`` (samples x genes) with ``pathway_scores`` (samples x sets) as targets.

        ``pathway_scores`` (e.g. :func:`omicsnb.pathways.ssgsea_scores` of the same samples, same row order) is
        required when ``alpha > 0`` and ignored otherwise. ``y`` is ignored.
        """
        self._check_params()
        features = as_feature_matrix(X)
        n, n_genes = features.shape
        if "path" in self.active_terms:
            if pathway_scores is None:
                raise OmicsInputError("alpha > 0 needs pathway_scores (samples x gene sets, e.g. from "
                                      "omicsnb.pathways.ssgsea_scores); pass them or set alpha=0")
            if isinstance(pathway_scores, pd.DataFrame) and isinstance(X, pd.DataFrame) \
                    and not pathway_scores.index.equals(X.index):
                raise OmicsInputError("pathway_scores rows are not X's samples in the same order; "
                                      "reindex them with pathway_scores.loc[X.index]")
            targets = as_feature_matrix(pathway_scores)
            if len(targets) != n:
                raise OmicsInputError(f"pathway_scores has {len(targets)} rows but X has {n}; pass one row per sample")
            mean = targets.mean(0) if self.standardize_targets else np.zeros(targets.shape[1], np.float32)
            scale = targets.std(0) if self.standardize_targets else np.ones(targets.shape[1], np.float32)
            scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
            self.target_mean_, self.target_scale_ = mean.astype(np.float32), scale
            targets = (targets - self.target_mean_) / self.target_scale_
        else:
            targets = np.zeros((n, 0), np.float32)
        self.n_genes_, self.n_pathways_ = n_genes, targets.shape[1]
        super().fit(np.hstack([features, targets]).astype(np.float32), monitor=monitor)
        self.n_features_in_ = n_genes
        return self

    def _build(self, n_features: int) -> nn.ModuleDict:
        # The shared loop built an Encoder on genes + targets; the model's encoder sees the genes only.
        self.encoder_ = PathwayEncoder(self.n_genes_, self.hidden, self.dropout, self.layer_norm).to(
            next(self.encoder_.parameters()).device)
        width = self.encoder_.out_dim
        heads = {}
        if "path" in self.active_terms:
            heads["path"] = nn.Linear(width, self.n_pathways_)
        if "mae" in self.active_terms:
            heads["mae"] = nn.Linear(width, self.n_genes_)
        if "ctr" in self.active_terms:
            heads["ctr"] = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, self.projection_dim))
        return nn.ModuleDict(heads)

    def _loss(self, x, reference, generator):
        genes, targets = x[:, : self.n_genes_], x[:, self.n_genes_ :]
        terms: dict[str, torch.Tensor] = {}
        if "path" in self.modules_:
            terms["path"] = F.mse_loss(self.modules_["path"](self.encoder_(genes)), targets)
        if "mae" in self.modules_:
            mask = torch.rand(genes.shape, generator=generator, device=genes.device) < self.mask_ratio
            reconstruction = self.modules_["mae"](self.encoder_(genes.masked_fill(mask, 0.0)))
            terms["mae"] = masked_mse(reconstruction, genes, mask)
        if "ctr" in self.modules_:
            v1, v2 = two_views(genes, self.noise_sd, self.feature_dropout, generator)
            p = self.modules_["ctr"](self.encoder_(torch.cat([v1, v2])))
            terms["ctr"] = nt_xent(p[: len(genes)], p[len(genes) :], self.temperature)
        weights = {"path": self.alpha, "mae": self.beta, "ctr": self.gamma}
        terms["loss"] = sum(weights[k] * v for k, v in terms.items())
        return terms

    # -- using the result ----------------------------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Encoder embeddings ``z`` of ``X`` (samples x genes) in evaluation mode, shape (samples, D)."""
        check_is_fitted(self, "encoder_")
        features = as_feature_matrix(X, n_features=self.n_genes_, fitted="pretrained")
        device = next(self.encoder_.parameters()).device
        return forward_in_batches(self.encoder_, torch.as_tensor(features, device=device)).cpu().numpy()

    @torch.no_grad()
    def predict_pathways(self, X) -> np.ndarray:
        """The pathway head's predicted scores for ``X``, on the scale of the ``pathway_scores`` given to ``fit``."""
        check_is_fitted(self, "encoder_")
        if "path" not in self.modules_:
            raise OmicsInputError("this model was trained without the pathway term (alpha=0); it has no pathway head")
        z = torch.as_tensor(self.transform(X), device=next(self.encoder_.parameters()).device)
        self.modules_.eval()
        out = self.modules_["path"](z).cpu().numpy()
        return out * self.target_scale_ + self.target_mean_
