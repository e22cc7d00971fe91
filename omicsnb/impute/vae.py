r"""Variational-autoencoder imputation (Qiu, Zheng & Gevaert, GigaScience 2020), with shift correction and beta.

Model
-----
Features are z-scored with the *training* mean and standard deviation
(:func:`omicsnb.data.preprocess.fit_standardizer`). The encoder ``G -> hidden[0] -> hidden[1] -> (mu_z, log var_z)``
and decoder ``latent -> hidden[1] -> hidden[0] -> mu_x`` use ReLU and Xavier initialisation; the paper's
architecture is ``hidden=(6000, 2000), latent=200`` (:data:`PAPER_HIDDEN`).
The decoder is Gaussian, :math:`p(x \mid z) = N(\mu_x(z), \mathrm{diag}(\sigma^2))`, with one
learned log-variance per feature (a parameter vector ``log_var_x``, not a function of :math:`z`; it starts at 0, i.e.
unit variance in z-score units). The reference code names its head "log sigma squared" but uses it as a standard
deviation; here :math:`\sigma_g = \exp(\tfrac12 \log\sigma^2_g)`. The loss per sample is the beta-VAE objective

.. math:: \tfrac12 \sum_g \big[\log 2\pi\sigma_g^2 + (x_g - \mu_{x,g})^2/\sigma_g^2\big]
          + \beta\,\mathrm{KL}\big(N(\mu_z, \sigma_z^2)\,\|\,N(0, I)\big),

with :math:`z = \mu_z + \sigma_z \odot \varepsilon` (reparameterisation). ``beta=0`` keeps the latent noise but drops
the KL term; ``deterministic=True`` is the plain autoencoder of the paper's comparison (:math:`z = \mu_z`, no noise,
no KL, same Gaussian reconstruction term).

Imputation
----------
New samples are scaled with the training statistics; missing entries start at 0 (the training mean, as in the
reference code; the paper's text says a standard-normal draw), and then ``n_iterations`` times (paper: 3): encode
to :math:`\mu_z`, decode to :math:`\mu_x`, and overwrite *only* the missing entries. The root-mean-square change of
the missing entries at each iteration is kept in ``convergence_``. The result is inverse-scaled.

Shift correction (MNAR, low values missing)
-------------------------------------------
The paper replaces the decoder distribution of the missing values by :math:`N(\mu + \lambda\sigma, \sigma)`, where
:math:`\mu` and :math:`\sigma` are the *decoder's* mean and standard deviation for that entry. Here that is
:math:`\mu_{x,g}(z)` and the learned per-feature :math:`\sigma_g`, both in z-score units: at every iteration a missing
entry of feature ``g`` takes :math:`\mu_{x,g} + \lambda\sigma_g` (``lambda < 0`` shifts towards low values). In
original units the shift is :math:`\lambda\sigma_g s_g`, ``s_g`` being the training standard deviation.
:func:`select_shift_lambda` picks ``lambda`` on a validation simulation of the lowest-10% scenario.

Introduced in the imputation chapter (Qiu et al., VAE imputation of expression and methylation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm  # text bars: work in terminals and notebooks without ipywidgets

from omicsnb.data.preprocess import fit_standardizer
from omicsnb.impute.baselines import BaseImputer, _values
from omicsnb.impute.concordance import rmse_mae
from omicsnb.impute.missing import simulate_missing
from omicsnb.training import iterate_minibatches, torch_seed
from omicsnb.validation import OmicsInputError, check_float, check_int

__all__ = ["PAPER_HIDDEN", "VAEImputer", "select_shift_lambda"]

PAPER_HIDDEN = (6000, 2000)  #: the paper's hidden layer sizes (with latent=200)
_LOG_2PI = math.log(2 * math.pi)
_CHUNK = 2048  # samples per forward pass at imputation time


class _GaussianVAE(nn.Module):
    """Encoder to (mu_z, log var_z), decoder to mu_x, and a per-feature decoder log-variance."""

    def __init__(self, n_features: int, hidden: Sequence[int], latent: int):
        super().__init__()
        h1, h2 = hidden
        self.encoder = nn.Sequential(nn.Linear(n_features, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU())
        self.mu_z = nn.Linear(h2, latent)
        self.log_var_z = nn.Linear(h2, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(),
                                     nn.Linear(h1, n_features))
        self.log_var_x = nn.Parameter(torch.zeros(n_features))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def encode(self, x):
        h = self.encoder(x)
        return self.mu_z(h), self.log_var_z(h)


class VAEImputer(BaseImputer):
    """Impute missing values of new samples with a (beta-)VAE trained on complete samples (see the module docstring).

    Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Parameters
    ----------
    hidden
        Two hidden layer sizes; the paper uses :data:`PAPER_HIDDEN` ``(6000, 2000)`` on 17,176 genes.
    latent
        Latent dimension (paper: 200).
    beta
        Weight of the KL term (paper's study: 0, 1, 4, 10; 1 = the plain VAE).
    lr, batch_size, epochs
        Adam learning rate, mini-batch size and epochs (paper: 5e-5, 250, 250).
    n_iterations
        Imputation iterations (paper: 3).
    deterministic
        Train a plain autoencoder instead (no latent noise, no KL); requires ``beta=0``.
    shift_lambda
        Shift-correction ``lambda`` (0 = none); can be overridden per call of :meth:`transform`.
    seed
        Seeds weight initialisation, batch order and latent noise; the same data and seed give the same numbers.
    progress
        Show a tqdm bar over epochs.

    Attributes
    ----------
    history_ : DataFrame, per epoch: ``epoch``, ``loss``, ``reconstruction``, ``kl`` (per-sample means).
    convergence_ : list of the RMS change (z-score units) of the missing entries at each iteration of the last
        :meth:`transform`.
    sigma_ : numpy array, decoder standard deviation per feature (z-score units).
    """

    def __init__(self, hidden: Sequence[int] = (1024, 512), latent: int = 200, *, beta: float = 1.0, lr: float = 5e-5,
                 batch_size: int = 250, epochs: int = 250, n_iterations: int = 3, deterministic: bool = False,
                 shift_lambda: float = 0.0, seed: int = 0, progress: bool = True):
        hidden = tuple(hidden) if isinstance(hidden, (tuple, list)) else hidden
        if not isinstance(hidden, tuple) or len(hidden) != 2:
            raise OmicsInputError(f"hidden={hidden!r} must be two layer sizes, e.g. hidden=(6000, 2000)")
        for h in hidden:
            check_int("hidden size", h, 1)
        check_int("latent", latent, 1)
        check_float("beta", beta, 0.0)
        check_float("lr", lr, 0.0, low_open=True)
        check_int("batch_size", batch_size, 1)
        check_int("epochs", epochs, 1)
        check_int("n_iterations", n_iterations, 1)
        check_float("shift_lambda", shift_lambda)
        check_int("seed", seed, 0)
        if not isinstance(deterministic, bool):
            raise OmicsInputError(f"deterministic must be True or False, got {deterministic!r}")
        if deterministic and beta != 0:
            raise OmicsInputError("a deterministic autoencoder has no KL term; pass beta=0 with deterministic=True")
        self.hidden, self.latent, self.beta, self.lr = hidden, latent, float(beta), lr
        self.batch_size, self.epochs, self.n_iterations = batch_size, epochs, n_iterations
        self.deterministic, self.shift_lambda = deterministic, float(shift_lambda)
        self.seed, self.progress = seed, progress

    # -- training ------------------------------------------------------------------------------------------------------
    def _fit(self, train: np.ndarray) -> None:
        scaler = fit_standardizer(train)
        self.scale_mean_ = scaler.mean_.astype(np.float64)
        self.scale_sd_ = scaler.scale_.astype(np.float64)  # 1 for constant features (sklearn's convention)
        X = torch.as_tensor((train - self.scale_mean_) / self.scale_sd_, dtype=torch.float32)
        n, g = X.shape
        generator = torch.Generator().manual_seed(self.seed)
        with torch_seed(self.seed):
            self.model_ = _GaussianVAE(g, self.hidden, self.latent)
        model = self.model_
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        rows = []
        bar = tqdm(range(1, self.epochs + 1), desc="VAE training", unit="epoch", disable=not self.progress,
                   leave=False)
        model.train()
        for epoch in bar:
            totals = np.zeros(3)
            for idx in iterate_minibatches(n, self.batch_size, generator):
                x = X[idx]
                mu_z, log_var_z = model.encode(x)
                if self.deterministic:
                    z, kl = mu_z, torch.zeros(len(x))
                else:
                    eps = torch.randn(mu_z.shape, generator=generator)
                    z = mu_z + torch.exp(0.5 * log_var_z) * eps
                    kl = 0.5 * (mu_z ** 2 + log_var_z.exp() - log_var_z - 1).sum(dim=1)
                mu_x = model.decoder(z)
                lv = model.log_var_x
                recon = 0.5 * ((x - mu_x) ** 2 * torch.exp(-lv) + lv + _LOG_2PI).sum(dim=1)
                loss = (recon + self.beta * kl).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                totals += np.array([loss.item(), recon.mean().item(), kl.mean().item()]) * len(idx)
            totals /= n
            if not np.isfinite(totals[0]):
                raise OmicsInputError(f"VAE training diverged (loss {totals[0]} at epoch {epoch}); lower lr")
            rows.append((epoch, *totals))
            bar.set_postfix(loss=f"{totals[0]:.1f}", refresh=False)
        model.eval()
        self.history_ = pd.DataFrame(rows, columns=["epoch", "loss", "reconstruction", "kl"])
        self.sigma_ = torch.exp(0.5 * model.log_var_x.detach()).double().numpy()

    # -- latent code ---------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, X_complete) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the encoder's latent distribution q(z | x) for complete samples.

        With ``beta=0`` nothing keeps the standard deviation near the prior's 1, and a small one means little latent
        noise during training; a deterministic autoencoder computes it but never uses it. Introduced in the
        imputation chapter (Qiu et al., VAE imputation).

        Returns
        -------
        mu, sd : arrays of shape (samples, latent).
        """
        if not hasattr(self, "model_"):
            raise OmicsInputError("VAEImputer is not fitted; call fit(X_complete) first")
        values = _values(X_complete, "X_complete").astype(np.float64)
        if values.shape[1] != self.n_features_in_:
            raise OmicsInputError(f"X_complete has {values.shape[1]} features but the imputer was fitted on "
                                  f"{self.n_features_in_}; pass the same features in the same order")
        if np.isnan(values).any():
            raise OmicsInputError("X_complete has NaN values; encode complete samples (impute them first)")
        Z = torch.as_tensor((values - self.scale_mean_) / self.scale_sd_, dtype=torch.float32)
        parts = [self.model_.encode(Z[i:i + _CHUNK]) for i in range(0, len(Z), _CHUNK)]
        mu = torch.cat([p[0] for p in parts]).double().numpy()
        sd = torch.exp(0.5 * torch.cat([p[1] for p in parts])).double().numpy()
        return mu, sd

    # -- imputation ----------------------------------------------------------------------------------------------------
    def transform(self, X_with_nan, *, shift_lambda: float | None = None):
        """Impute the NaN entries of ``X_with_nan`` (observed entries untouched).

        ``shift_lambda`` overrides the constructor's value for this call (useful to scan values without retraining).
        """
        if shift_lambda is not None:
            check_float("shift_lambda", shift_lambda)
        self._lambda = self.shift_lambda if shift_lambda is None else float(shift_lambda)
        return super().transform(X_with_nan)

    @torch.no_grad()
    def _impute(self, new: np.ndarray, missing: np.ndarray) -> np.ndarray:
        Z = torch.as_tensor((new - self.scale_mean_) / self.scale_sd_, dtype=torch.float32)
        miss = torch.as_tensor(missing)
        Z[miss] = 0.0
        shift = torch.as_tensor(self._lambda * self.sigma_, dtype=torch.float32)
        self.convergence_ = []
        for _ in range(self.n_iterations):
            decoded = torch.cat([self.model_.decoder(self.model_.encode(Z[i:i + _CHUNK])[0])
                                 for i in range(0, len(Z), _CHUNK)])
            proposal = torch.where(miss, decoded + shift, Z)
            self.convergence_.append(float(torch.sqrt(((proposal - Z)[miss] ** 2).mean())))
            Z = proposal
        return Z.double().numpy() * self.scale_sd_ + self.scale_mean_


_DEFAULT_LAMBDAS = tuple(float(v) for v in np.round(np.arange(-2.0, 0.01, 0.25), 2))


def select_shift_lambda(imputer: VAEImputer, X_val, *, lambdas: Sequence[float] = _DEFAULT_LAMBDAS,
                        quantile: float = 0.10, within: float = 0.5, n_trials: int = 1, metric: str = "rmse",
                        seed: int = 0) -> tuple[float, pd.DataFrame]:
    """Pick the shift-correction ``lambda`` on a validation set, as in the paper.

    On the complete validation samples ``X_val`` (held out from the imputer's training data), the
    ``"mnar_low"`` scenario (half of the lowest ``quantile`` of values missing) is simulated ``n_trials`` times; each
    ``lambda`` in ``lambdas`` imputes every trial with the *fitted* ``imputer`` (no retraining), and the ``lambda``
    with the smallest mean error wins. The paper then uses that single value for all low-value scenarios
    (5, 10, 20, 30%). Introduced in the imputation chapter (Qiu et al., VAE imputation).

    Returns
    -------
    best_lambda : float
    table : DataFrame with ``lambda``, ``rmse``, ``mae`` (means over trials), one row per candidate.
    """
    if not isinstance(imputer, VAEImputer) or not hasattr(imputer, "model_"):
        raise OmicsInputError("imputer must be a fitted VAEImputer; call imputer.fit(X_train) first")
    if metric not in ("rmse", "mae"):
        raise OmicsInputError(f"metric={metric!r} is not supported; pass 'rmse' or 'mae'")
    check_int("n_trials", n_trials, 1)
    check_int("seed", seed, 0)
    grid = np.asarray(lambdas, dtype=np.float64).ravel()
    if grid.size == 0 or not np.isfinite(grid).all():
        raise OmicsInputError("lambdas must be a non-empty list of finite numbers, e.g. lambdas=[-1, -0.5, 0]")
    values = _values(X_val, "X_val").astype(np.float64)
    if np.isnan(values).any():
        raise OmicsInputError("X_val has NaN values; pass complete validation samples (the scenario is simulated)")
    scores = np.zeros((grid.size, 2))
    for trial in range(n_trials):
        mask = simulate_missing(values, "mnar_low", quantile=quantile, within=within, seed=seed + trial)
        corrupted = np.where(mask, np.nan, values)
        for k, lam in enumerate(grid):
            err = rmse_mae(values, imputer.transform(corrupted, shift_lambda=float(lam)), mask)
            scores[k] += (err["rmse"], err["mae"])
    scores /= n_trials
    table = pd.DataFrame({"lambda": grid, "rmse": scores[:, 0], "mae": scores[:, 1]})
    best = float(table.loc[table[metric].idxmin(), "lambda"])
    return best, table
