"""BYOL (Grill et al., 2020) for tabular data, as adapted by Dradjat et al.: learning from positive pairs only.

An *online* network (encoder -> projector -> predictor) learns to predict the projection that a *target* network
(encoder -> projector) gives for another view of the same sample. The target is not trained by gradients: after
every step its weights move a fraction ``1 - tau`` towards the online weights (:func:`ema_update`). Views are made
with VIME's swap noise (each entry replaced with probability ``p`` by a draw from its empirical marginal). The loss
is ``2 - 2 cos(prediction, target projection)``, symmetrised over the two views.

Dradjat et al.'s code does not run as published (a missing comma in its MLP; see the methods notes); this is a
re-implementation of what it describes. Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from omicsnb.models.ssl import SSLPretrainer, projection_mlp
from omicsnb.models.vime import vime_corrupt
from omicsnb.validation import OmicsInputError, check_float, check_int


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Move ``target`` towards ``online`` in place: ``target <- tau * target + (1 - tau) * online``.

    Applied to every parameter and floating-point buffer (batch-norm running statistics); integer buffers (batch
    counters) are copied. Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    check_float("tau", tau, 0.0, 1.0)
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.lerp_(o, 1.0 - tau)
    for t, o in zip(target.buffers(), online.buffers(), strict=True):
        if t.is_floating_point():
            t.lerp_(o, 1.0 - tau)
        else:
            t.copy_(o)


def byol_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``2 - 2 cos(prediction, target)`` averaged over the batch; ``target`` is treated as a constant.

    Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    return (2 - 2 * F.cosine_similarity(prediction, target.detach(), dim=1)).mean()


class BYOL(SSLPretrainer):
    """BYOL pretraining with swap-noise views.

    Parameters
    ----------
    tau : decay of the target's exponential moving average, in [0, 1] (default 0.99; Dradjat et al. use 0.9, the BYOL
        paper 0.996 for images).
    p_swap : probability that an entry of a view is replaced from its empirical marginal (Dradjat et al.: 0.3).
    corrupt_both : corrupt both views independently; ``False`` (Dradjat et al.) keeps one view clean.
    projector_dims : hidden then output widths of the projector and of the predictor (default (4096, 256):
        Linear(d, 4096)-BN-ReLU-Linear(4096, 256)).
    **kwargs : the shared settings of :class:`~omicsnb.models.ssl.SSLPretrainer`.

    ``modules_`` holds ``projector``, ``predictor``, ``target_encoder`` and ``target_projector`` (the last two are
    never optimised). Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """

    def __init__(self, tau: float = 0.99, p_swap: float = 0.3, corrupt_both: bool = False,
                 projector_dims: Sequence[int] = (4096, 256),
                 hidden: Sequence[int] = (256, 256, 256, 256), dropout: float = 0.1, batch_norm: bool = True,
                 lr: float = 1e-4, weight_decay: float = 0.0, batch_size: int = 256, epochs: int = 100,
                 val_fraction: float = 0.1, seed: int = 0, device: str = "cpu", progress: bool = True):
        super().__init__(hidden=hidden, dropout=dropout, batch_norm=batch_norm, lr=lr, weight_decay=weight_decay,
                         batch_size=batch_size, epochs=epochs, val_fraction=val_fraction, seed=seed, device=device,
                         progress=progress)
        self.tau = tau
        self.p_swap = p_swap
        self.corrupt_both = corrupt_both
        self.projector_dims = projector_dims

    def _check_method_params(self) -> None:
        check_float("tau", self.tau, 0.0, 1.0)
        check_float("p_swap", self.p_swap, 0.0, 1.0)
        if not isinstance(self.corrupt_both, bool):
            raise OmicsInputError(f"corrupt_both={self.corrupt_both!r} must be True or False")
        dims = self.projector_dims
        if not isinstance(dims, (list, tuple)) or len(dims) == 0:
            raise OmicsInputError(f"projector_dims={dims!r} must be a non-empty tuple of widths; pass e.g. (4096, 256)")
        for width in dims:
            check_int("projector width", width, 1)

    def _build(self, n_features: int) -> nn.ModuleDict:
        *hidden, out = self.projector_dims
        projector = projection_mlp(self.encoder_.out_dim, hidden, out, self.batch_norm)
        modules = nn.ModuleDict({
            "projector": projector,
            "predictor": projection_mlp(out, hidden, out, self.batch_norm),
            "target_encoder": copy.deepcopy(self.encoder_),
            "target_projector": copy.deepcopy(projector),
        })
        for name in ("target_encoder", "target_projector"):
            modules[name].requires_grad_(False)
        return modules

    def _views(self, x, reference, generator) -> tuple[torch.Tensor, torch.Tensor]:
        def swap(batch):
            return vime_corrupt(batch, reference, self.p_swap, generator)[0]

        return (swap(x) if self.corrupt_both else x), swap(x)

    def _loss(self, x, reference, generator):
        v1, v2 = self._views(x, reference, generator)
        m = self.modules_
        views = torch.cat([v1, v2])
        predictions = m["predictor"](m["projector"](self.encoder_(views)))
        with torch.no_grad():
            targets = m["target_projector"](m["target_encoder"](views))
        n = len(x)
        loss = byol_loss(predictions[:n], targets[n:]) + byol_loss(predictions[n:], targets[:n])
        return {"loss": loss}

    def _after_step(self) -> None:
        ema_update(self.modules_["target_encoder"], self.encoder_, self.tau)
        ema_update(self.modules_["target_projector"], self.modules_["projector"], self.tau)
