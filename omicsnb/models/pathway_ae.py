"""An interpretable autoencoder: a pathway-regularised linear decoder trained with proximal steps (Rybakov et al.).

An MLP encoder maps a cell's expression ``y`` to term activities ``z = f(y)``; the decoder is linear, ``ŷ = z Wᵀ``, so
column ``t`` of ``W`` (genes x terms) says which genes term ``t`` drives. The terms come in three kinds:

- **annotated** terms, one per gene set, with a membership mask ``I`` (genes x sets): an L1 penalty ``λ1`` acts only
  on the genes *outside* the set, so a term can still take a gene the annotation missed if the data insist;
- **sparse** unannotated terms with an L1 penalty ``λ2`` on every gene, to pick up programmes no set describes;
- **dense** unannotated terms without L1, for broad variation (depth, cell size).

A group lasso ``λ3`` on every column can switch a whole term off. The objective per mini-batch is

    (‖ŷ − y‖² + λ0 ‖z‖²) / batch  +  λ1 ‖(1 − I) ⊙ W_ann‖₁ + λ2 ‖W_sparse‖₁ + λ3 Σ_t ‖w_t‖₂,

and it is minimised by stochastic proximal gradient: the optimiser takes an ordinary step on the smooth part, then
:func:`proximal_step` applies the proximal operator of the penalties to ``W`` with step size ``lr`` (soft thresholding
by ``lr·λ``, then group soft thresholding by ``lr·λ3``). Here the ``lambda*`` parameters are penalty weights in the
objective and the threshold is always ``lr·λ``; the reference package's high-level API does the same multiplication
for the user, while its low-level API expects the caller to pass ``lr·λ`` already (see the book's notes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from omicsnb.models.mlp import MLP
from omicsnb.models.ssl import as_device
from omicsnb.training import fit_loop, forward_in_batches, torch_seed
from omicsnb.validation import OmicsInputError, as_feature_matrix, check_float, check_int

TERM_KINDS = ("annotated", "sparse", "dense")


# ---------------------------------------------------------------------------------------------------------------------
# Proximal operators (closed forms, vectorised over genes and terms)
# ---------------------------------------------------------------------------------------------------------------------
def soft_threshold(w: torch.Tensor, threshold) -> torch.Tensor:
    """``sign(w) · max(|w| − t, 0)``: the proximal operator of ``t·‖w‖₁`` (``threshold`` broadcasts over ``w``)."""
    return torch.sign(w) * torch.clamp(w.abs() - threshold, min=0.0)


def masked_soft_threshold(w: torch.Tensor, threshold, penalised: torch.Tensor) -> torch.Tensor:
    """Soft thresholding of the entries where ``penalised`` is True; the others are returned unchanged.

    For an annotated term ``penalised = ~I[:, t]``: genes in the set are free, genes outside it are shrunk.
    """
    return torch.where(penalised, soft_threshold(w, threshold), w)


def group_soft_threshold(W: torch.Tensor, threshold) -> torch.Tensor:
    """Column-wise group soft thresholding: ``w_t · max(0, 1 − t/‖w_t‖₂)``, the proximal operator of ``t·Σ‖w_t‖₂``.

    A column whose norm is at most ``t`` becomes exactly zero (the term is switched off); a zero column stays zero.
    ``threshold`` is a scalar or one value per column.
    """
    norms = torch.linalg.vector_norm(W, dim=0, keepdim=True)
    scale = torch.clamp(1.0 - threshold / torch.clamp(norms, min=torch.finfo(W.dtype).tiny), min=0.0)
    return W * scale


def penalty_masks(membership: np.ndarray, n_sparse: int, n_dense: int, lambda1: float, lambda2: float,
                  ) -> torch.Tensor:
    """The L1 weight of every decoder entry, genes x terms: ``λ1`` off-set for annotated, ``λ2`` for sparse, 0 dense."""
    membership = np.asarray(membership, dtype=bool)
    n_genes = membership.shape[0]
    ann = np.where(membership, 0.0, lambda1)
    sparse = np.full((n_genes, n_sparse), lambda2)
    dense = np.zeros((n_genes, n_dense))
    return torch.as_tensor(np.hstack([ann, sparse, dense]), dtype=torch.float32)


def proximal_step(W: torch.Tensor, l1_weights: torch.Tensor, lambda3: float, step_size: float) -> torch.Tensor:
    """The proximal operator of every penalty at once: soft threshold by ``step·λ_gt``, then group threshold by ``step·λ3``.

    ``l1_weights`` (genes x terms) holds each entry's L1 weight (:func:`penalty_masks`): zero entries are untouched by
    the first operator, which covers the annotated members and the dense terms without a Python loop over terms.
    """
    return group_soft_threshold(soft_threshold(W, step_size * l1_weights), step_size * lambda3)


def proximal_step_per_term(W: torch.Tensor, membership: np.ndarray, kinds: Sequence[str], lambda1: float,
                           lambda2: float, lambda3: float, step_size: float) -> torch.Tensor:
    """The same operator written as a naive Python loop over terms (a reference for tests and the benchmark)."""
    out = W.clone()
    membership = torch.as_tensor(np.asarray(membership, dtype=bool))
    for t, kind in enumerate(kinds):
        column = out[:, t]
        if kind == "annotated":
            column = masked_soft_threshold(column, step_size * lambda1, ~membership[:, t])
        elif kind == "sparse":
            column = soft_threshold(column, step_size * lambda2)
        norm = torch.linalg.vector_norm(column)
        out[:, t] = column * torch.clamp(1.0 - step_size * lambda3 / torch.clamp(norm, min=1e-38), min=0.0)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------------------------------
class _LinearDecoderAE(nn.Module):
    def __init__(self, n_genes: int, n_terms: int, hidden: Sequence[int], dropout: float):
        super().__init__()
        self.encoder = MLP(n_genes, tuple(hidden), out_dim=n_terms, dropout=dropout, batch_norm=True, activation="elu")
        self.W = nn.Parameter(torch.randn(n_genes, n_terms) / np.sqrt(n_terms))

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(y)
        return z, z @ self.W.T


class PathwayAutoencoder(TransformerMixin, BaseEstimator):
    """Autoencoder with a linear decoder regularised by gene-set membership, fitted by proximal gradient steps.

    Parameters
    ----------
    n_sparse, n_dense : number of unannotated sparse and dense terms added to one term per gene set.
    hidden, dropout : encoder MLP widths (each Linear - BN - ELU - Dropout, as the reference) before the linear map to the terms.
    lambda0 : L2 penalty on the term activities (keeps them on one scale so that the decoder norms are comparable).
    lambda1 : L1 weight on the genes outside an annotated term's set (a wrong or missing annotation can be corrected).
    lambda2 : L1 weight on every gene of a sparse term.
    lambda3 : group-lasso weight on every term's column (switches irrelevant terms off).
    lr, batch_size, epochs : Adam step size (also the proximal step size), mini-batch size, passes over the cells.
    center : subtract each gene's mean before fitting (the decoder has no bias), as the reference does.
    seed, device, progress : as everywhere in the book.

    Attributes
    ----------
    W_ : ndarray, genes x terms -- the decoder; ``term_names_``, ``term_kinds_`` name its columns.
    active_terms_ : list of the terms whose column is not exactly zero after training.
    term_genes_ : dict, term -> genes with a non-zero loading (for annotated terms: the corrected gene set).
    history_ : DataFrame, one row per epoch (loss, reconstruction, activity penalty, active terms).
    """

    def __init__(self, n_sparse: int = 0, n_dense: int = 0, hidden: Sequence[int] = (400, 400), dropout: float = 0.2,
                 lambda0: float = 0.1, lambda1: float = 0.93, lambda2: float = 0.93, lambda3: float = 0.57,
                 lr: float = 1e-3, batch_size: int = 62, epochs: int = 80, center: bool = True, seed: int = 0,
                 device: str = "cpu", progress: bool = True):
        self.n_sparse = n_sparse
        self.n_dense = n_dense
        self.hidden = hidden
        self.dropout = dropout
        self.lambda0 = lambda0
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.lambda3 = lambda3
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.center = center
        self.seed = seed
        self.device = device
        self.progress = progress

    def _check_params(self) -> torch.device:
        check_int("n_sparse", self.n_sparse, 0)
        check_int("n_dense", self.n_dense, 0)
        for name in ("lambda0", "lambda1", "lambda2", "lambda3"):
            check_float(name, getattr(self, name), 0.0)
        check_float("dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_float("lr", self.lr, 0.0, low_open=True)
        check_int("batch_size", self.batch_size, 2)
        check_int("epochs", self.epochs, 1)
        check_int("seed", self.seed, 0)
        return as_device(self.device)

    def fit(self, X, membership, y=None) -> PathwayAutoencoder:
        """Fit on ``X`` (cells x genes) with ``membership`` (genes x gene sets, boolean; a DataFrame names the terms).

        A DataFrame ``X`` and ``membership`` are aligned by gene name; arrays must already be in the same gene order.
        """
        device = self._check_params()
        genes = list(X.columns) if isinstance(X, pd.DataFrame) else None
        values = as_feature_matrix(X)
        if isinstance(membership, pd.DataFrame):
            set_names = [str(c) for c in membership.columns]
            if genes is not None:
                missing = [g for g in genes if g not in membership.index]
                if len(missing) == len(genes):
                    raise OmicsInputError("no gene of X is in the membership index; pass gene sets named like X's columns")
                membership = membership.reindex(genes, fill_value=False)
            mask = membership.to_numpy(dtype=bool)
        else:
            mask = np.asarray(membership, dtype=bool)
            set_names = [f"SET_{k + 1}" for k in range(mask.shape[1] if mask.ndim == 2 else 0)]
        if mask.ndim != 2 or mask.shape[0] != values.shape[1]:
            raise OmicsInputError(
                f"membership must be genes x sets with {values.shape[1]} rows (one per gene of X), got {mask.shape}; "
                "build it with omicsnb.data.gene_sets_to_membership(gene_sets, genes)"
            )
        n_terms = mask.shape[1] + self.n_sparse + self.n_dense
        if n_terms == 0:
            raise OmicsInputError("no terms: pass at least one gene set, or n_sparse/n_dense > 0")
        self.n_features_in_ = values.shape[1]
        self.feature_names_ = genes if genes is not None else [f"g{j}" for j in range(values.shape[1])]
        self.mean_ = values.mean(axis=0) if self.center else np.zeros(values.shape[1], dtype=np.float32)
        self.membership_ = mask
        self.term_names_ = set_names + [f"SPARSE_{k + 1}" for k in range(self.n_sparse)] + [
            f"DENSE_{k + 1}" for k in range(self.n_dense)]
        self.term_kinds_ = ["annotated"] * mask.shape[1] + ["sparse"] * self.n_sparse + ["dense"] * self.n_dense

        data = torch.as_tensor(values - self.mean_, device=device)
        with torch_seed(self.seed):
            self.module_ = _LinearDecoderAE(values.shape[1], n_terms, self.hidden, self.dropout).to(device)
        weights = penalty_masks(mask, self.n_sparse, self.n_dense, self.lambda1, self.lambda2).to(device)
        module, lambda0, lambda3, lr = self.module_, self.lambda0, self.lambda3, self.lr

        def step(idx, generator):
            y = data[idx.to(device)]
            z, y_hat = module(y)
            recon = ((y_hat - y) ** 2).sum(dim=1).mean()
            activity = lambda0 * (z**2).sum(dim=1).mean()
            return {"loss": recon + activity, "reconstruction": recon, "activity_penalty": activity}

        def prox():
            module.W.copy_(proximal_step(module.W, weights, lambda3, lr))

        def active_terms(epoch):
            return {"active_terms": int((torch.linalg.vector_norm(module.W, dim=0) > 0).sum())}

        result = fit_loop(step, [module], len(data), epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                          seed=self.seed, after_step=prox, on_epoch_end=active_terms, device=device,
                          desc="PathwayAutoencoder", progress=self.progress)
        self.history_ = result.history
        self.W_ = module.W.detach().cpu().numpy().copy()
        return self

    # -- reading the fitted decoder ----------------------------------------------------------------------------------
    @property
    def active_terms_(self) -> list[str]:
        check_is_fitted(self, "W_")
        norms = np.linalg.norm(self.W_, axis=0)
        return [name for name, norm in zip(self.term_names_, norms) if norm > 0]

    @property
    def term_genes_(self) -> dict[str, list[str]]:
        check_is_fitted(self, "W_")
        return {name: [self.feature_names_[g] for g in np.flatnonzero(self.W_[:, t])]
                for t, name in enumerate(self.term_names_)}

    def transform(self, X) -> np.ndarray:
        """Term activities ``z`` of each cell (cells x terms), in evaluation mode."""
        check_is_fitted(self, "W_")
        values = as_feature_matrix(X, n_features=self.n_features_in_)
        device = next(self.module_.parameters()).device
        data = torch.as_tensor(values - self.mean_, device=device)
        return forward_in_batches(self.module_.encoder, data).cpu().numpy()

    def reconstruct(self, X) -> np.ndarray:
        """``z Wᵀ`` plus the gene means: the decoder's reconstruction of ``X``."""
        return self.transform(X) @ self.W_.T + self.mean_

    def membership_changes(self, relative_threshold: float = 0.1) -> pd.DataFrame:
        """Per annotated term: annotated genes, genes the term uses, members dropped and genes added.

        Only non-members are penalised, so an annotated gene the data do not support keeps a small but rarely exactly
        zero loading. A gene therefore counts as *used* by a term when its absolute loading is at least
        ``relative_threshold`` times the term's largest one; ``nonzero`` counts the exactly non-zero loadings.
        """
        check_is_fitted(self, "W_")
        check_float("relative_threshold", relative_threshold, 0.0, 1.0)
        rows = []
        for t, (name, kind) in enumerate(zip(self.term_names_, self.term_kinds_)):
            if kind != "annotated":
                continue
            column = np.abs(self.W_[:, t])
            annotated = self.membership_[:, t]
            used = column >= relative_threshold * column.max() if column.max() > 0 else np.zeros_like(annotated)
            rows.append({"term": name, "annotated": int(annotated.sum()), "nonzero": int((column > 0).sum()),
                         "used": int(used.sum()), "dropped": int((annotated & ~used).sum()),
                         "added": int((~annotated & used).sum()), "active": bool(column.max() > 0)})
        return pd.DataFrame(rows)

    def used_genes(self, term: str, relative_threshold: float = 0.1) -> list[str]:
        """Genes whose absolute loading on ``term`` is at least ``relative_threshold`` times the term's largest."""
        check_is_fitted(self, "W_")
        if term not in self.term_names_:
            raise OmicsInputError(f"term {term!r} is not one of the model's terms; pass one of term_names_")
        column = np.abs(self.W_[:, self.term_names_.index(term)])
        if column.max() == 0:
            return []
        return [self.feature_names_[g] for g in np.flatnonzero(column >= relative_threshold * column.max())]
