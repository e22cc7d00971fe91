"""Feature corruption for tabular self-supervision: which entries to corrupt, and what to put there.

Every self-supervised method of the book builds its pretext task from the same operation: pick some entries of a
batch (a *mask*) and replace each picked entry by a draw from that feature's **empirical marginal** -- the value the
same column takes in a random row of a reference matrix (the pretraining data). The replacement is plausible for
the feature (right scale, right distribution) yet carries no information about the sample.

- :func:`mask_bernoulli` -- each entry independently with probability ``p`` (VIME, BYOL's swap noise);
- :func:`mask_exact_fraction` -- exactly ``round(c * d)`` features per row (SCARF);
- :func:`corrupt` -- apply a mask; also returns which entries actually changed (a swap can draw the same value).

All three are vectorised (one random draw and one gather per batch, no per-row loop) and take a ``torch.Generator``
so that a seed gives the same corruption run after run. Introduced in chapter *Self-supervised pretraining
(VIME, SCARF, BYOL)*.
"""

from __future__ import annotations

import torch

from omicsnb.validation import OmicsInputError, check_float


def _check_shape(shape) -> tuple[int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise OmicsInputError(f"mask shape {shape} must be (rows, features) with both >= 1; pass e.g. x.shape")
    return shape


def mask_bernoulli(shape, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean mask of ``shape`` whose entries are independently ``True`` with probability ``p`` (VIME).

    The mask is created on the generator's device. Introduced in chapter *Self-supervised pretraining
    (VIME, SCARF, BYOL)*.
    """
    check_float("p_m", p, 0.0, 1.0)
    shape = _check_shape(shape)
    device = generator.device if generator is not None else None
    return torch.rand(shape, generator=generator, device=device) < p


def n_corrupted(n_features: int, c: float) -> int:
    """Features corrupted per row by :func:`mask_exact_fraction`: ``round(c * n_features)`` (halves round up).

    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    return int(c * n_features + 0.5)


def mask_exact_fraction(shape, c: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean mask with exactly ``round(c * d)`` ``True`` entries in every row, at uniformly random positions (SCARF).

    The positions are the ``k`` largest of ``d`` uniform draws per row (``topk``), i.e. a uniformly random subset of
    size ``k``. Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    check_float("corruption_rate", c, 0.0, 1.0, low_open=True, high_open=True)
    n, d = _check_shape(shape)
    k = n_corrupted(d, c)
    device = generator.device if generator is not None else None
    mask = torch.zeros((n, d), dtype=torch.bool, device=device)
    if k == 0:
        return mask
    noise = torch.rand((n, d), generator=generator, device=device)
    return mask.scatter_(1, noise.topk(k, dim=1).indices, True)


def corrupt(x: torch.Tensor, mask: torch.Tensor, reference: torch.Tensor,
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace the masked entries of ``x`` by draws from each feature's empirical marginal in ``reference``.

    Entry ``(i, j)`` with ``mask[i, j]`` becomes ``reference[r, j]`` for a row ``r`` drawn uniformly (independently
    per entry); other entries are kept.

    Parameters
    ----------
    x : (batch, features) float tensor.
    mask : boolean tensor of the same shape (see :func:`mask_bernoulli`, :func:`mask_exact_fraction`).
    reference : (rows, features) tensor whose columns define the marginals, usually the pretraining data.
    generator : torch generator on ``x``'s device, for reproducible draws.

    Returns
    -------
    x_tilde : the corrupted batch.
    changed : boolean tensor, ``x_tilde != x``. This, not ``mask``, is the target of VIME's mask estimator: a swap
        that happens to draw the sample's own value changes nothing and cannot be detected.

    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    if x.ndim != 2 or mask.shape != x.shape or mask.dtype != torch.bool:
        raise OmicsInputError(
            f"need x (batch, features) and a boolean mask of the same shape, got {tuple(x.shape)} and "
            f"{tuple(mask.shape)} {mask.dtype}; build the mask with mask_bernoulli(x.shape, ...)"
        )
    if reference.ndim != 2 or reference.shape[1] != x.shape[1] or len(reference) == 0:
        raise OmicsInputError(
            f"reference has shape {tuple(reference.shape)} but x has {x.shape[1]} features; pass the (non-empty) "
            "pretraining matrix with the same features"
        )
    rows = torch.randint(len(reference), x.shape, generator=generator, device=x.device)
    draws = reference.gather(0, rows)  # draws[i, j] = reference[rows[i, j], j]
    x_tilde = torch.where(mask, draws.to(x.dtype), x)
    return x_tilde, x_tilde != x
