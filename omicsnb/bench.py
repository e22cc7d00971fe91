"""Speed and memory targets, measured side by side (``omicsnb bench``).

Targets live here, not in timed tests: a benchmark prints what it measured next to the target and their ratio
(``target / measured``; above 1 means the target is met with room to spare).

- ``simulator``: the cohort simulator at paper scale (10,000 samples x 20,000 genes) within 120 s, with its peak memory;
- ``notebooks``: every notebook at a profile (``--profile quick``: 60 s for the foundation chapters; ``book``: 300 s);
- ``maketest``: the whole ``make test`` within 15 minutes (slow: runs the test suite);
- ``pretraining``: VIME, SCARF and BYOL pretraining throughput against a lean reference loop (7,000 samples/s target);
- ``imputation`` and ``cox``: VAE against KNN and iterative-SVD imputation of 100 new samples, and the batched
  univariate Cox fits against lifelines, at the imputation paper's scale (heavy: minutes).

Introduced in the book's front matter, *How to run this book*.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

from omicsnb.validation import OmicsInputError

TARGETS_S = {
    "simulator": 120.0,
    "notebooks:quick": 180.0,
    "notebooks:book": 1500.0,
    "maketest": 900.0,
}
# Per-part targets on 2 cores (the issues): the self-supervised chapters together, and the imputation chapter.
GROUP_TARGETS_S = {
    "quick": {"self-supervised chapters (03-07)": (("03", "04", "05", "06", "07"), 120.0)},
    "book": {"self-supervised chapters (03-07)": (("03", "04", "05", "06", "07"), 900.0),
             "imputation chapter (08)": (("08",), 480.0)},
}

_SIMULATOR_PROBE = """
import json, resource, time
from omicsnb.data.simulate import simulate_cohort
t = time.perf_counter()
cohort = simulate_cohort(n_samples={n}, n_genes={g}, seed=0, progress=False)
wall = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
print(json.dumps({{"wall_s": wall, "peak_gib": peak, "counts_gib": cohort.counts.nbytes / 1024 ** 3}}))
"""


def _line(label: str, measured: float, target: float, unit: str = "s") -> str:
    return f"{label:<40} measured {measured:8.1f} {unit}   target {target:8.1f} {unit}   ratio {target / measured:6.2f}x"


def bench_simulator(n_samples: int = 10_000, n_genes: int = 20_000) -> dict:
    """Time the simulator at paper scale in a fresh process (so the peak memory is its own)."""
    out = subprocess.run(
        [sys.executable, "-c", _SIMULATOR_PROBE.format(n=n_samples, g=n_genes)], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(_line(f"simulate_cohort {n_samples} x {n_genes}", result["wall_s"], TARGETS_S["simulator"]))
    print(f"{'':<40} peak memory {result['peak_gib']:.2f} GiB (counts matrix {result['counts_gib']:.2f} GiB)")
    return result


def bench_notebooks(profile: str = "quick") -> dict:
    """Run every notebook at ``profile`` into a scratch folder (forced) and compare the total with its target."""
    from omicsnb import runner

    key = f"notebooks:{profile}"
    times = {}
    with tempfile.TemporaryDirectory(prefix="omicsnb-bench-") as tmp:
        for name in runner.discover_notebooks():
            rec = runner.run_notebook(name, profile=profile, out_dir=Path(tmp), force=True, quiet=True)
            times[name] = rec.wall_time_s
            print(f"  {name:<38} {rec.wall_time_s:8.1f} s")
    total = sum(times.values())
    for label, (prefixes, target) in GROUP_TARGETS_S.get(profile, {}).items():
        print(_line(label, sum(t for n, t in times.items() if n.startswith(prefixes)), target))
    if key in TARGETS_S:
        print(_line(f"all notebooks at profile '{profile}'", total, TARGETS_S[key]))
    else:
        print(f"all notebooks at profile '{profile}': {total:.1f} s (no target for this profile)")
    return {"per_notebook_s": times, "total_s": total}


def bench_maketest() -> dict:
    """Time ``make test`` from the repository root."""
    from omicsnb.runner import REPO_ROOT

    start = time.perf_counter()
    subprocess.run(["make", "test"], cwd=REPO_ROOT, check=True)
    wall = time.perf_counter() - start
    print(_line("make test", wall, TARGETS_S["maketest"]))
    return {"wall_s": wall}


def main(target: str = "all", profile: str = "quick") -> int:
    """Entry point of ``omicsnb bench``; ``all`` runs the simulator and notebook benchmarks."""
    choices = {
        "simulator": bench_simulator,
        "notebooks": lambda: bench_notebooks(profile),
        "maketest": bench_maketest,
        "pretraining": lambda: import_module("omicsnb.models.ssl_bench").bench_pretraining(),
        "imputation": lambda: import_module("omicsnb.impute.bench").bench_imputation(),
        "cox": lambda: import_module("omicsnb.impute.bench").bench_cox(),
        "sefs": lambda: import_module("omicsnb.models.sefs_bench").bench_sefs(),
        "ssgsea": lambda: import_module("omicsnb.pathways").bench_ssgsea(),
        "interpretable-ae": lambda: import_module("omicsnb.models.pathway_ae_bench").bench_interpretable_ae(),
        "sweep": lambda: import_module("omicsnb.sweep_bench").bench_sweep(profile),
    }
    if target == "all":
        bench_simulator()
        bench_notebooks(profile)
        return 0
    if target not in choices:
        raise OmicsInputError(f"unknown benchmark '{target}'; choose one of: all, {', '.join(choices)}")
    choices[target]()
    return 0
