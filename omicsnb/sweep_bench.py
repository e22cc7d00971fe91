"""``omicsnb bench sweep``: what the chapter-05 label-fraction sweep costs per task, and what it would take at scale.

The sweep of chapter *How much does pretraining help?* is (methods x modes + baseline) x fractions x repeats
independent fine-tuning tasks. This benchmark builds the chapter's data at a profile (quick or book), times a sample
of real tasks one by one (the baseline MLP, one repeat of every fraction; the pretrained encoders cost the same or
less, frozen much less), and projects the wall time of the whole sweep:

- serial: the sum of the per-task times;
- N local processes or W Dask workers: the start-up time of the pool plus the makespan of the tasks dealt
  longest-first to N workers (each worker one thread);
- one GPU: the tasks' optimiser steps times an assumed per-step cost (a projection; no GPU is timed here).

It then runs the sampled tasks for real on local process pools (``--workers 1 2 4``; default 1 and 2) and prints
measured against projected, so the projection is checked on this machine. At the paper profile six fractions are
timed and the rest interpolated, without the pool check (a task takes minutes on a CPU). Timings on a shared,
loaded machine vary.
"""

from __future__ import annotations

import heapq
import math
import os
import time
import warnings

import numpy as np

from omicsnb.executor import Executor

_SETTINGS_KEYS = ("seed", "n_samples", "n_genes", "type_separation", "n_types", "n_finetune", "n_test", "n_hvg",
                  "methods", "hidden", "dropout", "fractions", "repeats", "modes", "finetune_lr", "finetune_batch_size",
                  "max_epochs", "patience", "val_fraction")


def chapter_settings(profile: str) -> dict:
    """The chapter-05 sweep settings at a profile (the notebook's parameters cell plus the profile block)."""
    from omicsnb import runner

    specs = runner.discover_notebooks()
    values = runner.load_profile(profile, specs)["05_label_fractions"]
    defaults = {k: p.default for k, p in specs["05_label_fractions"].parameters.items()}
    merged = {**defaults, **values}
    return {k: merged[k] for k in _SETTINGS_KEYS}


def makespan(times, workers: int) -> float:
    """Wall time of ``times`` dealt longest-first to ``workers`` identical workers (each takes the next task when free)."""
    loads = [0.0] * max(1, workers)
    for t in sorted(times, reverse=True):
        heapq.heapreplace(loads, loads[0] + t)  # loads is a heap: the least-loaded worker takes the task
    return max(loads)


def _timed_cell(task, shared):
    """One baseline fine-tuning task (as in the sweep), returning its wall time, accuracy and optimiser steps."""
    from omicsnb.evaluate import _sweep_cell

    made = []

    def make(model_seed):
        made.append(shared["make_model"](model_seed))
        return made[-1]

    start = time.perf_counter()
    row = _sweep_cell(task, {**shared, "make_model": make})
    seconds = time.perf_counter() - start
    model = made[0]
    n_fit = max(1, round(len(task["index"]) * (1 - model.val_fraction)))
    steps = len(model.history_) * math.ceil(n_fit / model.batch_size)  # epochs run x batches per epoch (approx.)
    return {"seconds": seconds, "accuracy": row["accuracy"], "steps": steps}


def timed_subset(fractions, max_timed: int | None) -> list[int]:
    """Positions of the fractions to time: all of them, or ``max_timed`` spread evenly (both ends included)."""
    n = len(fractions)
    if max_timed is None or max_timed >= n:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, max(2, max_timed))})


def _sweep_inputs(s: dict, max_timed: int | None = None):
    from omicsnb.data import load_or_simulate, prepare_classification
    from omicsnb.data.preprocess import label_fraction_subset
    from omicsnb.models.mlp import MLPClassifier

    source = load_or_simulate(n_samples=s["n_samples"], n_genes=s["n_genes"], type_separation=s["type_separation"],
                              n_types=s["n_types"], seed=s["seed"], progress=False)
    splits = prepare_classification(source, n_finetune=s["n_finetune"], n_test=s["n_test"], n_hvg=s["n_hvg"],
                                    seed=s["seed"])
    finetune = {"lr": s["finetune_lr"], "batch_size": s["finetune_batch_size"], "max_epochs": s["max_epochs"],
                "patience": s["patience"], "val_fraction": s["val_fraction"]}
    hidden, dropout = tuple(s["hidden"]), s["dropout"]

    def make(model_seed):
        return MLPClassifier(hidden=hidden, dropout=dropout, batch_norm=True, seed=model_seed, progress=False, **finetune)

    y_pool = np.asarray(splits.y_finetune)
    fractions = [s["fractions"][i] for i in timed_subset(s["fractions"], max_timed)]
    tasks = [{"model": "baseline", "fraction": float(f), "repeat": 0, "seed": s["seed"],
              "index": np.asarray(label_fraction_subset(y_pool, float(f), seed=s["seed"]))} for f in fractions]
    shared = {"make_model": make, "X_finetune": splits.X_finetune, "y_pool": y_pool, "X_test": splits.X_test,
              "y_true": np.asarray(splits.y_test), "fit_params": {}, "name": "baseline"}
    return tasks, shared


def bench_sweep(profile: str = "quick", workers=(1, 2), cluster_workers=(16,), validate: bool | None = None,
                max_timed: int | None = None, gpu_step_ms: float = 1.5) -> dict:
    """Per-task times of the chapter-05 sweep at ``profile``, projections, and a check at the ``workers`` counts.

    ``max_timed``: time only this many fractions, spread evenly, and interpolate the others linearly in the fraction
    (default: all at quick and book, 6 at paper). ``validate``: rerun the timed tasks on local process pools of
    ``workers`` (default: yes, except at paper, where one task takes minutes on a CPU). The 1-GPU line is a
    projection, not a measurement: the tasks' optimiser steps (counted here) times ``gpu_step_ms``, an assumed cost
    of one launch-bound fine-tuning step of this small network on a GPU.
    """
    s = chapter_settings(profile)
    if max_timed is None and profile == "paper":
        max_timed = 6
    if validate is None:
        validate = profile != "paper"
    tasks, shared = _sweep_inputs(s, max_timed)
    warnings.filterwarnings("ignore", message="no class has enough samples")  # small fractions at quick: expected
    Executor("serial", progress=False).map(_timed_cell, tasks[:1], shared=shared)  # warm-up: the first fit pays torch's start
    serial = Executor("serial", progress=False).map(_timed_cell, tasks, shared=shared)
    timed = {t["fraction"]: r for t, r in zip(tasks, serial)}
    grid = np.asarray(list(timed))
    fractions = [float(f) for f in s["fractions"]]
    per_fraction = dict(zip(fractions, np.interp(fractions, grid, [r["seconds"] for r in timed.values()])))
    steps_per_fraction = dict(zip(fractions, np.interp(fractions, grid, [r["steps"] for r in timed.values()])))
    n_models = len(s["methods"]) * len(s["modes"]) + 1
    all_times = [per_fraction[f] for f in fractions for _ in range(s["repeats"] * n_models)]
    all_steps = sum(steps_per_fraction[f] for f in fractions) * s["repeats"] * n_models
    print(f"chapter 05 sweep at profile '{profile}': {n_models} models x {len(fractions)} fractions x {s['repeats']} "
          f"repeats = {len(all_times)} tasks (pretraining not included); {s['n_hvg']} genes in, fine-tuning batch "
          f"{s['finetune_batch_size']}")
    for f, r in timed.items():
        print(f"  per-task time at fraction {f:<5g} {r['seconds']:7.2f} s  ({r['steps']:6d} steps, "
              f"{1000 * r['seconds'] / max(1, r['steps']):5.1f} ms/step)")
    if len(timed) < len(fractions):
        print(f"  ({len(timed)} of {len(fractions)} fractions timed; the others interpolated linearly in the fraction)")
    result = {"profile": profile, "per_task_s": per_fraction, "timed_s": {f: r["seconds"] for f, r in timed.items()},
              "n_tasks": len(all_times), "serial_s": sum(all_times), "steps": all_steps}
    timed_times = [r["seconds"] for r in timed.values()]
    startup = 0.0
    if validate:
        measured = {}
        for n in workers:  # the sampled tasks for real, on a fresh pool (its start-up included)
            start = time.perf_counter()
            with Executor(f"processes?workers={n}", progress=False) as ex:
                ex.map(_timed_cell, tasks, shared=shared)
            measured[n] = time.perf_counter() - start
        startup = max(0.0, measured[min(workers)] - makespan(timed_times, min(workers)))
        cores = os.cpu_count() or 1
        print(f"  pool start-up (measured at {min(workers)} worker): {startup:.1f} s; this machine has {cores} cores")
        print("  check on the sampled tasks: workers  projected  measured  (more workers than cores share them: the")
        print("  projection then deals the tasks to the cores and starts the workers cores at a time)")
        projected = {}
        for n in workers:
            projected[n] = startup * math.ceil(n / cores) + makespan(timed_times, min(n, cores))
            print(f"  {'':<31}{n:>7} {projected[n]:9.1f} s {measured[n]:8.1f} s")
        result.update(startup_s=startup, measured_s=measured, check_projected_s=projected)
    print(f"  projected whole sweep: serial {sum(all_times):8.1f} s  (below: workers with a core each)")
    for n in sorted({*workers, *cluster_workers}):
        wall = startup + makespan(all_times, n)
        result[f"projected_{n}_s"] = wall
        print(f"  {'':<21}{n:>3} workers {wall:8.1f} s  (speed-up {sum(all_times) / wall:4.1f}x)")
    gpu = all_steps * gpu_step_ms / 1000
    result["projected_gpu_s"] = gpu
    print(f"  1 GPU, tasks one after another: {all_steps:,.0f} optimiser steps x {gpu_step_ms:g} ms (assumed, not "
          f"measured) = {gpu:8.1f} s")
    if profile != "paper":
        paper = chapter_settings("paper")
        paper_tasks = n_models * len(paper["fractions"]) * paper["repeats"]
        result["paper_tasks"] = paper_tasks
        print(f"  paper profile: {paper_tasks} tasks ({len(paper['fractions'])} fractions); at this profile's mean task "
              f"time that is {paper_tasks * np.mean(all_times) / 3600:.1f} h serial, "
              f"{math.ceil(paper_tasks / 16) * np.mean(all_times) / 3600:.2f} h on 16 workers (a lower bound: paper "
              "tasks use all genes and batch size 8; `--profile paper` times them)")
    print("  (timings taken on a shared machine; other processes compete for the cores)")
    return result
