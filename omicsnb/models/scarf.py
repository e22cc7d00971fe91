"""SCARF (Bahri et al., ICLR 2022): contrastive pretraining with random feature corruption.

For each sample (the anchor) a positive view is made by replacing exactly ``round(c * d)`` randomly chosen features
by draws from their empirical marginals. Both views go through the encoder and a projection head; the NT-Xent
(InfoNCE) loss pulls each anchor towards its own positive and away from the other ``2N - 2`` views in the batch.

Deliberate choices (see the methods notes): values come from the empirical marginal (not ``Uniform(min, max)`` as in
pytorch-scarf and Dradjat et al.'s code), the corrupted fraction is exact per row (pytorch-scarf's current code
corrupts a fraction ``1 - c`` by mistake). Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from omicsnb.models.corruption import corrupt, mask_exact_fraction
from omicsnb.models.ssl import SSLPretrainer, projection_mlp
from omicsnb.validation import OmicsInputError, check_float


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """NT-Xent loss of paired views ``z1[i] <-> z2[i]`` (each (N, k)), averaged over all 2N views.

    Rows are L2-normalised, the 2N x 2N cosine-similarity matrix is one matrix product divided by ``temperature``,
    self-similarities are excluded, and each view's positive is its partner: the loss of view ``a`` is
    ``-log(exp(s[a, partner]) / sum_{b != a} exp(s[a, b]))``. Introduced in chapter *Self-supervised pretraining
    (VIME, SCARF, BYOL)*.
    """
    check_float("temperature", temperature, 0.0, low_open=True)
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, partner)


class SCARF(SSLPretrainer):
    """SCARF contrastive pretraining.

    Parameters
    ----------
    corruption_rate : fraction of features corrupted per sample, in (0, 1) (paper default 0.6; Dradjat et al. 0.3).
    temperature : NT-Xent temperature, > 0 (default 1.0 as in the paper and Dradjat et al.).
    head_dims : widths of the projection head: hidden layers then output (default (256, 256): Linear-BN-ReLU-Linear).
    **kwargs : the shared settings of :class:`~omicsnb.models.ssl.SSLPretrainer`.

    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """

    def __init__(self, corruption_rate: float = 0.6, temperature: float = 1.0, head_dims: Sequence[int] = (256, 256),
                 hidden: Sequence[int] = (256, 256, 256, 256), dropout: float = 0.1, batch_norm: bool = True,
                 lr: float = 1e-4, weight_decay: float = 0.0, batch_size: int = 256, epochs: int = 100,
                 val_fraction: float = 0.1, seed: int = 0, device: str = "cpu", progress: bool = True):
        super().__init__(hidden=hidden, dropout=dropout, batch_norm=batch_norm, lr=lr, weight_decay=weight_decay,
                         batch_size=batch_size, epochs=epochs, val_fraction=val_fraction, seed=seed, device=device,
                         progress=progress)
        self.corruption_rate = corruption_rate
        self.temperature = temperature
        self.head_dims = head_dims

    def _check_method_params(self) -> None:
        check_float("corruption_rate", self.corruption_rate, 0.0, 1.0, low_open=True, high_open=True)
        check_float("temperature", self.temperature, 0.0, low_open=True)
        if not isinstance(self.head_dims, (list, tuple)) or len(self.head_dims) == 0:
            raise OmicsInputError(
                f"head_dims={self.head_dims!r} must be a non-empty tuple of widths; pass e.g. head_dims=(256, 256)"
            )
        projection_mlp(1, tuple(self.head_dims)[:-1], self.head_dims[-1])  # validates the widths

    def _build(self, n_features: int) -> nn.ModuleDict:
        dims = tuple(self.head_dims)
        return nn.ModuleDict({"head": projection_mlp(self.encoder_.out_dim, dims[:-1], dims[-1], self.batch_norm)})

    def _loss(self, x, reference, generator):
        mask = mask_exact_fraction(x.shape, self.corruption_rate, generator)
        x_tilde, _ = corrupt(x, mask, reference, generator)
        z = self.modules_["head"](self.encoder_(torch.cat([x, x_tilde])))
        return {"loss": nt_xent(z[: len(x)], z[len(x):], self.temperature)}
