"""SEFS (Lee, Imrie and van der Schaar, ICLR 2022): feature selection with self-supervision and correlated gates.

A gate vector ``m`` in {0, 1}^p decides which features a network sees. SEFS learns one selection probability
``pi_j`` per feature, and draws the gates from a multivariate Bernoulli distribution whose marginals are ``pi`` and
whose dependence is a Gaussian copula with the features' correlation matrix ``R``: correlated features tend to be
kept or dropped together, so that a network cannot lean on one copy of a signal while its twin is gated out.

- :func:`correlation_cholesky` -- ``L`` with ``L L^T = R`` (shrunk towards the identity until it factorises);
- :func:`copula_uniforms` -- ``u = Phi(L eps)`` for a whole batch at once (one matrix product, no per-sample loop);
- :func:`hard_gates`, :func:`relaxed_gates`, :func:`sample_gates` -- the gates themselves;
- :class:`SEFS` -- the estimator: a self-supervision phase (reconstruct the features and the gate vector from a
  gated sample, unlabelled data) and a selection phase (learn ``pi`` and a predictor from labelled data), both as a
  step of :func:`omicsnb.training.fit_loop`;
- :func:`stochastic_gates` -- the ablation: the same estimator with ``self_supervision=False, copula=False``;
- :func:`selection_scores` -- TPR / FDR of a selection and ranking AUROC of importances against a known truth.

Differences from the authors' TF1 code, each deliberate (see the methods notes):

- features are standardised (mean 0, sd 1 on all the data ``fit`` sees) instead of min-max scaled, so that gating a
  feature to 0 in the selection phase is the same as replacing it by its mean in the self-supervision phase; the
  feature decoder is therefore linear rather than sigmoid;
- the hard gate is written ``1[u > 1 - pi]``, the zero-temperature limit of the relaxed gate; the reference writes
  ``1[u < pi]``, which has the same distribution (the copula is symmetric) but is not the limit of its relaxation;
- both self-supervision losses are means over entries (the reference sums the squared error over features);
- the self-supervision phase stops early on a held-out part of the *unlabelled* data; the selection phase runs a
  fixed number of epochs, because the reference's "validation" set there is the training set itself (it cannot stop
  anything honestly) and 20 labels are too few to hold some out;
- without self-supervision the whole encoder is trained in the selection phase (a frozen random encoder would be a
  strawman); with it, only the last encoder layer, the predictor and ``pi`` are, as in the reference;
- an optional ``temperature`` divides the relaxed gate's logit (the reference has none, i.e. temperature 1).

Introduced in chapter *Feature selection with SEFS*.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted
from torch import nn

from omicsnb.training import fit_loop, forward_in_batches, torch_seed
from omicsnb.validation import OmicsInputError, as_feature_matrix, as_label_vector, check_float, check_int

_EPS = 1e-6
_SHRINKAGE = (0.0, 1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.3)


# ---------------------------------------------------------------------------------------------------------------------
# Gates
# ---------------------------------------------------------------------------------------------------------------------
def correlation_cholesky(X, *, shrinkage: float | None = None) -> torch.Tensor:
    """Lower-triangular ``L`` (float32 tensor) with ``L L^T = R``, the features' correlation matrix on ``X``.

    Constant features get correlation 0 with every other feature. ``R`` is singular when there are more features
    than samples or exact copies; it is then shrunk towards the identity, ``(1 - s) R + s I``, with the smallest ``s``
    in (0, 1e-6, 1e-4, ..., 0.3) that factorises (or exactly ``shrinkage`` when given). The diagonal stays 1, so the
    copula's marginals are untouched. Introduced in chapter *Feature selection with SEFS*.
    """
    data = as_feature_matrix(X, name="X_unlabeled").astype(np.float64)
    if len(data) < 2:
        raise OmicsInputError(f"need at least 2 samples to estimate feature correlations, got {len(data)}; pass more")
    sd = data.std(0)
    centred = (data - data.mean(0)) / np.where(sd > 0, sd, 1.0)
    R = centred.T @ centred / len(data)
    R[:, sd == 0] = 0.0
    R[sd == 0, :] = 0.0
    np.fill_diagonal(R, 1.0)
    R = torch.as_tensor(R)
    eye = torch.eye(len(R), dtype=R.dtype)
    if shrinkage is not None:
        check_float("shrinkage", shrinkage, 0.0, 1.0)
    for s in (shrinkage,) if shrinkage is not None else _SHRINKAGE:
        L, info = torch.linalg.cholesky_ex((1 - s) * R + s * eye)
        if int(info) == 0:
            return L.float()
    raise OmicsInputError("the feature correlation matrix cannot be factorised; pass shrinkage closer to 1")


def standard_normal_cdf(g: torch.Tensor) -> torch.Tensor:
    """``Phi(g)``, the standard normal distribution function, via ``erf``."""
    return 0.5 * (1.0 + torch.erf(g / math.sqrt(2.0)))


def copula_uniforms(n: int, p: int, chol: torch.Tensor | None = None, generator: torch.Generator | None = None,
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """``(n, p)`` uniforms on (0, 1) whose Gaussian copula is ``R = chol chol^T`` (independent when ``chol`` is None).

    All rows at once: ``eps ~ N(0, I)`` of shape ``(n, p)``, ``g = eps chol^T`` (one matrix product), ``u = Phi(g)``,
    clipped to ``[1e-6, 1 - 1e-6]`` so that ``log u`` and ``log(1 - u)`` stay finite. Each column is uniform whatever
    ``R`` is (``g_j`` is standard normal because ``R_jj = 1``). Introduced in chapter *Feature selection with SEFS*.
    """
    eps = torch.randn(n, p, generator=generator, device=device)
    g = eps if chol is None else eps @ chol.T
    return standard_normal_cdf(g).clamp(_EPS, 1.0 - _EPS)


def hard_gates(pi: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Binary gates ``m = 1[u > 1 - pi]`` (float): ``P(m_j = 1) = pi_j`` when ``u_j`` is uniform."""
    return (u > 1.0 - pi).to(u.dtype)


def relaxed_gates(logit_pi: torch.Tensor, u: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Relaxed Bernoulli gates ``sigmoid((logit pi + log u - log(1 - u)) / temperature)``, differentiable in ``pi``.

    Strictly inside (0, 1) for finite inputs; as ``temperature -> 0`` it tends to :func:`hard_gates` of the same
    ``u`` (the sign of ``logit pi + logit u``, i.e. ``u > 1 - pi``). Temperature 1 is the reference's gate.
    """
    return torch.sigmoid((logit_pi + torch.log(u) - torch.log1p(-u)) / temperature)


def sample_gates(pi, n: int, *, chol: torch.Tensor | None = None, relaxed: bool = False, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` gate vectors with marginals ``pi`` (length p, values in (0, 1)) and Gaussian copula ``chol chol^T``.

    ``relaxed=False`` returns 0/1 gates (the self-supervision phase), ``relaxed=True`` the relaxed gates of the
    selection phase. Introduced in chapter *Feature selection with SEFS*.
    """
    pi = torch.as_tensor(pi, dtype=torch.float32)
    if pi.ndim != 1 or not bool(((pi > 0) & (pi < 1)).all()):
        raise OmicsInputError("pi must be a 1-D vector of probabilities strictly inside (0, 1); pass e.g. np.full(p, 0.5)")
    check_int("n", n, 1)
    check_float("temperature", temperature, 0.0, low_open=True)
    if chol is not None and tuple(chol.shape) != (len(pi), len(pi)):
        raise OmicsInputError(f"chol has shape {tuple(chol.shape)} but pi has {len(pi)} entries; pass a p x p factor")
    u = copula_uniforms(n, len(pi), chol, generator, device=pi.device)
    return relaxed_gates(torch.logit(pi), u, temperature) if relaxed else hard_gates(pi, u)


def gate_and_fill(x: torch.Tensor, m: torch.Tensor, x_bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The self-supervision input and target: ``x_tilde = x * m + x_bar * (1 - m)`` and the "kept" indicator ``m``.

    ``x_bar`` is the vector of feature means (not a random sample as in VIME). The target is the gate itself, which
    equals ``1[x == x_tilde]`` (the reference's definition) whenever no value happens to equal its feature's mean.
    """
    return x * m + x_bar * (1.0 - m), m


class _Gates(nn.Module):
    """The selection logits ``logit pi`` (one per feature), initialised at ``logit(pi_init)``."""

    def __init__(self, p: int, pi_init: float):
        super().__init__()
        self.logit = nn.Parameter(torch.full((p,), math.log(pi_init / (1.0 - pi_init))))

    def forward(self) -> torch.Tensor:
        return torch.sigmoid(self.logit)


def _fcnet(in_dim: int, hidden: int, n_layers: int, out_dim: int) -> nn.Sequential:
    """``n_layers`` Linear layers, ReLU between them (none after the last): the reference's encoder/decoder shape."""
    layers, width = [], in_dim
    for _ in range(n_layers - 1):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------------------------------
class SEFS(ClassifierMixin, BaseEstimator):
    """Self-supervision enhanced feature selection with correlated gates; with both switches off, stochastic gates.

    ``fit(X, y, X_unlabeled)`` runs two phases, each a *step* given to :func:`omicsnb.training.fit_loop`:

    1. *self-supervision* (if ``self_supervision``): on unlabelled samples, draw hard gates ``m`` with marginals
       ``pi_ss`` (copula ``R`` if ``copula``), form ``x_tilde = x * m + mean * (1 - m)``, encode it, and train a
       feature decoder (MSE to ``x``) and a gate decoder (BCE to the "kept" indicator ``m``); loss
       ``MSE + alpha * BCE``. 10% of the unlabelled samples are held out for early stopping.
    2. *selection*: on labelled samples, draw relaxed gates ``m`` from the learnable ``pi`` (same copula), predict
       ``y`` from the encoding of ``x * m`` with a linear predictor; loss ``CE + lam * mean(pi)``. After
       pretraining only the last encoder layer, the predictor and ``pi`` are trained.

    Parameters
    ----------
    self_supervision, copula : the two switches (both off: plain stochastic gates, see :func:`stochastic_gates`).
    alpha, pi_ss : weight of the gate BCE, and the gate probability of the self-supervision phase (reference 10, 0.5).
    lam : weight of the sparsity term ``mean(pi)`` (reference 1).
    pi_init : initial selection probability (reference 0.5).
    hidden, n_layers, z_dim : encoder (and decoder) width, number of Linear layers and embedding size
        (reference 100, 3, 10).
    temperature : of the relaxed gates (reference: 1).
    lr_ss, batch_size_ss, epochs_ss, patience_ss : Adam step, batch, epoch cap and early-stopping patience of the
        self-supervision phase.
    lr, batch_size, epochs : the same for the selection phase (fixed number of epochs).
    threshold : features with ``pi > threshold`` are selected (reference 0.5).
    shrinkage : passed to :func:`correlation_cholesky` (None: the smallest that works).
    encoder_from : a fitted SEFS whose pretrained encoder, scaling and correlation factor are reused (its
        self-supervision phase is then skipped: useful when only the labels change).
    seed, device, progress : reproducibility, torch device, tqdm bars.

    Attributes
    ----------
    feature_importances_ : (p,) the learnt ``pi``.  selected_ : (p,) bool, ``pi > threshold``.
    classes_, n_features_in_, history_ss_ (None without self-supervision), history_ : per-epoch losses.
    chol_ : the copula's Cholesky factor (None without the copula).
    pretrained_encoder_ : a copy of the encoder as self-supervision left it (only with self-supervision).

    Introduced in chapter *Feature selection with SEFS*.
    """

    def __init__(self, self_supervision: bool = True, copula: bool = True, alpha: float = 10.0, pi_ss: float = 0.5,
                 lam: float = 1.0, pi_init: float = 0.5, hidden: int = 100, n_layers: int = 3, z_dim: int = 10,
                 temperature: float = 1.0, lr_ss: float = 1e-3, batch_size_ss: int = 64, epochs_ss: int = 20,
                 patience_ss: int = 5, lr: float = 1e-2, batch_size: int = 32, epochs: int = 300,
                 threshold: float = 0.5, shrinkage: float | None = None, encoder_from=None, seed: int = 0,
                 device: str = "cpu", progress: bool = True):
        self.self_supervision = self_supervision
        self.copula = copula
        self.alpha = alpha
        self.pi_ss = pi_ss
        self.lam = lam
        self.pi_init = pi_init
        self.hidden = hidden
        self.n_layers = n_layers
        self.z_dim = z_dim
        self.temperature = temperature
        self.lr_ss = lr_ss
        self.batch_size_ss = batch_size_ss
        self.epochs_ss = epochs_ss
        self.patience_ss = patience_ss
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.threshold = threshold
        self.shrinkage = shrinkage
        self.encoder_from = encoder_from
        self.seed = seed
        self.device = device
        self.progress = progress

    # -- checks -------------------------------------------------------------------------------------------------------
    def _check_params(self) -> torch.device:
        for name in ("self_supervision", "copula", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise OmicsInputError(f"{name}={getattr(self, name)!r} must be True or False")
        check_float("alpha", self.alpha, 0.0)
        check_float("pi_ss", self.pi_ss, 0.0, 1.0, low_open=True, high_open=True)
        check_float("lam", self.lam, 0.0)
        check_float("pi_init", self.pi_init, 0.0, 1.0, low_open=True, high_open=True)
        check_int("hidden", self.hidden, 1)
        check_int("n_layers", self.n_layers, 2)
        check_int("z_dim", self.z_dim, 1)
        check_float("temperature", self.temperature, 0.0, low_open=True)
        check_float("lr_ss", self.lr_ss, 0.0, low_open=True)
        check_int("batch_size_ss", self.batch_size_ss, 2)
        check_int("epochs_ss", self.epochs_ss, 1)
        check_int("patience_ss", self.patience_ss, 1)
        check_float("lr", self.lr, 0.0, low_open=True)
        check_int("batch_size", self.batch_size, 1)
        check_int("epochs", self.epochs, 1)
        check_float("threshold", self.threshold, 0.0, 1.0)
        check_int("seed", self.seed, 0)
        if self.encoder_from is not None:
            if not isinstance(self.encoder_from, SEFS) or not hasattr(self.encoder_from, "encoder_"):
                raise OmicsInputError("encoder_from must be a fitted SEFS; fit one first or pass encoder_from=None")
            if self.encoder_from.history_ss_ is None:
                raise OmicsInputError("encoder_from was fitted without self-supervision; pass one with a pretrained encoder")
            if self.encoder_from.copula != self.copula:
                raise OmicsInputError(f"encoder_from used copula={self.encoder_from.copula}; pass the same copula setting")
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError) as err:
            raise OmicsInputError(f"device={self.device!r} is not a torch device; pass 'cpu' or 'cuda'") from err

    # -- fitting ------------------------------------------------------------------------------------------------------
    def fit(self, X, y, X_unlabeled=None) -> SEFS:
        """Self-supervision on ``X_unlabeled`` (if enabled), then selection and prediction on labelled ``(X, y)``.

        ``X_unlabeled`` (same features) feeds the scaling, the correlation matrix and the self-supervision phase;
        without it the labelled ``X`` is used for the first two and self-supervision must be off.
        """
        device = self._check_params()
        features = as_feature_matrix(X)
        labels = as_label_vector(y, len(features))
        self.n_features_in_ = features.shape[1]
        if X_unlabeled is not None:
            unlabeled = as_feature_matrix(X_unlabeled, name="X_unlabeled", n_features=self.n_features_in_,
                                          fitted="given as X")
        elif self.self_supervision and self.encoder_from is None:
            raise OmicsInputError("self_supervision=True needs X_unlabeled; pass unlabelled samples or self_supervision=False")
        else:
            unlabeled = features[:0]
        if self.encoder_from is not None and self.encoder_from.n_features_in_ != self.n_features_in_:
            raise OmicsInputError(f"encoder_from was fitted on {self.encoder_from.n_features_in_} features, X has "
                                  f"{self.n_features_in_}; pass the same features")
        label_encoder = LabelEncoder()
        codes = label_encoder.fit_transform(labels)
        self.classes_ = label_encoder.classes_
        if len(self.classes_) < 2:
            raise OmicsInputError(f"y has {len(self.classes_)} class; feature selection for a label needs at least 2")

        if self.encoder_from is not None:
            source = self.encoder_from
            self.mean_, self.scale_, self.chol_ = source.mean_, source.scale_, source.chol_
            self.encoder_ = copy.deepcopy(source.pretrained_encoder_).to(device)
            self.history_ss_ = source.history_ss_
        else:
            pooled = np.concatenate([unlabeled, features]) if len(unlabeled) else features
            self.mean_ = pooled.mean(0)
            sd = pooled.std(0)
            self.scale_ = np.where(sd > 0, sd, 1.0).astype(np.float32)
            if self.copula:
                self.chol_ = correlation_cholesky(unlabeled if len(unlabeled) >= 2 else features,
                                                  shrinkage=self.shrinkage).to(device)
            else:
                self.chol_ = None
            with torch_seed(self.seed):
                self.encoder_ = _fcnet(self.n_features_in_, self.hidden, self.n_layers, self.z_dim).to(device)
            self.history_ss_ = None
            if self.self_supervision:
                self._self_supervision_phase(self._scaled(unlabeled, device), device)
        self._selection_phase(self._scaled(features, device), torch.as_tensor(codes, device=device), device)
        return self

    def _scaled(self, X: np.ndarray, device) -> torch.Tensor:
        return torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32, device=device)

    def _uniforms(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return copula_uniforms(n, self.n_features_in_, self.chol_, generator, device=generator.device)

    def ss_step(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The self-supervision loss of one batch ``x`` (scaled): gate, fill with the mean, reconstruct both."""
        pi = torch.full((x.shape[1],), self.pi_ss, device=x.device)
        m = hard_gates(pi, self._uniforms(len(x), generator))
        x_tilde, kept = gate_and_fill(x, m, self.ss_mean_)
        z = self.encoder_(x_tilde)
        feature_mse = F.mse_loss(self.decoders_["feature"](z), x)
        gate_bce = F.binary_cross_entropy_with_logits(self.decoders_["gate"](z), kept)
        return {"loss": feature_mse + self.alpha * gate_bce, "feature_mse": feature_mse.detach(),
                "gate_bce": gate_bce.detach()}

    def _self_supervision_phase(self, x_all: torch.Tensor, device) -> None:
        n = len(x_all)
        if n < 4:
            raise OmicsInputError(f"X_unlabeled has {n} samples; self-supervision needs at least 4 (pass more)")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        n_val = max(1, n // 10)
        x_val, x_train = x_all[order[:n_val]], x_all[order[n_val:]]
        self.ss_mean_ = x_train.mean(0)
        p = self.n_features_in_
        with torch_seed(self.seed + 1):
            self.decoders_ = nn.ModuleDict({
                "feature": _fcnet(self.z_dim, self.hidden, self.n_layers, p),
                "gate": _fcnet(self.z_dim, self.hidden, self.n_layers, p),
            }).to(device)
        fixed = torch.Generator(device=device).manual_seed(self.seed + 2)  # the same validation gates every epoch

        def validate() -> dict[str, float]:
            terms = self.ss_step(x_val, fixed.manual_seed(self.seed + 2))
            return {"val_loss": float(terms["loss"])}

        result = fit_loop(lambda idx, gen: self.ss_step(x_train[idx], gen), [self.encoder_, self.decoders_],
                          len(x_train), epochs=self.epochs_ss, batch_size=self.batch_size_ss, lr=self.lr_ss,
                          seed=self.seed, validate=validate, patience=self.patience_ss, device=device,
                          desc="SEFS self-supervision", progress=self.progress)
        self.history_ss_ = result.history
        self.pretrained_encoder_ = copy.deepcopy(self.encoder_)  # kept for encoder_from: selection changes encoder_

    def selection_step(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The selection loss of one labelled batch: relaxed copula gates, ``CE + lam * mean(pi)``."""
        m = relaxed_gates(self.gates_.logit, self._uniforms(len(x), generator), self.temperature)
        logits = self.predictor_(self.encoder_(x * m))
        ce = F.cross_entropy(logits, y)
        sparsity = self.gates_().mean()
        return {"loss": ce + self.lam * sparsity, "cross_entropy": ce.detach(), "mean_pi": sparsity.detach()}

    def _selection_phase(self, x: torch.Tensor, y: torch.Tensor, device) -> None:
        pretrained = self.history_ss_ is not None
        linears = [layer for layer in self.encoder_ if isinstance(layer, nn.Linear)]
        for layer in linears:
            layer.requires_grad_(not pretrained or layer is linears[-1])
        with torch_seed(self.seed + 3):
            self.predictor_ = nn.Linear(self.z_dim, len(self.classes_)).to(device)
            self.gates_ = _Gates(self.n_features_in_, self.pi_init).to(device)
        result = fit_loop(lambda idx, gen: self.selection_step(x[idx], y[idx], gen),
                          [self.encoder_, self.predictor_, self.gates_], len(x), epochs=self.epochs,
                          batch_size=self.batch_size, lr=self.lr, seed=self.seed + 4, device=device,
                          desc="SEFS selection", progress=self.progress)
        self.history_ = result.history
        self.encoder_.requires_grad_(True)
        self.feature_importances_ = self.gates_().detach().cpu().numpy().astype(np.float64)
        self.selected_ = self.feature_importances_ > self.threshold

    # -- using the fitted model ---------------------------------------------------------------------------------------
    def _features(self, X) -> torch.Tensor:
        check_is_fitted(self, "feature_importances_")
        features = as_feature_matrix(X, n_features=self.n_features_in_)
        return self._scaled(features, next(self.predictor_.parameters()).device)

    @torch.no_grad()
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities from the selected features only (hard gates ``pi > threshold``, the rest set to 0)."""
        x = self._features(X) * torch.as_tensor(self.selected_, dtype=torch.float32, device=self.gates_.logit.device)
        logits = forward_in_batches(nn.Sequential(self.encoder_, self.predictor_), x)
        return torch.softmax(logits, 1).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Most probable class (original labels) from the selected features."""
        return self.classes_[self.predict_proba(X).argmax(1)]

    def transform(self, X) -> np.ndarray:
        """The columns of ``X`` that were selected (``selected_``)."""
        check_is_fitted(self, "feature_importances_")
        return as_feature_matrix(X, n_features=self.n_features_in_)[:, self.selected_]


def stochastic_gates(**params) -> SEFS:
    """Plain stochastic gates: :class:`SEFS` with ``self_supervision=False, copula=False`` (nothing else changes).

    The same relaxed Bernoulli gates with independent draws, trained from scratch on the labelled data only; the
    ablation of both of SEFS's ideas. Introduced in chapter *Feature selection with SEFS*.
    """
    for name in ("self_supervision", "copula"):
        if name in params:
            raise OmicsInputError(f"stochastic_gates fixes {name}=False; build SEFS(...) directly to change it")
    return SEFS(self_supervision=False, copula=False, **params)


# ---------------------------------------------------------------------------------------------------------------------
# Scoring a selection against the truth
# ---------------------------------------------------------------------------------------------------------------------
def selection_scores(importance, relevant, *, selected=None, threshold: float = 0.5, blocks=None) -> dict[str, float]:
    """How well ``importance`` (one score per feature) and a selection recover the ``relevant`` features (bool).

    ``selected`` defaults to ``importance > threshold``. Returns ``n_selected``; ``tpr`` (share of relevant
    features selected); ``fdr`` (share of selected features that are not relevant; 0 when nothing is selected);
    ``auroc`` (how well the importances rank relevant above irrelevant features; ties count half); and, with
    ``blocks`` (one group id per feature), ``block_tpr``: share of relevant blocks with at least one selected
    feature -- the fair score when a block holds near-copies of one signal. Introduced in chapter *Feature selection
    with SEFS*.
    """
    score = np.asarray(importance, dtype=np.float64).ravel()
    truth = np.asarray(relevant, dtype=bool).ravel()
    if score.shape != truth.shape or not np.isfinite(score).all():
        raise OmicsInputError(f"importance ({score.size}) and relevant ({truth.size}) must be finite and of equal "
                              "length; pass one value per feature")
    if truth.all() or not truth.any():
        raise OmicsInputError("relevant must mark some features True and some False")
    chosen = score > threshold if selected is None else np.asarray(selected, dtype=bool).ravel()
    if chosen.shape != truth.shape:
        raise OmicsInputError(f"selected has {chosen.size} entries for {truth.size} features; pass one per feature")
    n_sel = int(chosen.sum())
    out = {"n_selected": n_sel, "tpr": float((chosen & truth).sum() / truth.sum()),
           "fdr": float((chosen & ~truth).sum() / n_sel) if n_sel else 0.0,
           "auroc": float(roc_auc_score(truth, score))}
    if blocks is not None:
        groups = pd.Series(np.asarray(blocks).ravel())
        if len(groups) != len(truth):
            raise OmicsInputError(f"blocks has {len(groups)} entries for {len(truth)} features; pass one per feature")
        hit = pd.Series(chosen).groupby(groups).any()
        rel = pd.Series(truth).groupby(groups).any()
        out["block_tpr"] = float(hit[rel].mean())
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Baselines and the comparison the chapter runs
# ---------------------------------------------------------------------------------------------------------------------
SELECTORS = ("SEFS", "SEFS without SS", "SEFS without copula", "stochastic gates", "L1-logistic", "random forest")
_SWITCHES = {"SEFS": (True, True), "SEFS without SS": (False, True), "SEFS without copula": (True, False),
             "stochastic gates": (False, False)}


def l1_logistic_importance(X, y, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """|coefficients| of an L1-penalised logistic regression on z-scored ``X``, and the selection ``coef != 0``.

    The penalty is chosen by stratified cross-validation (log loss) over 10 values of ``C`` in [0.01, 100] (at most 3
    folds; ``C = 1`` when a class has a single sample). Introduced in chapter *Feature selection with SEFS*.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.preprocessing import StandardScaler

    Xs = StandardScaler().fit_transform(as_feature_matrix(X))
    labels = np.asarray(y)
    folds = int(min(3, np.bincount(LabelEncoder().fit_transform(labels)).min()))
    if folds >= 2:
        model = LogisticRegressionCV(Cs=np.logspace(-2, 2, 10), cv=folds, l1_ratios=(1.0,), solver="liblinear",
                                     scoring="neg_log_loss", use_legacy_attributes=False, random_state=seed)
    else:
        model = LogisticRegression(C=1.0, l1_ratio=1.0, solver="liblinear", random_state=seed)
    model.fit(Xs, labels)
    coef = np.abs(model.coef_).max(0)
    return coef, coef > 0


def forest_importance(X, y, *, seed: int = 0, n_estimators: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Random-forest impurity importances, and the selection "above the uniform share ``1/p``"."""
    from sklearn.ensemble import RandomForestClassifier

    features = as_feature_matrix(X)
    forest = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=1).fit(features, np.asarray(y))
    importance = forest.feature_importances_
    return importance, importance > 1.0 / features.shape[1]


def topk_accuracy(task, importance, ks, *, n_neighbors: int = 3) -> dict[int, float]:
    """Test accuracy of a k-nearest-neighbour classifier trained on the labelled samples with the top-``k`` features.

    Features are z-scored with the unlabelled samples' statistics; ties in ``importance`` keep column order. k-NN
    weighs every feature it is given equally, so irrelevant features cost it accuracy: the curve shows what a
    selector's ranking is worth. Introduced in chapter *Feature selection with SEFS*.
    """
    from sklearn.neighbors import KNeighborsClassifier

    order = np.argsort(-np.asarray(importance), kind="stable")
    mean, sd = task.X_unlabeled.mean(0), task.X_unlabeled.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    train, test = (task.X_labeled - mean) / sd, (task.X_test - mean) / sd
    out = {}
    for k in ks:
        cols = order[: int(k)]
        knn = KNeighborsClassifier(n_neighbors=min(n_neighbors, len(train))).fit(train[:, cols], task.y_labeled)
        out[int(k)] = float((knn.predict(test[:, cols]) == task.y_test).mean())
    return out


def compare_selectors(task, *, methods=SELECTORS, params: dict | None = None, ks=(), pretrained: dict | None = None,
                      seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[bool, SEFS]]:
    """Run each selector in ``methods`` (names from :data:`SELECTORS`) on ``task`` and score it against its truth.

    The four gate models are :class:`SEFS` with ``params`` and their two switches; ``pretrained`` maps ``copula`` ->
    a fitted SEFS with self-supervision on the same unlabelled samples, whose encoder is then reused (the labels
    may differ). Returns one row per method (:func:`selection_scores` -- if the task marks some features relevant --,
    ``acc@k`` from :func:`topk_accuracy` for each ``k`` in ``ks``, and seconds), the importances by method, and the
    pretrained models by ``copula`` for reuse. Introduced in chapter *Feature selection with SEFS*.
    """
    import time

    unknown = [m for m in methods if m not in SELECTORS]
    if unknown:
        raise OmicsInputError(f"unknown selector {unknown[0]!r}; pass names from: {', '.join(SELECTORS)}")
    params = dict(params or {})
    pretrained = dict(pretrained or {})
    known = task.relevant.any() and not task.relevant.all()
    rows, importances = [], {}
    for name in methods:
        start = time.perf_counter()
        if name in _SWITCHES:
            ss, cop = _SWITCHES[name]
            source = pretrained.get(cop) if ss else None
            model = SEFS(self_supervision=ss, copula=cop, encoder_from=source, seed=seed, **params)
            model.fit(task.X_labeled, task.y_labeled, task.X_unlabeled)
            if ss and source is None:
                pretrained[cop] = model
            importance, selected = model.feature_importances_, model.selected_
        elif name == "L1-logistic":
            importance, selected = l1_logistic_importance(task.X_labeled, task.y_labeled, seed=seed)
        else:
            importance, selected = forest_importance(task.X_labeled, task.y_labeled, seed=seed)
        seconds = time.perf_counter() - start
        row = {"method": name, "n_selected": int(selected.sum())}
        if known:
            row.update(selection_scores(importance, task.relevant, selected=selected, blocks=task.blocks))
        row.update({f"acc@{k}": v for k, v in topk_accuracy(task, importance, ks).items()})
        row["seconds"] = seconds
        rows.append(row)
        importances[name] = np.asarray(importance, dtype=np.float64)
    return pd.DataFrame(rows), importances, pretrained
