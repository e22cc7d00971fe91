"""SEFS speed: both phases on the block two-moons task at book settings, next to a per-sample Python-loop copula.

``omicsnb bench sefs`` runs :func:`bench_sefs`. The target (issue 13) is both phases -- self-supervision on 2,000
unlabelled samples x 100 features and selection on 20 labelled samples -- in 60 s or less on 2 cores. The reference
point is the same fit with the copula uniforms drawn one sample at a time in a Python loop (one ``L @ eps`` per
sample), as a direct port of a per-sample sampler would; everything else is identical. Introduced in chapter
*Feature selection with SEFS*.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from omicsnb.models.sefs import SEFS, copula_uniforms, standard_normal_cdf
from omicsnb.validation import check_int

TARGET_S = 60.0
#: the chapter's book-profile settings (notebooks/11_sefs.ipynb, parameters cell)
BOOK_SETTINGS = {"epochs_ss": 10, "batch_size_ss": 64, "lr_ss": 1e-3, "epochs": 300, "lr": 1e-2, "batch_size": 20,
                 "hidden": 100, "z_dim": 10, "alpha": 10.0, "lam": 1.0}


def loop_copula_uniforms(n: int, p: int, chol: torch.Tensor | None, generator: torch.Generator | None = None,
                         device="cpu") -> torch.Tensor:
    """The slow reference: the same copula uniforms, one sample at a time (``Phi(L eps_i)`` in a Python loop)."""
    rows = []
    for _ in range(n):
        eps = torch.randn(p, generator=generator, device=device)
        g = eps if chol is None else chol @ eps
        rows.append(standard_normal_cdf(g).clamp(1e-6, 1.0 - 1e-6))
    return torch.stack(rows)


class _LoopSEFS(SEFS):
    """SEFS whose copula draws go through :func:`loop_copula_uniforms` (benchmark only)."""

    def _uniforms(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return loop_copula_uniforms(n, self.n_features_in_, self.chol_, generator, device=generator.device)


def bench_sefs(seed: int = 0, threads: int = 1, verbose: bool = True) -> pd.DataFrame:
    """Time both SEFS phases (vectorised and per-sample-loop copula) and the sampler alone; print against 60 s.

    A short warm-up fit runs first. Wall and CPU seconds are both reported: on a shared machine the CPU time is
    the steadier number. Uses ``threads`` torch threads (restored afterwards); one is the default because these networks are tiny (a
    100-wide MLP on batches of 20-64): a second thread only adds synchronisation, and on a shared 2-core machine
    two spinning threads per process slow everything down. Returns a table: what, seconds, cpu_seconds, target_s, ratio
    (target / seconds for the fit; loop / vectorised for the comparisons).
    """
    from omicsnb.data.synthetic import two_moons_task

    check_int("seed", seed, 0)
    check_int("threads", threads, 1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        task = two_moons_task(seed=seed)
        warm = dict(BOOK_SETTINGS, epochs_ss=1, epochs=2)  # first-call costs (lazy imports, kernels) out of the timing
        SEFS(seed=seed, progress=False, **warm).fit(task.X_labeled, task.y_labeled, task.X_unlabeled)
        times, cpu = {}, {}
        for label, cls in (("vectorised", SEFS), ("python loop", _LoopSEFS)):
            model = cls(seed=seed, progress=False, **BOOK_SETTINGS)
            start, start_cpu = time.perf_counter(), time.process_time()
            model.fit(task.X_labeled, task.y_labeled, task.X_unlabeled)
            times[label] = time.perf_counter() - start
            cpu[label] = time.process_time() - start_cpu
        chol = model.chol_
        generator = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        for _ in range(20):
            copula_uniforms(2000, chol.shape[0], chol, generator)
        vec = (time.perf_counter() - start) / 20
        start = time.perf_counter()
        loop_copula_uniforms(2000, chol.shape[0], chol, generator)
        loop = time.perf_counter() - start
    finally:
        torch.set_num_threads(before)
    table = pd.DataFrame([
        {"what": "SEFS both phases, vectorised copula", "seconds": times["vectorised"],
         "cpu_seconds": cpu["vectorised"], "target_s": TARGET_S, "ratio": TARGET_S / times["vectorised"]},
        {"what": "SEFS both phases, per-sample loop copula", "seconds": times["python loop"],
         "cpu_seconds": cpu["python loop"], "target_s": TARGET_S, "ratio": times["python loop"] / times["vectorised"]},
        {"what": "copula draws for 2,000 x 100: vectorised", "seconds": vec, "target_s": float("nan"),
         "ratio": float("nan")},
        {"what": "copula draws for 2,000 x 100: per-sample loop", "seconds": loop, "target_s": float("nan"),
         "ratio": loop / vec},
    ])
    if verbose:
        print(f"SEFS on two moons (2,000 unlabelled x 100 features, 20 labelled), {threads} threads, book settings")
        print(f"{'both phases, vectorised copula':<44} {times['vectorised']:8.1f} s (CPU {cpu['vectorised']:.1f} s)   "
              f"target {TARGET_S:5.1f} s   ratio {TARGET_S / times['vectorised']:6.2f}x")
        print(f"{'both phases, per-sample loop copula':<44} {times['python loop']:8.1f} s (CPU {cpu['python loop']:.1f} s)"
              f"   {times['python loop'] / times['vectorised']:6.2f}x the vectorised fit "
              f"(CPU {cpu['python loop'] / cpu['vectorised']:.2f}x)")
        print(f"{'copula draws 2,000 x 100, vectorised':<44} {vec * 1000:8.2f} ms")
        print(f"{'copula draws 2,000 x 100, per-sample loop':<44} {loop * 1000:8.2f} ms   {loop / vec:6.1f}x slower")
    return table


if __name__ == "__main__":  # pragma: no cover
    bench_sefs()
