r"""DeepIMV: prediction from several omics views, any of which may be missing (Lee and van der Schaar, AISTATS 2021).

Model
-----
Each view :math:`v` has a stochastic encoder, an MLP giving the mean and log-variance of a Gaussian
:math:`q(z \mid x_v) = N(\mu_v, \sigma_v^2)` in a shared latent space. The views a sample has are combined by a
**product of experts** with a standard-normal prior expert (:func:`product_of_experts`)::

    precision = 1 / prior_var + sum_v m_v exp(-log var_v)
    mu        = (1 / precision) * sum_v m_v exp(-log var_v) mu_v

with :math:`m_v = 1` when the view is observed. A missing view simply contributes no expert, so any pattern of
observed views gives a posterior, and a sample with none falls back to the prior. A **joint predictor** (an MLP)
reads :math:`z \sim q(z \mid \text{observed views})`, and one **marginal predictor** per view reads
:math:`z_v \sim q(z \mid x_v)`.

Loss (the variational information bottleneck, per mini-batch)::

    L = [CE(y, joint(z)) + beta KL(q(z | X) || N(0, I))]
        + alpha * sum_v masked-mean_i [CE(y, marginal_v(z_v)) + beta KL(q(z_v | x_v) || N(0, I))]

where the masked mean averages over the batch's samples that have view ``v`` (a view no sample of the batch has adds
nothing). The encoders only ever see the rows of samples that have their view, so a missing view's encoder receives
exactly zero gradient from that sample, whatever the missing row holds. The reference code also computes a
consistency term, KL between the joint and each marginal posterior, but leaves it out of the objective (its author:
not helpful); it is left out here too. Defaults: ``alpha = 1``, ``beta = 0.01``, dropout 0.3 (keep probability 0.7)
and Adam with first-moment decay 0.5, as in the reference; the network is smaller and the learning rate higher
(1e-3 rather than 1e-4) so that it trains in seconds on a CPU.

Prediction averages the joint predictor's class probabilities over ``n_draws`` posterior samples, drawn from a
generator seeded by ``seed``, so predictions are reproducible. The evaluation protocol of the paper -- every test
sample keeps a random subset of its views -- is :func:`drop_views`.

Baselines: :class:`ConcatClassifier` (concatenate the views, fill missing views by the training mean -- the
reference's "Base1" -- or by an imputer such as :class:`omicsnb.impute.VAEImputer`, then one classifier) and
:class:`LateFusion` (one classifier per view, probabilities averaged over the views a sample has, or the best
available view alone).

Introduced in the DeepIMV chapter (Lee and van der Schaar, incomplete multi-view learning).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.preprocessing import LabelEncoder
from torch import nn

from omicsnb.training import fit_loop, torch_seed
from omicsnb.validation import OmicsInputError, as_label_vector, check_float, check_int

__all__ = ["ConcatClassifier", "DeepIMV", "DeepIMVNetwork", "LateFusion", "drop_views", "gaussian_kl",
           "held_out_information", "product_of_experts", "view_subsets"]


# ---------------------------------------------------------------------------------------------------------------------
# The product of experts and the evaluation protocol
# ---------------------------------------------------------------------------------------------------------------------
def product_of_experts(mu: torch.Tensor, log_var: torch.Tensor, mask: torch.Tensor,
                       prior_var: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine Gaussian experts ``(samples, views, dims)`` with a ``N(0, prior_var)`` prior expert.

    ``mask`` is ``(samples, views)``, 1 (or True) where the view is observed. Returns the joint mean and log-variance,
    each ``(samples, dims)``. Masked experts are removed with ``torch.where``, so whatever they hold (even NaN) does
    not reach the result or its gradient. Introduced in the DeepIMV chapter.
    """
    check_float("prior_var", prior_var, 0.0, low_open=True)
    if mu.shape != log_var.shape or mu.ndim != 3 or mask.shape != mu.shape[:2]:
        raise OmicsInputError(f"need mu and log_var of shape (samples, views, dims) and mask (samples, views); got "
                              f"{tuple(mu.shape)}, {tuple(log_var.shape)}, {tuple(mask.shape)}")
    keep = mask.bool().unsqueeze(-1)
    precision = torch.where(keep, torch.exp(-torch.where(keep, log_var, 0.0)), 0.0)
    weighted = torch.where(keep, precision * torch.where(keep, mu, 0.0), 0.0)
    total = 1.0 / prior_var + precision.sum(dim=1)
    joint_var = 1.0 / total
    return joint_var * weighted.sum(dim=1), torch.log(joint_var)


def gaussian_kl(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(log_var)) || N(0, I)) per row, summed over the last dimension. Introduced in the DeepIMV chapter."""
    return 0.5 * (torch.exp(log_var) + mu**2 - 1.0 - log_var).sum(dim=-1)


def drop_views(observed, n_keep: int, *, seed: int = 0) -> np.ndarray:
    """The test protocol of the paper: each sample keeps a random ``n_keep`` of the views it has.

    ``observed`` is a ``(samples, views)`` bool array (or DataFrame); the result has exactly ``n_keep`` True entries
    per row, all among the observed ones, and depends only on ``observed``, ``n_keep`` and ``seed``.
    Introduced in the DeepIMV chapter.
    """
    mask = np.asarray(observed, dtype=bool)
    if mask.ndim != 2:
        raise OmicsInputError(f"observed must be (samples, views), got shape {mask.shape}")
    check_int("n_keep", n_keep, 1, mask.shape[1])
    check_int("seed", seed, 0)
    short = np.flatnonzero(mask.sum(axis=1) < n_keep)
    if len(short):
        raise OmicsInputError(f"sample {short[0]} has fewer than n_keep={n_keep} views ({len(short)} such samples); "
                              "test on samples that have enough views")
    keys = np.random.default_rng(seed).random(mask.shape)
    keys[~mask] = np.inf
    ranks = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    return ranks < n_keep


def view_subsets(n_views: int) -> list[tuple[int, ...]]:
    """Every non-empty subset of ``range(n_views)``, smallest first. Introduced in the DeepIMV chapter."""
    check_int("n_views", n_views, 1, 12)
    return [s for k in range(1, n_views + 1) for s in itertools.combinations(range(n_views), k)]


# ---------------------------------------------------------------------------------------------------------------------
# Views in, arrays out
# ---------------------------------------------------------------------------------------------------------------------
def _view_list(views, what: str = "views") -> tuple[list[np.ndarray], list[str]]:
    """Views (a dict or a list of arrays/DataFrames with the same rows) as float64 arrays, with their names."""
    if isinstance(views, Mapping):
        names, items = [str(k) for k in views], list(views.values())
    elif isinstance(views, Sequence) and not isinstance(views, (str, bytes)):
        items = list(views)
        names = [f"view{k + 1}" for k in range(len(items))]
    else:
        raise OmicsInputError(f"{what} must be a list or a dict of arrays (samples x features), one per view; "
                              f"got {type(views).__name__}")
    if not items:
        raise OmicsInputError(f"{what} is empty; pass at least one view")
    arrays = []
    for name, item in zip(names, items):
        try:
            array = (item.to_numpy(dtype=np.float64, na_value=np.nan) if isinstance(item, pd.DataFrame)
                     else np.asarray(item, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise OmicsInputError(f"view {name!r} is not numeric ({err}); pass numbers, NaN for missing") from err
        if array.ndim != 2 or array.shape[1] == 0:
            raise OmicsInputError(f"view {name!r} must be 2-D (samples x features) but has shape {array.shape}")
        arrays.append(array)
    n = {len(a) for a in arrays}
    if len(n) != 1:
        raise OmicsInputError(f"the views have different numbers of samples {sorted(n)}; pass the same samples (rows) "
                              "in every view, with NaN rows where a view is missing")
    return arrays, names


def _observed_mask(arrays: list[np.ndarray], names: list[str], observed) -> np.ndarray:
    """Which samples have which view: given, or read from NaN rows; an observed row must be finite."""
    n = len(arrays[0])
    if observed is None:
        mask = np.stack([~np.isnan(a).all(axis=1) for a in arrays], axis=1)
    else:
        mask = np.asarray(observed)
        if mask.shape != (n, len(arrays)):
            raise OmicsInputError(f"observed has shape {mask.shape} but there are {n} samples and {len(arrays)} "
                                  "views; pass a (samples, views) bool array")
        if mask.dtype != bool:
            if not np.isin(mask, (0, 1)).all():
                raise OmicsInputError("observed must hold True/False (or 1/0): True where the sample has the view")
            mask = mask.astype(bool)
    for j, (array, name) in enumerate(zip(arrays, names)):
        bad = ~np.isfinite(array[mask[:, j]]).all(axis=1)
        if bad.any():
            raise OmicsInputError(f"view {name!r} has NaN or infinite values in {int(bad.sum())} observed samples; "
                                  "impute values missing within a view first, or mark the whole view missing")
    return mask


def _check_fitted(model, attribute: str = "n_views_") -> None:
    if not hasattr(model, attribute):
        raise OmicsInputError(f"{type(model).__name__} is not fitted; call fit(views, y) first")


class _ViewScaler:
    """Per-view feature means and standard deviations over the samples that have the view; missing rows become 0."""

    def fit(self, arrays: list[np.ndarray], mask: np.ndarray, standardize: bool) -> _ViewScaler:
        self.means, self.sds = [], []
        for j, array in enumerate(arrays):
            rows = array[mask[:, j]]
            if len(rows) == 0:
                raise OmicsInputError(f"view {j + 1} is missing in every training sample; drop it or add samples")
            mean = rows.mean(axis=0) if standardize else np.zeros(array.shape[1])
            sd = rows.std(axis=0) if standardize and len(rows) > 1 else np.ones(array.shape[1])
            self.means.append(mean)
            self.sds.append(np.where(sd > 0, sd, 1.0))
        return self

    def transform(self, arrays: list[np.ndarray], mask: np.ndarray) -> list[np.ndarray]:
        out = []
        for j, array in enumerate(arrays):
            scaled = np.zeros(array.shape, dtype=np.float32)
            rows = mask[:, j]
            scaled[rows] = (array[rows] - self.means[j]) / self.sds[j]
            out.append(scaled)
        return out


# ---------------------------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------------------------
def _mlp(n_in: int, hidden: Sequence[int], n_out: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(n_in, width), nn.ReLU(), nn.Dropout(dropout)]
        n_in = width
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class DeepIMVNetwork(nn.Module):
    """View encoders, the joint predictor and one marginal predictor per view. Introduced in the DeepIMV chapter."""

    def __init__(self, view_dims: Sequence[int], n_classes: int, z_dim: int, encoder_hidden: Sequence[int],
                 predictor_hidden: Sequence[int], dropout: float):
        super().__init__()
        self.z_dim = z_dim
        self.encoders = nn.ModuleList(_mlp(d, encoder_hidden, 2 * z_dim, dropout) for d in view_dims)
        self.joint_predictor = _mlp(z_dim, predictor_hidden, n_classes, dropout)
        self.view_predictors = nn.ModuleList(_mlp(z_dim, predictor_hidden, n_classes, dropout) for _ in view_dims)

    def encode(self, xs: Sequence[torch.Tensor], mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-view means and log-variances ``(samples, views, z_dim)``; each encoder sees only its observed rows."""
        n = len(mask)
        mus, log_vars = [], []
        for j, (encoder, x) in enumerate(zip(self.encoders, xs)):
            rows = torch.nonzero(mask[:, j], as_tuple=True)[0]
            mu = torch.zeros(n, self.z_dim, device=x.device)
            log_var = torch.zeros(n, self.z_dim, device=x.device)
            if len(rows):
                out = encoder(x[rows])
                mu = mu.index_copy(0, rows, out[:, : self.z_dim])
                log_var = log_var.index_copy(0, rows, out[:, self.z_dim :])
            mus.append(mu)
            log_vars.append(log_var)
        return torch.stack(mus, dim=1), torch.stack(log_vars, dim=1)

    def joint_posterior(self, xs, mask) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encode(xs, mask)
        return product_of_experts(mu, log_var, mask)


# ---------------------------------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------------------------------
class DeepIMV:
    """Deep information-bottleneck classifier for incomplete multi-view data (see the module docstring).

    Introduced in the DeepIMV chapter (Lee and van der Schaar, AISTATS 2021).

    Parameters
    ----------
    z_dim
        Latent dimension (the reference: 50 on digits, 100 on TCGA).
    encoder_hidden, predictor_hidden
        Hidden layer widths of every view encoder and of every predictor (the reference on TCGA: three encoder
        layers of 300, two predictor layers of 100).
    alpha
        Weight of the marginal (per-view) terms; 0 trains the joint path only.
    beta
        Weight of the KL terms (the information bottleneck); 0 drops the compression.
    dropout
        Dropout rate of the hidden layers (the reference's keep probability 0.7 is a rate of 0.3).
    lr, adam_beta1, weight_decay, batch_size, epochs, patience
        Adam's learning rate, first-moment decay (0.5 in the reference) and L2 penalty; mini-batch size; the most
        epochs; early-stopping patience (epochs without a lower validation cross-entropy; used when ``fit`` gets
        ``validation``).
    n_draws
        Posterior samples averaged per prediction (the reference: 10).
    standardize
        Z-score each view's features with the mean and sd of the training samples that have the view.
    seed
        Seeds initialisation, batches, latent noise and prediction draws: same data and seed, same numbers.
    device
        ``"cpu"`` or ``"cuda"`` (the ``paper`` profile's scale); numbers on a GPU differ slightly from the CPU's.
    progress
        Show a tqdm bar over epochs.

    Attributes
    ----------
    classes_, n_views_, view_names_, view_dims_ : the labels (column order of :meth:`predict_proba`), the views.
    network_ : :class:`DeepIMVNetwork`; history_ : per-epoch losses (``loss``, ``joint``, ``marginal``, ``kl``,
        ``val_loss``); best_epoch_ : the epoch whose weights were kept.
    """

    def __init__(self, *, z_dim: int = 16, encoder_hidden: Sequence[int] = (64,),
                 predictor_hidden: Sequence[int] = (32,), alpha: float = 1.0, beta: float = 0.01, dropout: float = 0.3,
                 lr: float = 1e-3, adam_beta1: float = 0.5, weight_decay: float = 0.0, batch_size: int = 128,
                 epochs: int = 100, patience: int = 10, n_draws: int = 10, standardize: bool = True, seed: int = 0,
                 device: str = "cpu", progress: bool = True):
        self.z_dim, self.encoder_hidden, self.predictor_hidden = z_dim, encoder_hidden, predictor_hidden
        self.alpha, self.beta, self.dropout = alpha, beta, dropout
        self.lr, self.adam_beta1, self.weight_decay = lr, adam_beta1, weight_decay
        self.batch_size, self.epochs, self.patience, self.n_draws = batch_size, epochs, patience, n_draws
        self.standardize, self.seed, self.device, self.progress = standardize, seed, device, progress

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("z_dim", "encoder_hidden", "predictor_hidden", "alpha", "beta",
                                              "dropout", "lr", "adam_beta1", "weight_decay", "batch_size", "epochs",
                                              "patience", "n_draws", "standardize", "seed", "device", "progress")}

    def _check_params(self) -> torch.device:
        check_int("z_dim", self.z_dim, 1)
        for name in ("encoder_hidden", "predictor_hidden"):
            widths = getattr(self, name)
            if not isinstance(widths, (tuple, list)):
                raise OmicsInputError(f"{name}={widths!r} must be a list of layer widths, e.g. [128, 128] (or [])")
            for w in widths:
                check_int(f"{name} width", w, 1)
        check_float("alpha", self.alpha, 0.0)
        check_float("beta", self.beta, 0.0)
        check_float("dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_float("lr", self.lr, 0.0, low_open=True)
        check_float("adam_beta1", self.adam_beta1, 0.0, 1.0, high_open=True)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_int("batch_size", self.batch_size, 2)
        check_int("epochs", self.epochs, 1)
        check_int("patience", self.patience, 1)
        check_int("n_draws", self.n_draws, 1)
        check_int("seed", self.seed, 0)
        if not isinstance(self.standardize, bool):
            raise OmicsInputError(f"standardize must be True or False, got {self.standardize!r}")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as err:
            raise OmicsInputError(f"device={self.device!r} is not a torch device; pass 'cpu' or 'cuda'") from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise OmicsInputError("device='cuda' but no GPU is available; pass device='cpu'")
        return device

    # -- inputs -------------------------------------------------------------------------------------------------------
    def _prepare(self, views, observed, what: str = "views") -> tuple[list[torch.Tensor], torch.Tensor]:
        arrays, names = _view_list(views, what)
        if len(arrays) != self.n_views_:
            raise OmicsInputError(f"{what} has {len(arrays)} views but the model was fitted on {self.n_views_}; pass "
                                  "the same views in the same order")
        for name, array, dim in zip(names, arrays, self.view_dims_):
            if array.shape[1] != dim:
                raise OmicsInputError(f"view {name!r} has {array.shape[1]} features but the model was fitted on {dim}; "
                                      "pass the same features in the same order")
        mask = _observed_mask(arrays, names, observed)
        scaled = self.scaler_.transform(arrays, mask)
        device = torch.device(self.device)
        return [torch.from_numpy(a).to(device) for a in scaled], torch.from_numpy(mask).to(device)

    # -- training -----------------------------------------------------------------------------------------------------
    def fit(self, views, y, observed=None, *, validation: tuple | None = None) -> DeepIMV:
        """Train on ``views`` (a list or dict of samples x features arrays, NaN rows for missing views) and labels ``y``.

        ``observed`` (samples x views, bool) overrides the NaN rows: a view marked missing is ignored whatever its row
        holds. ``validation`` is ``(views, y)`` or ``(views, y, observed)``; with it training stops once the joint
        cross-entropy on it has not fallen for ``patience`` epochs, and the best epoch's weights are kept.
        """
        device = self._check_params()
        arrays, names = _view_list(views)
        mask = _observed_mask(arrays, names, observed)
        labels = as_label_vector(y, len(arrays[0]))
        none = np.flatnonzero(~mask.any(axis=1))
        if len(none):
            raise OmicsInputError(f"training sample {none[0]} has no observed view ({len(none)} such samples); "
                                  "drop samples without any view")
        encoder = LabelEncoder()
        codes = encoder.fit_transform(labels)
        if len(encoder.classes_) < 2:
            raise OmicsInputError(f"y has {len(encoder.classes_)} class; a classifier needs at least 2 classes")
        self.classes_, self.n_views_, self.view_names_ = encoder.classes_, len(arrays), names
        self.view_dims_ = [a.shape[1] for a in arrays]
        self.scaler_ = _ViewScaler().fit(arrays, mask, self.standardize)
        xs = [torch.from_numpy(a).to(device) for a in self.scaler_.transform(arrays, mask)]
        m = torch.from_numpy(mask).to(device)
        target = torch.as_tensor(codes, dtype=torch.long, device=device)

        with torch_seed(self.seed):
            self.network_ = DeepIMVNetwork(self.view_dims_, len(self.classes_), self.z_dim, self.encoder_hidden,
                                           self.predictor_hidden, self.dropout).to(device)
        net = self.network_

        def step(idx: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            idx = idx.to(device)
            return self._loss([x[idx] for x in xs], m[idx], target[idx], generator)

        validate = None
        if validation is not None:
            if not isinstance(validation, tuple) or len(validation) not in (2, 3):
                raise OmicsInputError("validation must be a tuple (views, y) or (views, y, observed)")
            val_xs, val_mask = self._prepare(validation[0], validation[2] if len(validation) == 3 else None,
                                             "validation views")
            val_target = torch.as_tensor(self._encode_labels(validation[1], len(val_mask)), dtype=torch.long,
                                         device=device)

            def validate() -> dict[str, float]:
                mu, _ = net.joint_posterior(val_xs, val_mask)
                return {"val_loss": float(F.cross_entropy(net.joint_predictor(mu), val_target))}

        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr, betas=(self.adam_beta1, 0.999),
                                     weight_decay=self.weight_decay, fused=True)
        result = fit_loop(step, [net], len(codes), epochs=self.epochs, batch_size=self.batch_size, seed=self.seed,
                          optimizer=optimizer, validate=validate, patience=self.patience if validate else None,
                          device=device, desc="DeepIMV", progress=self.progress)
        self.history_, self.best_epoch_ = result.history, result.best_epoch
        net.eval()
        return self

    def _encode_labels(self, y, n: int) -> np.ndarray:
        labels = as_label_vector(y, n)
        unknown = set(pd.unique(labels)) - set(self.classes_)
        if unknown:
            raise OmicsInputError(f"labels {sorted(map(str, unknown))[:3]} were not seen in training; pass labels "
                                  f"from {list(self.classes_)}")
        return np.searchsorted(self.classes_, labels)

    def _loss(self, xs, mask, target, generator) -> dict[str, torch.Tensor]:
        """The objective for one mini-batch (see the module docstring), with its parts."""
        net = self.network_
        mu, log_var = net.encode(xs, mask)
        joint_mu, joint_log_var = product_of_experts(mu, log_var, mask)
        eps_joint = torch.randn(joint_mu.shape, generator=generator, device=generator.device)
        eps_views = torch.randn(mu.shape, generator=generator, device=generator.device)
        z = joint_mu + torch.exp(0.5 * joint_log_var) * eps_joint
        joint_ce = F.cross_entropy(net.joint_predictor(z), target)
        joint_kl = gaussian_kl(joint_mu, joint_log_var).mean()
        marginal = torch.zeros((), device=mu.device)
        for j, predictor in enumerate(net.view_predictors):
            rows = torch.nonzero(mask[:, j], as_tuple=True)[0]
            if len(rows) == 0:
                continue
            mu_j, log_var_j = mu[rows, j], log_var[rows, j]
            z_j = mu_j + torch.exp(0.5 * log_var_j) * eps_views[rows, j]
            ce_j = F.cross_entropy(predictor(z_j), target[rows])
            marginal = marginal + ce_j + self.beta * gaussian_kl(mu_j, log_var_j).mean()
        loss = joint_ce + self.beta * joint_kl + self.alpha * marginal
        return {"loss": loss, "joint": joint_ce.detach(), "kl": joint_kl.detach(), "marginal": marginal.detach()}

    # -- inference ----------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def posterior(self, views, observed=None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of the joint posterior ``q(z | observed views)``, each ``(samples, z_dim)``."""
        _check_fitted(self)
        xs, mask = self._prepare(views, observed)
        self.network_.eval()
        mu, log_var = self.network_.joint_posterior(xs, mask)
        return mu.cpu().numpy(), torch.exp(log_var).cpu().numpy()

    @torch.no_grad()
    def experts(self, views, observed=None) -> tuple[np.ndarray, np.ndarray]:
        """Each view's own posterior ``q(z | x_v)``: means and variances ``(samples, views, z_dim)``, NaN where the
        sample lacks the view."""
        _check_fitted(self)
        xs, mask = self._prepare(views, observed)
        self.network_.eval()
        mu, log_var = self.network_.encode(xs, mask)
        missing = ~mask.cpu().numpy()
        mu, var = mu.cpu().numpy().copy(), torch.exp(log_var).cpu().numpy().copy()
        mu[missing], var[missing] = np.nan, np.nan
        return mu, var

    def transform(self, views, observed=None) -> np.ndarray:
        """The joint latent mean of each sample, ``(samples, z_dim)``: the representation to plot or reuse."""
        return self.posterior(views, observed)[0]

    @torch.no_grad()
    def predict_proba(self, views, observed=None, *, n_draws: int | None = None) -> np.ndarray:
        """Class probabilities ``(samples, classes)``, averaged over ``n_draws`` posterior samples (seeded)."""
        _check_fitted(self)
        n_draws = self.n_draws if n_draws is None else n_draws
        check_int("n_draws", n_draws, 1)
        xs, mask = self._prepare(views, observed)
        net = self.network_
        net.eval()
        mu, log_var = net.joint_posterior(xs, mask)
        generator = torch.Generator(device=mu.device).manual_seed(self.seed + 7919)
        sd = torch.exp(0.5 * log_var)
        total = torch.zeros(len(mu), len(self.classes_), device=mu.device)
        for _ in range(n_draws):
            z = mu + sd * torch.randn(mu.shape, generator=generator, device=mu.device)
            total += torch.softmax(net.joint_predictor(z), dim=1)
        return (total / n_draws).cpu().numpy()

    def predict(self, views, observed=None) -> np.ndarray:
        """The most probable class of each sample."""
        return self.classes_[np.argmax(self.predict_proba(views, observed), axis=1)]


# ---------------------------------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------------------------------
def _default_classifier(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.05, max_iter=2000)


class ConcatClassifier:
    """Concatenate the views, fill the missing ones, and train one classifier: the early-fusion baseline.

    ``imputer=None`` fills a missing view with the training mean of its features (the reference's "Base1");
    otherwise ``imputer`` is an unfitted imputer with ``fit(X_complete)`` / ``transform(X_with_nan)`` (e.g.
    :class:`omicsnb.impute.VAEImputer`), fitted on the training samples that have every view (z-scored per view).
    ``classifier(seed)`` builds the classifier (``fit`` / ``predict_proba``); L2-penalised logistic regression by
    default. Introduced in the DeepIMV chapter.
    """

    def __init__(self, imputer=None, classifier: Callable[[int], Any] | None = None, *, seed: int = 0):
        self.imputer, self.classifier, self.seed = imputer, classifier, seed

    def _matrix(self, views, observed) -> np.ndarray:
        arrays, names = _view_list(views)
        if len(arrays) != self.n_views_ or [a.shape[1] for a in arrays] != self.view_dims_:
            raise OmicsInputError("the views differ from those in fit; pass the same views and features in order")
        mask = _observed_mask(arrays, names, observed)
        scaled = self.scaler_.transform(arrays, mask)
        X = np.hstack(scaled).astype(np.float64)
        if self.imputer is not None:
            nan_rows = np.hstack([np.repeat(~mask[:, [j]], d, axis=1) for j, d in enumerate(self.view_dims_)])
            incomplete = nan_rows.any(axis=1) & ~nan_rows.all(axis=1)
            if incomplete.any():
                X_nan = X[incomplete].copy()
                X_nan[nan_rows[incomplete]] = np.nan
                X[incomplete] = np.asarray(self.imputer.transform(X_nan))
        return X

    def fit(self, views, y, observed=None) -> ConcatClassifier:
        check_int("seed", self.seed, 0)
        arrays, names = _view_list(views)
        mask = _observed_mask(arrays, names, observed)
        labels = as_label_vector(y, len(arrays[0]))
        self.n_views_, self.view_dims_ = len(arrays), [a.shape[1] for a in arrays]
        self.scaler_ = _ViewScaler().fit(arrays, mask, True)
        if self.imputer is not None:
            complete = mask.all(axis=1)
            if complete.sum() < 2:
                raise OmicsInputError("fewer than 2 training samples have every view; an imputer needs complete samples")
            self.imputer.fit(np.hstack(self.scaler_.transform(arrays, mask))[complete].astype(np.float64))
        make = self.classifier or _default_classifier
        self.model_ = make(self.seed).fit(self._matrix(views, mask), labels)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, views, observed=None) -> np.ndarray:
        _check_fitted(self)
        return self.model_.predict_proba(self._matrix(views, observed))


class LateFusion:
    """One classifier per view; a sample's prediction averages those of the views it has (late fusion).

    ``predict_proba(..., mode="best")`` instead uses only the sample's best available view, ranked by
    :meth:`rank_views` on held-out data (the "best single view" baseline). Introduced in the DeepIMV chapter.
    """

    def __init__(self, classifier: Callable[[int], Any] | None = None, *, seed: int = 0):
        self.classifier, self.seed = classifier, seed

    def fit(self, views, y, observed=None) -> LateFusion:
        arrays, names = _view_list(views)
        mask = _observed_mask(arrays, names, observed)
        labels = as_label_vector(y, len(arrays[0]))
        self.classes_ = np.array(sorted(pd.unique(labels)))
        self.n_views_, self.view_names_, self.view_dims_ = len(arrays), names, [a.shape[1] for a in arrays]
        self.scaler_ = _ViewScaler().fit(arrays, mask, True)
        scaled = self.scaler_.transform(arrays, mask)
        make = self.classifier or _default_classifier
        self.models_ = []
        for j in range(len(arrays)):
            rows = mask[:, j]
            if len(pd.unique(labels[rows])) != len(self.classes_):
                raise OmicsInputError(f"the training samples with view {names[j]!r} lack a class; every view needs "
                                      "samples of every class")
            self.models_.append(make(self.seed + j).fit(scaled[j][rows], labels[rows]))
        self.view_order_ = list(range(len(arrays)))
        return self

    def view_proba(self, views, observed=None) -> np.ndarray:
        """Per-view probabilities ``(samples, views, classes)``, NaN where the sample lacks the view."""
        _check_fitted(self)
        arrays, names = _view_list(views)
        mask = _observed_mask(arrays, names, observed)
        scaled = self.scaler_.transform(arrays, mask)
        out = np.full((len(mask), len(arrays), len(self.classes_)), np.nan)
        for j, model in enumerate(self.models_):
            rows = mask[:, j]
            if rows.any():
                out[rows, j] = model.predict_proba(scaled[j][rows])
        return out

    def rank_views(self, views, y, observed=None) -> pd.DataFrame:
        """Held-out cross-entropy of each view's classifier on the samples that have it; sets the order for "best"."""
        proba = self.view_proba(views, observed)
        codes = np.searchsorted(self.classes_, as_label_vector(y, len(proba)))
        rows = []
        for j, name in enumerate(self.view_names_):
            seen = ~np.isnan(proba[:, j, 0])
            p = np.clip(proba[seen, j, codes[seen]], 1e-12, 1.0)
            rows.append({"view": name, "n": int(seen.sum()), "cross_entropy": float(-np.log(p).mean())})
        table = pd.DataFrame(rows)
        self.view_order_ = list(np.argsort(table["cross_entropy"].to_numpy(), kind="stable"))
        return table

    def predict_proba(self, views, observed=None, *, mode: str = "average") -> np.ndarray:
        if mode not in ("average", "best"):
            raise OmicsInputError(f"mode={mode!r} is unknown; pass 'average' or 'best'")
        proba = self.view_proba(views, observed)
        if mode == "average":
            return np.nanmean(proba, axis=1)
        out = np.full((len(proba), len(self.classes_)), np.nan)
        for j in reversed(self.view_order_):  # the best view is written last
            seen = ~np.isnan(proba[:, j, 0])
            out[seen] = proba[seen, j]
        return out


def held_out_information(proba: np.ndarray, y, classes, prior=None) -> float:
    """A lower bound on I(Y; Z) in nats: the label entropy minus the held-out cross-entropy of the predictions.

    ``prior`` is the label distribution whose entropy is used (the training frequencies); by default that of ``y``.
    Introduced in the DeepIMV chapter.
    """
    classes = np.asarray(classes)
    codes = np.searchsorted(classes, as_label_vector(y, len(proba)))
    if prior is None:
        prior = np.bincount(codes, minlength=len(classes)) / len(codes)
    prior = np.asarray(prior, dtype=float)
    entropy = float(-(prior[prior > 0] * np.log(prior[prior > 0])).sum())
    p = np.clip(np.asarray(proba)[np.arange(len(codes)), codes], 1e-12, 1.0)
    return entropy - float(-np.log(p).mean())

