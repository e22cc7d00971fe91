"""Pathway activity scores with ssGSEA: batched, cached, checked against the truth, and a fast exact engine.

Single-sample gene set enrichment (ssGSEA, Barbie et al. 2009) gives every sample one score per gene set. The
practical report (Dradjat et al.'s pipeline as described in the 2025 report) runs ``gseapy.ssgsea`` in batches of
200 samples and uses the normalised scores as pretraining targets. This module wraps that step:

- :func:`ssgsea_scores` scores a samples x genes matrix in batches, with ``gseapy`` (the reference) or with an
  exact vectorised engine (``engine="numpy"``), and caches every batch on disk under a key made of the data and
  gene-set hashes, so a rerun recomputes nothing.
- Batching needs care: gseapy's normalised score (NES) divides each enrichment score (ES) by the range of *all* ES
  in the run, so NES from separate batches are on different scales. Here every batch returns ES and the
  normalisation is applied once, over all samples, which reproduces unbatched gseapy exactly.
- :func:`noisy_gene_sets` drops true members and adds false ones, to show what imperfect annotation does.
- :func:`score_truth_correlation` correlates each set's score with the simulator's true programme activity.
- :func:`bench_ssgsea` times the wrapper next to plain ``gseapy.ssgsea`` (``omicsnb bench ssgsea``).

The numpy engine rests on a closed form of the ssGSEA running sum. With genes sorted by decreasing rank metric,
``N`` genes, ``N_h`` of them in the set, hit weights ``w_j = |r_j|^weight`` and ``q_j = N - pos_j + 1`` (the number of
running-sum terms in which gene ``j`` counts),

    ES = sum_{j in S} w_j q_j / sum_{j in S} w_j  -  (N (N + 1) / 2 - sum_{j in S} q_j) / (N - N_h),

three matrix products with the membership matrix instead of a walk over every gene for every set.
Introduced in chapter *Pathway-informed pretraining*.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm  # text bars: work in terminals and notebooks without ipywidgets

from omicsnb.validation import OmicsInputError, check_float, check_int

__all__ = ["ENGINES", "prepare_gene_sets", "ssgsea_scores", "ssgsea_es_numpy", "noisy_gene_sets",
           "score_truth_correlation", "bench_ssgsea", "TCGA_SCALE"]

ENGINES = ("gseapy", "numpy")
SCORES = ("nes", "es")
TCGA_SCALE = {"n_samples": 9349, "n_genes": 20000, "n_sets": 186}  # the report's pretraining set and KEGG
_CACHE_VERSION = 1


# -- inputs ------------------------------------------------------------------------------------------------------------
def _as_expression_frame(X) -> pd.DataFrame:
    """A samples x genes float64 DataFrame with unique string gene names and no missing values."""
    if not isinstance(X, pd.DataFrame):
        raise OmicsInputError("X must be a pandas DataFrame (samples x genes) whose columns are gene names; "
                              "wrap an array as pd.DataFrame(X, columns=genes)")
    if X.shape[0] < 1 or X.shape[1] < 2:
        raise OmicsInputError(f"X has shape {X.shape}; pass at least one sample and two genes")
    genes = X.columns.astype(str)
    if genes.duplicated().any():
        raise OmicsInputError(f"X has duplicated gene name(s), e.g. {genes[genes.duplicated()][0]!r}; "
                              "aggregate them first (omicsnb.data.genes.map_gene_ids)")
    try:
        values = X.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise OmicsInputError("X has non-numeric columns; keep only expression values") from None
    if not np.isfinite(values).all():
        raise OmicsInputError("X contains NaN or infinite values; impute or drop them before scoring")
    return pd.DataFrame(values, index=X.index.astype(str), columns=genes)


def prepare_gene_sets(gene_sets: Mapping[str, Iterable[str]], genes, *, min_size: int = 5,
                      max_size: int = 500) -> dict[str, list[str]]:
    """Restrict each set to ``genes`` (in the order of ``genes``) and keep sets with ``min_size..max_size`` members.

    The same rule as gseapy's, applied once here so that every engine and every batch scores exactly the same sets.
    Raises :class:`OmicsInputError` if no set is left.
    """
    check_int("min_size", min_size, 1)
    check_int("max_size", max_size, min_size)
    if not isinstance(gene_sets, Mapping) or not gene_sets:
        raise OmicsInputError("gene_sets must be a non-empty dict {set name: [genes]}; read a GMT with "
                              "omicsnb.data.read_gmt")
    position = {g: i for i, g in enumerate(pd.Index(genes).astype(str))}
    kept = {}
    for name, members in gene_sets.items():
        hits = sorted({position[g] for g in members if g in position})
        if min_size <= len(hits) <= max_size:
            kept[str(name)] = hits
    if not kept:
        sizes = [len(set(m) & set(position)) for m in gene_sets.values()]
        raise OmicsInputError(
            f"no gene set has between min_size={min_size} and max_size={max_size} genes in X (overlaps range "
            f"{min(sizes)}..{max(sizes)}); check that X's columns and the GMT use the same gene IDs, or lower min_size")
    names = list(position)
    return {name: [names[i] for i in hits] for name, hits in kept.items()}


def _hash_frame(X: pd.DataFrame) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([list(X.index), list(X.columns)]).encode())
    digest.update(np.ascontiguousarray(X.to_numpy(np.float64)).tobytes())
    return digest.hexdigest()


def _hash_sets(gene_sets: Mapping[str, list[str]]) -> str:
    payload = json.dumps(sorted((k, sorted(v)) for k, v in gene_sets.items())).encode()
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


# -- engines -----------------------------------------------------------------------------------------------------------
def _rank_metric(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """gseapy's ``sample_norm_method="rank"`` metric and the ordinal ranks, per sample (rows), from one sort.

    Returns ``(metric, q)``: ``metric`` is the average rank (ties share the mean of their positions) scaled by
    ``10000 / n_genes``; ``q`` is the ordinal ascending rank, ties broken by gene order (``rankdata(method="ordinal")``).
    """
    n, g = values.shape
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, 1)
    pos = np.broadcast_to(np.arange(g), (n, g))
    first = np.ones((n, g), bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    if first.all():  # no ties (continuous data): the average rank is the position
        average = pos + 1.0
    else:
        last = np.ones((n, g), bool)
        last[:, :-1] = first[:, 1:]
        start = np.maximum.accumulate(np.where(first, pos, 0), axis=1)
        end = np.minimum.accumulate(np.where(last, pos, g - 1)[:, ::-1], axis=1)[:, ::-1]
        average = (start + end) / 2 + 1
    metric = np.empty((n, g))
    np.put_along_axis(metric, order, average * (10000.0 / g), 1)
    q = np.empty((n, g))
    np.put_along_axis(q, order, pos + 1.0, 1)
    return metric, q


def ssgsea_es_numpy(X: pd.DataFrame, gene_sets: Mapping[str, list[str]], *, weight: float = 0.25) -> pd.DataFrame:
    """Enrichment scores (ES, not normalised) of every sample and set, vectorised; equal to gseapy's ES.

    ``X`` is samples x genes, ``gene_sets`` already restricted to ``X``'s genes (:func:`prepare_gene_sets`).
    Tied values (e.g. zeros in sparse counts) are ordered as gseapy orders them (the gene listed last comes first
    in the decreasing order), so the scores agree with ties too.
    """
    values = X.to_numpy(np.float64)
    n_genes = values.shape[1]
    # q = N - pos + 1, pos = 1-based position in the decreasing order. gseapy orders tied genes last-listed first,
    # which makes q the ordinal ascending rank (ties broken by gene order).
    metric, q = _rank_metric(values)
    w = np.abs(metric) ** weight
    column = {g: i for i, g in enumerate(X.columns)}
    member = np.zeros((n_genes, len(gene_sets)))
    for k, genes in enumerate(gene_sets.values()):
        member[[column[g] for g in genes], k] = 1.0
    n_hit = member.sum(0)
    hit_term = ((w * q) @ member) / (w @ member)
    miss_term = (n_genes * (n_genes + 1) / 2 - q @ member) / (n_genes - n_hit)
    return pd.DataFrame(hit_term - miss_term, index=X.index, columns=list(gene_sets))


def _ssgsea_es_gseapy(X: pd.DataFrame, gene_sets: Mapping[str, list[str]], *, weight: float = 0.25,
                      threads: int = 1) -> pd.DataFrame:
    """ES of every sample and set from ``gseapy.ssgsea`` (rank-normalised, no permutations)."""
    import gseapy

    sizes = [len(v) for v in gene_sets.values()]
    logging.getLogger("gseapy").setLevel(logging.WARNING)
    result = gseapy.ssgsea(X.T, dict(gene_sets), outdir=None, sample_norm_method="rank", correl_norm_type="rank",
                           min_size=min(sizes), max_size=max(sizes), weight=weight, threads=threads,
                           permutation_num=0, no_plot=True, verbose=False)
    table = result.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
    return table.reindex(index=X.index, columns=list(gene_sets))


def _score_batch(X, gene_sets, engine, weight, threads):
    if engine == "numpy":
        return ssgsea_es_numpy(X, gene_sets, weight=weight)
    return _ssgsea_es_gseapy(X, gene_sets, weight=weight, threads=threads)


def ssgsea_scores(X, gene_sets: Mapping[str, Iterable[str]], *, engine: str = "gseapy", batch_size: int = 200,
                  score: str = "nes", weight: float = 0.25, min_size: int = 5, max_size: int = 500,
                  cache_dir=None, threads: int = 1, progress: bool = True) -> pd.DataFrame:
    """ssGSEA scores of every sample (rows of ``X``) for every gene set, as a samples x sets DataFrame.

    Parameters
    ----------
    X
        Samples x genes DataFrame (log expression), columns named like the GMT's genes.
    gene_sets
        ``{name: [genes]}``, e.g. from :func:`omicsnb.data.read_gmt`; restricted to ``X``'s genes and filtered by
        ``min_size``/``max_size`` (:func:`prepare_gene_sets`).
    engine
        ``"gseapy"`` (the reference, ``gseapy.ssgsea``) or ``"numpy"`` (the exact vectorised engine of this module).
    batch_size
        Samples scored per call; each batch is cached separately (an interrupted run resumes where it stopped).
    score
        ``"nes"``: ES divided by the range of all ES of the run, as gseapy's NES of one unbatched call;
        ``"es"``: the raw enrichment scores.
    weight
        Exponent of the rank weights (gseapy's default 0.25).
    cache_dir
        Folder for the per-batch cache (``None``: no cache). A batch's key hashes its values, sample and gene
        names, the gene sets, the engine, ``weight`` and the module's cache version.
    threads
        Threads for gseapy's engine.
    progress
        Show a tqdm bar over batches.

    The result's ``attrs`` say how many batches were computed and how many were read from the cache
    (``batches_computed``, ``batches_cached``).
    """
    if engine not in ENGINES:
        raise OmicsInputError(f"engine={engine!r} is unknown; pass one of: {', '.join(ENGINES)}")
    if score not in SCORES:
        raise OmicsInputError(f"score={score!r} is unknown; pass 'nes' or 'es'")
    check_int("batch_size", batch_size, 1)
    check_float("weight", weight, 0.0)
    check_int("threads", threads, 1)
    frame = _as_expression_frame(X)
    sets = prepare_gene_sets(gene_sets, frame.columns, min_size=min_size, max_size=max_size)
    set_key = _hash_sets(sets)
    cache = None
    if cache_dir is not None and str(cache_dir) != "":
        cache = Path(cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
    parts, computed = [], 0
    starts = range(0, len(frame), batch_size)
    for start in tqdm(starts, desc=f"ssGSEA ({engine})", unit="batch", disable=not progress, leave=False):
        batch = frame.iloc[start : start + batch_size]
        path = None
        if cache is not None:
            key = hashlib.blake2b(f"{_CACHE_VERSION}|{engine}|{weight!r}|{set_key}|{_hash_frame(batch)}".encode(),
                                  digest_size=16).hexdigest()
            path = cache / f"ssgsea-{key}.npy"
            if path.exists():
                parts.append(pd.DataFrame(np.load(path), index=batch.index, columns=list(sets)))
                continue
        es = _score_batch(batch, sets, engine, weight, threads)
        computed += 1
        if path is not None:
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, es.to_numpy(np.float64))
            tmp.replace(path)
        parts.append(es)
    es = pd.concat(parts)
    es.index.name, es.columns.name = "sample", "gene_set"
    if score == "nes":
        spread = float(es.to_numpy().max() - es.to_numpy().min())
        es = es / spread if spread > 0 else es * 0.0
    es.attrs = {"batches_computed": computed, "batches_cached": len(parts) - computed}
    return es


# -- annotation noise and checks against the truth ---------------------------------------------------------------------
def noisy_gene_sets(gene_sets: Mapping[str, Iterable[str]], universe, *, drop: float = 0.3, add: float = 0.3,
                    seed: int = 0) -> dict[str, list[str]]:
    """A corrupted copy of ``gene_sets``: each set loses a ``drop`` share of its members and gains false members.

    ``round(drop * size)`` members are removed (at least one is kept) and ``round(add * size)`` genes drawn from
    ``universe`` outside the set are added, so ``add`` is measured against the true size. Deterministic for a seed.
    """
    check_float("drop", drop, 0.0, 1.0, high_open=True)
    check_float("add", add, 0.0)
    check_int("seed", seed, 0)
    pool = np.asarray(pd.Index(universe).astype(str).unique())
    rng = np.random.default_rng(seed)
    noisy = {}
    for name, members in gene_sets.items():
        members = list(dict.fromkeys(str(g) for g in members))
        size = len(members)
        n_drop = min(int(round(drop * size)), size - 1)
        kept = [members[i] for i in sorted(rng.choice(size, size - n_drop, replace=False))]
        outside = pool[~np.isin(pool, members)]
        n_add = min(int(round(add * size)), len(outside))
        noisy[name] = kept + rng.choice(outside, n_add, replace=False).tolist()
    return noisy


def score_truth_correlation(scores: pd.DataFrame, truth: pd.DataFrame, *, method: str = "pearson") -> pd.DataFrame:
    """Correlation, over samples, of each set's score with the true activity of the programme of the same name.

    ``scores`` and ``truth`` are samples x sets/programmes; rows are matched by sample name. Returns one row per set
    found in both: gene_set, r.
    """
    if method not in ("pearson", "spearman"):
        raise OmicsInputError(f"method={method!r} is unknown; pass 'pearson' or 'spearman'")
    common = [c for c in scores.columns if c in truth.columns]
    if not common:
        raise OmicsInputError("no gene set name of scores is a programme of truth; score the simulator's programmes")
    samples = scores.index.intersection(truth.index)
    if len(samples) < 3:
        raise OmicsInputError(f"scores and truth share {len(samples)} samples; pass the same samples to both")
    rows = [{"gene_set": c, "r": float(scores.loc[samples, c].corr(truth.loc[samples, c].astype(float),
                                                                     method=method))} for c in common]
    return pd.DataFrame(rows)


# -- benchmark ---------------------------------------------------------------------------------------------------------
def _synthetic(n_samples: int, n_genes: int, n_sets: int, seed: int) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    rng = np.random.default_rng(seed)
    genes = [f"GENE{i:05d}" for i in range(n_genes)]
    X = pd.DataFrame(rng.normal(size=(n_samples, n_genes)), columns=genes,
                     index=[f"S{i:05d}" for i in range(n_samples)])
    sizes = np.exp(rng.uniform(np.log(15), np.log(300), size=n_sets)).astype(int)
    sets = {f"SET{k:03d}": [genes[i] for i in rng.choice(n_genes, s, replace=False)] for k, s in enumerate(sizes)}
    return X, sets


def bench_ssgsea(n_samples: int = 100, n_genes: int = TCGA_SCALE["n_genes"], n_sets: int = TCGA_SCALE["n_sets"],
                 batch_size: int = 200, seed: int = 0, target_s: float = 600.0) -> pd.DataFrame:
    """Time plain ``gseapy.ssgsea``, this module's batched gseapy wrapper and the numpy engine on the same input.

    Every engine scores each sample independently, so time grows linearly with the number of samples: the run uses
    TCGA's genes and sets but only ``n_samples`` samples (feasible on a loaded 2-core machine) and extrapolates to
    9,349 samples. Each engine runs on one thread and is timed in CPU seconds of this process (``process_time``),
    which a machine shared with other jobs inflates far less than wall time; wall seconds are reported too. Prints and
    returns one row per engine: CPU and wall seconds, CPU seconds extrapolated to TCGA scale, the speed-up over plain
    gseapy (CPU), and the largest absolute NES difference from plain gseapy.
    """
    import gseapy

    X, sets = _synthetic(n_samples, n_genes, n_sets, seed)
    sets = prepare_gene_sets(sets, X.columns, min_size=5, max_size=500)
    scale = TCGA_SCALE["n_samples"] / n_samples
    logging.getLogger("gseapy").setLevel(logging.WARNING)

    def timed(fn):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - wall, time.process_time() - cpu

    plain, plain_wall, plain_cpu = timed(lambda: gseapy.ssgsea(X.T, sets, outdir=None, min_size=5, max_size=500,
                                                                threads=1, no_plot=True, verbose=False))
    reference = plain.res2d.pivot(index="Name", columns="Term", values="NES").astype(float).reindex(
        index=X.index, columns=list(sets))
    rows = [{"engine": "gseapy.ssgsea (plain, one call)", "cpu_s": plain_cpu, "wall_s": plain_wall,
             "max_abs_diff": 0.0}]
    for label, engine in (("omicsnb wrapper, engine gseapy", "gseapy"), ("omicsnb wrapper, engine numpy", "numpy")):
        nes, wall, cpu = timed(lambda engine=engine: ssgsea_scores(X, sets, engine=engine, batch_size=batch_size,
                                                                   progress=False))
        rows.append({"engine": label, "cpu_s": cpu, "wall_s": wall,
                     "max_abs_diff": float((nes - reference).abs().to_numpy().max())})
    table = pd.DataFrame(rows)
    table["tcga_cpu_s_extrapolated"] = table["cpu_s"] * scale
    table["speedup_vs_gseapy"] = plain_cpu / table["cpu_s"]
    table["meets_10_min"] = table["tcga_cpu_s_extrapolated"] <= target_s
    print(f"ssGSEA on {n_samples} samples x {n_genes} genes x {len(sets)} sets, one thread, CPU seconds (wall in "
          f"brackets); linear extrapolation x{scale:.1f} to TCGA's {TCGA_SCALE['n_samples']} samples; target "
          f"{target_s:.0f} s")
    for row in table.itertuples():
        print(f"  {row.engine:<34} {row.cpu_s:7.2f} s ({row.wall_s:6.2f} s)   TCGA ~{row.tcga_cpu_s_extrapolated:7.0f} s"
              f"   speed-up {row.speedup_vs_gseapy:6.1f}x   max |NES diff| {row.max_abs_diff:.1e}   "
              f"{'meets' if row.meets_10_min else 'misses'} the 10 min target")
    return table
