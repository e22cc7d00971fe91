"""Pretraining throughput: samples per second of VIME, SCARF and BYOL against a lean reference loop.

The reference is the least a pretraining epoch can cost with the same encoder and the same loop
(:func:`~omicsnb.training.fit_loop`): one Adam step of a plain autoencoder (encoder + Linear decoder, MSE) per batch
on the same data, with no corruption, no extra heads and no validation. The ratio shows what each method's
corruption, heads and bookkeeping cost. Run ``python -m omicsnb.models.ssl_bench``.
Introduced in chapter *Self-supervised pretraining (VIME, SCARF, BYOL)*.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from omicsnb.models.byol import BYOL
from omicsnb.models.mlp import Encoder
from omicsnb.models.scarf import SCARF
from omicsnb.models.vime import VIMESelf
from omicsnb.training import fit_loop, torch_seed
from omicsnb.validation import check_int

TARGET_SAMPLES_PER_S = 7000
METHODS = {"VIME": VIMESelf, "SCARF": SCARF, "BYOL": BYOL}
# BYOL's seed heads (Linear 256 -> 4096 -> 256, three of them run per view) cost ~10x the encoder's FLOPs; the
# narrow variant shows how much of BYOL's time is the heads rather than the loop.
VARIANTS = {"BYOL (heads 512)": {"projector_dims": (512, 256)}}


def _reference_epoch(X: torch.Tensor, batch_size: int, epochs: int, seed: int) -> None:
    """Plain autoencoder epochs through the same loop: encoder + Linear decoder, MSE, fused Adam; nothing else."""
    with torch_seed(seed):
        encoder = Encoder(X.shape[1])
        model = nn.Sequential(encoder, nn.Linear(encoder.out_dim, X.shape[1]))

    def step(idx: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        batch = X[idx]
        return {"loss": F.mse_loss(model(batch), batch)}

    fit_loop(step, [model], len(X), epochs=epochs, batch_size=batch_size, lr=1e-4, seed=seed, progress=False)


def bench_pretraining(n: int = 7349, d: int = 2000, batch_size: int = 256, epochs: int = 1, threads: int = 2,
                      methods=("VIME", "SCARF", "BYOL", "BYOL (heads 512)"), seed: int = 0, verbose: bool = True) -> pd.DataFrame:
    """Time ``epochs`` of pretraining for each method and for the reference loop on random ``n x d`` data.

    Uses ``threads`` torch threads (restored afterwards) and no validation split, so every sample is a training
    sample. Returns a tidy table: method, seconds, samples_per_s, vs_reference (method / reference throughput),
    meets_target (samples_per_s >= 7,000). With ``verbose`` the table is printed. Introduced in chapter
    *Self-supervised pretraining (VIME, SCARF, BYOL)*.
    """
    for name, value, low in (("n", n, 2), ("d", d, 1), ("batch_size", batch_size, 2), ("epochs", epochs, 1),
                             ("threads", threads, 1), ("seed", seed, 0)):
        check_int(name, value, low)
    X = np.random.default_rng(seed).standard_normal((n, d), dtype=np.float32)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        _reference_epoch(torch.as_tensor(X[: 2 * batch_size]), batch_size, 1, seed)  # warm-up: thread pool, kernels
        start = time.perf_counter()
        _reference_epoch(torch.as_tensor(X), batch_size, epochs, seed)
        rows.append(("reference (plain AE)", time.perf_counter() - start))
        for name in methods:
            params = VARIANTS.get(name, {})
            model = METHODS[name.split()[0]](batch_size=batch_size, epochs=epochs, val_fraction=0.0, seed=seed,
                                              progress=False, **params)
            start = time.perf_counter()
            model.fit(X)
            rows.append((name, time.perf_counter() - start))
    finally:
        torch.set_num_threads(previous)
    table = pd.DataFrame(rows, columns=["method", "seconds"])
    table["samples_per_s"] = n * epochs / table["seconds"]
    table["vs_reference"] = table["samples_per_s"] / table["samples_per_s"].iloc[0]
    table["meets_target"] = table["samples_per_s"] >= TARGET_SAMPLES_PER_S
    if verbose:
        print(f"pretraining throughput, {n} x {d}, batch {batch_size}, {epochs} epoch(s), {threads} torch threads "
              f"(target {TARGET_SAMPLES_PER_S:,} samples/s)")
        print(table.round({"seconds": 2, "samples_per_s": 0, "vs_reference": 2}).to_string(index=False))
    return table


if __name__ == "__main__":  # pragma: no cover
    bench_pretraining()
