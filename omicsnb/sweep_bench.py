"""``omicsnb bench sweep``: what the chapter-05 label-fraction sweep costs per task, and what it would take at scale.

The sweep of chapter *How much does pretraining help?* is (methods x modes + baseline) x fractions x repeats
independent fine-tuning tasks. This benchmark builds the chapter's data at a profile (quick or book), times a sample
of real tasks one by one (the baseline MLP, one repeat of every fraction; the pretrained encoders cost the same or
less, frozen much less), and projects the wall time of the whole sweep:

- serial: the sum of the per-task times;
- N local processes or W Dask workers: the start-up time of the pool plus the makespan of the tasks dealt
  longest-first to N workers (each worker one thread).

It then runs the sampled tasks for real with ``processes?workers=1`` and ``processes?workers=2`` and prints measured
against projected, so the projection is checked on this machine. Timings on a shared, loaded machine vary.
"""

from __future__ import annotations

import heapq
import math
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
    """One baseline fine-tuning task (as in the sweep), returning its own wall time and accuracy."""
    from omicsnb.evaluate import _sweep_cell

    start = time.perf_counter()
    row = _sweep_cell(task, shared)
    return {"seconds": time.perf_counter() - start, "accuracy": row["accuracy"]}


def _sweep_inputs(s: dict):
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
    tasks = [{"model": "baseline", "fraction": float(f), "repeat": 0, "seed": s["seed"],
              "index": np.asarray(label_fraction_subset(y_pool, float(f), seed=s["seed"]))} for f in s["fractions"]]
    shared = {"make_model": make, "X_finetune": splits.X_finetune, "y_pool": y_pool, "X_test": splits.X_test,
              "y_true": np.asarray(splits.y_test), "fit_params": {}, "name": "baseline"}
    return tasks, shared


def bench_sweep(profile: str = "quick", workers=(1, 2), cluster_workers=(16,), validate: bool = True) -> dict:
    """Per-task times of the chapter-05 sweep at ``profile``, projections, and a check at 1 and 2 local workers."""
    s = chapter_settings(profile)
    tasks, shared = _sweep_inputs(s)
    warnings.filterwarnings("ignore", message="no class has enough samples")  # small fractions at quick: expected
    Executor("serial", progress=False).map(_timed_cell, tasks[:1], shared=shared)  # warm-up: the first fit pays torch's start
    serial = Executor("serial", progress=False).map(_timed_cell, tasks, shared=shared)
    per_fraction = {t["fraction"]: r["seconds"] for t, r in zip(tasks, serial)}
    n_models = len(s["methods"]) * len(s["modes"]) + 1
    all_times = [per_fraction[f] for f in per_fraction for _ in range(s["repeats"] * n_models)]
    print(f"chapter 05 sweep at profile '{profile}': {n_models} models x {len(tasks)} fractions x {s['repeats']} repeats "
          f"= {len(all_times)} tasks (pretraining not included)")
    for f, sec in per_fraction.items():
        print(f"  per-task time at fraction {f:<5g} {sec:7.2f} s")
    result = {"profile": profile, "per_task_s": per_fraction, "n_tasks": len(all_times), "serial_s": sum(all_times)}
    measured = {}
    if validate:
        for n in workers:  # the sampled tasks for real, on a fresh pool (its start-up included)
            start = time.perf_counter()
            with Executor(f"processes?workers={n}", progress=False) as ex:
                ex.map(_timed_cell, tasks, shared=shared)
            measured[n] = time.perf_counter() - start
        startup = max(0.0, measured[min(workers)] - makespan(per_fraction.values(), min(workers)))
        print(f"  pool start-up (measured at {min(workers)} worker): {startup:.1f} s")
        print("  check on the sampled tasks: workers  projected  measured")
        for n in workers:
            projected = startup + makespan(per_fraction.values(), n)
            print(f"  {'':<31}{n:>7} {projected:9.1f} s {measured[n]:8.1f} s")
        result.update(startup_s=startup, measured_s=measured)
    else:
        startup = 0.0
    print(f"  projected whole sweep: serial {sum(all_times):8.1f} s")
    for n in sorted({*workers, *cluster_workers}):
        wall = startup + makespan(all_times, n)
        result[f"projected_{n}_s"] = wall
        print(f"  {'':<21}{n:>3} workers {wall:8.1f} s  (speed-up {sum(all_times) / wall:4.1f}x)")
    paper = chapter_settings("paper")
    paper_tasks = n_models * len(paper["fractions"]) * paper["repeats"]
    result["paper_tasks"] = paper_tasks
    print(f"  paper profile: {paper_tasks} tasks ({len(paper['fractions'])} fractions); at this profile's mean task time "
          f"that is {paper_tasks * np.mean(all_times) / 3600:.1f} h serial, "
          f"{math.ceil(paper_tasks / 16) * np.mean(all_times) / 3600:.2f} h on 16 workers (a lower bound: paper tasks "
          "use all genes and batch size 8)")
    print("  (timings taken on a shared machine; other processes compete for the cores)")
    return result
