r"""Variational-autoencoder imputation (Qiu, Zheng & Gevaert, GigaScience 2020), with shift correction and beta.

Model
-----
Features are z-scored with the mean and standard deviation of their *observed* training values
(:class:`omicsnb.impute.scaling.ObservedScaler`). The encoder ``G -> hidden[0] -> hidden[1] -> (mu_z, log var_z)``
and decoder ``latent -> hidden[1] -> hidden[0] -> mu_x`` use ReLU and Xavier initialisation; the paper's
architecture is ``hidden=(6000, 2000), latent=200`` (:data:`PAPER_HIDDEN`). The decoder is Gaussian,
:math:`p(x \mid z) = N(\mu_\theta(z), \mathrm{diag}(\sigma^2))`, and ``decoder_sigma`` says where :math:`\sigma`
comes from:

* ``"output"`` (the default, Qiu et al.'s equation 8): a second decoder head gives a log-variance per entry,
  :math:`\sigma_\theta(z)`, bounded softly to :math:`[-7, 7]` (``7 tanh(h / 7)``) so that a few perfectly fitted
  entries cannot drive it to minus infinity;
* ``"learned_per_gene"``: one learned log-variance per feature, not a function of :math:`z` (a simplification).

The reference code names its head "log sigma squared" but uses it as a standard deviation; here
:math:`\sigma = \exp(\tfrac12 \log\sigma^2)`.

Masked likelihood
-----------------
A training matrix may have real gaps. The loss per sample is the beta-VAE objective over its *observed* entries
:math:`O` only,

.. math:: \tfrac12 \sum_{g \in O} \big[\log 2\pi\sigma_g^2 + (x_g - \mu_{x,g})^2/\sigma_g^2\big]
          + \beta\,\mathrm{KL}\big(N(\mu_z, \sigma_z^2)\,\|\,N(0, I)\big),

with :math:`z = \mu_z + \sigma_z \odot \varepsilon` (reparameterisation). A gap never enters the loss. At the
encoder's input it holds the *running estimate*: 0 (the training mean) at first, then the decoder's latest mean for
that entry, updated whenever its sample is in a batch (``train_fill="zero"`` keeps the 0). On a complete matrix this
is exactly the paper's loss. ``beta=0`` keeps the latent noise but drops the KL term; ``deterministic=True`` is the
plain autoencoder of the paper's comparison (:math:`z = \mu_z`, no noise, no KL, same Gaussian reconstruction term).

Training and early stopping
---------------------------
The step above is handed to :func:`omicsnb.training.fit_loop`, the book's one training loop. With
``validation_fraction > 0`` a seeded share of the training samples is held out; in each, a tenth of the observed
entries is hidden once, and after every epoch the held-out samples are imputed exactly as :meth:`transform` would
(``n_iterations`` passes, no shift). The mean squared error on the hidden entries is the ``val_loss``: training
stops once it has not improved for ``patience`` epochs, and the weights of the best epoch are kept. ``epochs`` is
then a ceiling.

Imputation
----------
New samples are scaled with the training statistics; missing entries start at 0 (the training mean, as in the
reference code; the paper's text says a standard-normal draw), and then ``n_iterations`` times (paper: 3): encode
to :math:`\mu_z`, decode to :math:`\mu_x`, and overwrite *only* the missing entries. The root-mean-square change of
the missing entries at each iteration is kept in ``convergence_``. The result is inverse-scaled.

Shift correction (MNAR, low values missing)
-------------------------------------------
The paper replaces the decoder distribution of the missing values by :math:`N(\mu + \lambda\sigma, \sigma)`, where
:math:`\mu` and :math:`\sigma` are the *decoder's* mean and standard deviation for that entry. At every iteration a
missing entry takes :math:`\mu_{x,g}(z) + \lambda\sigma_g`, where :math:`\sigma_g` is
:math:`\sigma_{\theta,g}(z)` for that very sample with ``decoder_sigma="output"`` (the paper's version), or the
learned per-feature value otherwise (``lambda < 0`` shifts towards low values). :func:`select_shift_lambda` picks
``lambda`` on a validation simulation of the lowest-10% scenario.

Introduced in the imputation chapter (Qiu et al., VAE imputation of expression and methylation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from omicsnb.impute.baselines import BaseImputer, _check_fitted, _values
from omicsnb.impute.concordance import rmse_mae
from omicsnb.impute.missing import simulate_missing
from omicsnb.impute.scaling import ObservedScaler
from omicsnb.training import fit_loop, torch_seed
from omicsnb.validation import OmicsInputError, check_float, check_int

__all__ = ["DECODER_SIGMAS", "PAPER_HIDDEN", "VAEImputer", "select_shift_lambda"]

PAPER_HIDDEN = (6000, 2000)  #: the paper's hidden layer sizes (with latent=200)
DECODER_SIGMAS = ("output", "learned_per_gene")  #: where the decoder's standard deviation comes from
TRAIN_FILLS = ("running", "zero")  #: what a training gap holds at the encoder's input
_LOG_2PI = math.log(2 * math.pi)
_LOG_VAR_BOUND = 7.0  # per-entry decoder log-variance is bounded softly to [-7, 7]
_VAL_HIDDEN = 0.1  # share of the observed validation entries hidden for early stopping
_CHUNK = 2048  # samples per forward pass at imputation time


class _GaussianVAE(nn.Module):
    """Encoder to (mu_z, log var_z); decoder to mu_x and a log-variance (per entry, or one per feature)."""

    def __init__(self, n_features: int, hidden: Sequence[int], latent: int, per_entry_sigma: bool):
        super().__init__()
        h1, h2 = hidden
        self.encoder = nn.Sequential(nn.Linear(n_features, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU())
        self.mu_z = nn.Linear(h2, latent)
        self.log_var_z = nn.Linear(h2, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU())
        self.mu_x = nn.Linear(h1, n_features)
        self.per_entry_sigma = per_entry_sigma
        if per_entry_sigma:
            self.log_var_head = nn.Linear(h1, n_features)
        else:
            self.log_var_x = nn.Parameter(torch.zeros(n_features))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def encode(self, x):
        h = self.encoder(x)
        return self.mu_z(h), self.log_var_z(h)

    def decode(self, z):
        """Mean and log-variance of p(x | z); the log-variance is (batch, G) per entry, or (G,) per feature."""
        h = self.decoder(z)
        if self.per_entry_sigma:
            return self.mu_x(h), _LOG_VAR_BOUND * torch.tanh(self.log_var_head(h) / _LOG_VAR_BOUND)
        return self.mu_x(h), self.log_var_x


def _masked_nll(x, mu, log_var, observed):
    """Per-sample Gaussian negative log-likelihood summed over the observed entries (``x`` is 0 at the gaps)."""
    nll = 0.5 * ((x - mu) ** 2 * torch.exp(-log_var) + log_var + _LOG_2PI)
    return (nll * observed).sum(dim=1)


class VAEImputer(BaseImputer):
    """Impute missing values with a (beta-)VAE fitted on the observed entries (see the module docstring).

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
        Adam learning rate, mini-batch size and the most epochs (paper: 5e-5, 250, 250).
    n_iterations
        Imputation iterations (paper: 3).
    deterministic
        Train a plain autoencoder instead (no latent noise, no KL); requires ``beta=0``.
    shift_lambda
        Shift-correction ``lambda`` (0 = none); can be overridden per call of :meth:`transform`.
    decoder_sigma
        ``"output"`` (per-entry :math:`\\sigma_\\theta(z)`, Qiu et al.'s equation 8) or ``"learned_per_gene"``.
    validation_fraction
        Share of the training samples held out for early stopping (0: none, train all ``epochs``).
    patience
        Stop after this many epochs without a lower validation error (None: never stop early).
    train_fill
        What a training gap holds at the encoder's input: ``"running"`` (the decoder's latest estimate) or
        ``"zero"`` (the training mean).
    seed
        Seeds weight initialisation, the validation split, batch order and latent noise; the same data and seed
        give the same numbers.
    progress
        Show a tqdm bar over epochs.

    Attributes
    ----------
    history_ : DataFrame, per epoch: ``epoch``, ``loss``, ``reconstruction``, ``kl`` (per-sample means over the
        training samples' observed entries) and, with validation, ``val_loss``.
    best_epoch_, stopped_early_ : the epoch whose weights are kept, and whether early stopping ended training.
    convergence_ : list of the RMS change (z-score units) of the missing entries at each iteration of the last
        :meth:`transform`.
    sigma_ : numpy array, decoder standard deviation per feature (z-score units); with ``decoder_sigma="output"``
        the root mean of the per-entry variances over the training samples.
    """

    def __init__(self, hidden: Sequence[int] = (1024, 512), latent: int = 200, *, beta: float = 1.0, lr: float = 5e-5,
                 batch_size: int = 250, epochs: int = 250, n_iterations: int = 3, deterministic: bool = False,
                 shift_lambda: float = 0.0, decoder_sigma: str = "output", validation_fraction: float = 0.1,
                 patience: int | None = 20, train_fill: str = "running", seed: int = 0, progress: bool = True):
        self.hidden, self.latent, self.beta, self.lr = hidden, latent, beta, lr
        self.batch_size, self.epochs, self.n_iterations = batch_size, epochs, n_iterations
        self.deterministic, self.shift_lambda, self.decoder_sigma = deterministic, shift_lambda, decoder_sigma
        self.validation_fraction, self.patience, self.train_fill = validation_fraction, patience, train_fill
        self.seed, self.progress = seed, progress

    # -- parameters ----------------------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        hidden = self.hidden
        if not isinstance(hidden, (tuple, list)) or len(hidden) != 2:
            raise OmicsInputError(f"hidden={hidden!r} must be two layer sizes, e.g. hidden=(6000, 2000)")
        for h in hidden:
            check_int("hidden size", h, 1)
        check_int("latent", self.latent, 1)
        check_float("beta", self.beta, 0.0)
        check_float("lr", self.lr, 0.0, low_open=True)
        check_int("batch_size", self.batch_size, 1)
        check_int("epochs", self.epochs, 1)
        check_int("n_iterations", self.n_iterations, 1)
        check_float("shift_lambda", self.shift_lambda)
        check_float("validation_fraction", self.validation_fraction, 0.0, 1.0, high_open=True)
        if self.patience is not None:
            check_int("patience", self.patience, 1)
            if self.validation_fraction == 0:
                raise OmicsInputError("patience needs held-out samples; pass validation_fraction > 0 or patience=None")
        check_int("seed", self.seed, 0)
        if not isinstance(self.deterministic, bool):
            raise OmicsInputError(f"deterministic must be True or False, got {self.deterministic!r}")
        if self.deterministic and self.beta != 0:
            raise OmicsInputError("a deterministic autoencoder has no KL term; pass beta=0 with deterministic=True")
        if self.decoder_sigma not in DECODER_SIGMAS:
            raise OmicsInputError(f"decoder_sigma={self.decoder_sigma!r} is unknown; pass one of: "
                                  f"{', '.join(DECODER_SIGMAS)}")
        if self.train_fill not in TRAIN_FILLS:
            raise OmicsInputError(f"train_fill={self.train_fill!r} is unknown; pass one of: {', '.join(TRAIN_FILLS)}")

    # -- training ------------------------------------------------------------------------------------------------------
    def _fit(self, train: np.ndarray, missing: np.ndarray) -> None:
        scaler = ObservedScaler.fit(train)
        self.scale_mean_, self.scale_sd_ = scaler.mean_, scaler.scale_
        Z = np.where(missing, 0.0, scaler.transform(train))
        n, g = Z.shape
        rng = np.random.default_rng(self.seed)
        n_val = int(round(self.validation_fraction * n))
        if self.validation_fraction > 0:
            n_val = max(n_val, 1)
            if n - n_val < 2:
                raise OmicsInputError(f"validation_fraction={self.validation_fraction} of {n} samples leaves fewer "
                                      "than 2 to train on; pass validation_fraction=0 for so few samples")
        order = rng.permutation(n)
        val_rows, fit_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
        X = torch.as_tensor(Z[fit_rows], dtype=torch.float32)
        observed = torch.as_tensor(~missing[fit_rows])
        observed_f = observed.float()
        fill = torch.zeros_like(X)  # what the gaps hold at the encoder's input (running estimate or 0)
        running = self.train_fill == "running" and bool((~observed).any())

        with torch_seed(self.seed):
            self.model_ = _GaussianVAE(g, tuple(self.hidden), self.latent, self.decoder_sigma == "output")
        model = self.model_

        def step(idx, generator):
            x, obs = X[idx], observed[idx]
            mu_z, log_var_z = model.encode(torch.where(obs, x, fill[idx]))
            if self.deterministic:
                z, kl = mu_z, torch.zeros(len(idx))
            else:
                z = mu_z + torch.exp(0.5 * log_var_z) * torch.randn(mu_z.shape, generator=generator)
                kl = 0.5 * (mu_z ** 2 + log_var_z.exp() - log_var_z - 1).sum(dim=1)
            mu_x, log_var_x = model.decode(z)
            recon = _masked_nll(x, mu_x, log_var_x, observed_f[idx])
            if running:
                fill[idx] = torch.where(obs, 0.0, mu_x.detach())
            return {"loss": (recon + self.beta * kl).mean(), "reconstruction": recon.mean(), "kl": kl.mean()}

        validate = None
        if n_val:
            val = Z[val_rows]
            val_observed = ~missing[val_rows]
            hide = val_observed & (rng.random(val.shape) < _VAL_HIDDEN)
            if not hide.any():  # tiny validation sets: hide at least one observed entry
                first = np.flatnonzero(val_observed.ravel())[0]
                hide.ravel()[first] = True
            val_gaps = torch.as_tensor(missing[val_rows] | hide)
            val_in = torch.as_tensor(np.where(hide, 0.0, val), dtype=torch.float32)
            val_truth = torch.as_tensor(val[hide], dtype=torch.float32)
            hidden_mask = torch.as_tensor(hide)

            def validate():
                filled, _ = self._iterate(val_in, val_gaps, 0.0)
                return {"val_loss": float(((filled[hidden_mask] - val_truth) ** 2).mean())}

        result = fit_loop(step, [model], len(fit_rows), epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                          seed=self.seed, validate=validate, patience=self.patience, desc="VAE training",
                          progress=self.progress)
        model.eval()
        self.history_ = result.history
        self.best_epoch_, self.stopped_early_ = result.best_epoch, result.stopped_early
        with torch.no_grad():
            if self.decoder_sigma == "output":
                inputs = torch.as_tensor(Z, dtype=torch.float32)
                variances = torch.cat([model.decode(model.encode(inputs[i:i + _CHUNK])[0])[1].exp()
                                       for i in range(0, n, _CHUNK)])
                self.sigma_ = variances.mean(dim=0).sqrt().double().numpy()
            else:
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
        _check_fitted(self, "model_")
        values = self._check_new(X_complete).astype(np.float64)
        if np.isnan(values).any():
            raise OmicsInputError("X_complete has NaN values; encode complete samples (impute them first)")
        Z = torch.as_tensor((values - self.scale_mean_) / self.scale_sd_, dtype=torch.float32)
        parts = [self.model_.encode(Z[i:i + _CHUNK]) for i in range(0, len(Z), _CHUNK)]
        mu = torch.cat([p[0] for p in parts]).double().numpy()
        sd = torch.exp(0.5 * torch.cat([p[1] for p in parts])).double().numpy()
        return mu, sd

    # -- imputation ----------------------------------------------------------------------------------------------------
    def transform(self, X, *, shift_lambda: float | None = None):
        """Impute the NaN entries of ``X`` (observed entries untouched).

        ``shift_lambda`` overrides the constructor's value for this call (useful to scan values without retraining).
        """
        _check_fitted(self, "model_")
        lam = self.shift_lambda if shift_lambda is None else shift_lambda
        check_float("shift_lambda", lam)
        return self._fill(X, lambda new, missing: self._impute(new, missing, float(lam)))

    @torch.no_grad()
    def _iterate(self, Z: torch.Tensor, miss: torch.Tensor, lam: float) -> tuple[torch.Tensor, list[float]]:
        """``n_iterations`` encode-decode passes that overwrite the ``miss`` entries of ``Z`` (z-score units)."""
        Z = torch.where(miss, 0.0, Z)
        changes = []
        for _ in range(self.n_iterations):
            parts = []
            for i in range(0, len(Z), _CHUNK):
                mu_x, log_var_x = self.model_.decode(self.model_.encode(Z[i:i + _CHUNK])[0])
                parts.append(mu_x + lam * torch.exp(0.5 * log_var_x) if lam else mu_x)
            proposal = torch.where(miss, torch.cat(parts), Z)
            changes.append(float(torch.sqrt(((proposal - Z)[miss] ** 2).mean())) if bool(miss.any()) else 0.0)
            Z = proposal
        return Z, changes

    def _impute(self, new: np.ndarray, missing: np.ndarray, lam: float = 0.0) -> np.ndarray:
        Z = torch.as_tensor(np.where(missing, 0.0, (new - self.scale_mean_) / self.scale_sd_), dtype=torch.float32)
        Z, self.convergence_ = self._iterate(Z, torch.as_tensor(missing), lam)
        return Z.double().numpy() * self.scale_sd_ + self.scale_mean_


_DEFAULT_LAMBDAS = tuple(float(v) for v in np.round(np.arange(-2.0, 0.01, 0.25), 2))


def select_shift_lambda(imputer: VAEImputer, X_val, *, lambdas: Sequence[float] = _DEFAULT_LAMBDAS,
                        quantile: float = 0.10, within: float = 0.5, n_trials: int = 1, metric: str = "rmse",
                        mask_reference=None, seed: int = 0) -> tuple[float, pd.DataFrame]:
    """Pick the shift-correction ``lambda`` on a validation set, as in the paper.

    On the validation samples ``X_val`` (held out from the imputer's training data; real gaps allowed, never
    scored), the ``"mnar_low"`` scenario (half of the lowest ``quantile`` of the observed values missing) is simulated
    ``n_trials`` times -- on ``mask_reference`` when given (the same samples on the log scale, before z-scoring, as the
    paper masked them); each
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
    reference = values if mask_reference is None else _values(mask_reference, "mask_reference").astype(np.float64)
    if reference.shape != values.shape or not np.array_equal(np.isnan(reference), np.isnan(values)):
        raise OmicsInputError("mask_reference must have X_val's shape and the same NaN entries; pass the same samples "
                              "and genes before scaling")
    scores = np.zeros((grid.size, 2))
    for trial in range(n_trials):
        mask = simulate_missing(reference, "mnar_low", quantile=quantile, within=within, seed=seed + trial)
        corrupted = np.where(mask, np.nan, values)
        for k, lam in enumerate(grid):
            err = rmse_mae(values, imputer.transform(corrupted, shift_lambda=float(lam)), mask)
            scores[k] += (err["rmse"], err["mae"])
    scores /= n_trials
    table = pd.DataFrame({"lambda": grid, "rmse": scores[:, 0], "mae": scores[:, 1]})
    best = float(table.loc[table[metric].idxmin(), "lambda"])
    return best, table
