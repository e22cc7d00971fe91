"""Compare a run's results with committed reference results, within stated tolerances.

The numbers a chapter records (``book/results/<notebook>.json``) come out of floating-point training, and their last
digits depend on the CPU's vector instructions (``ATEN_CPU_CAPABILITY``), its BLAS kernels and the thread count. The
checks therefore compare

- the *shape* of every result exactly: the same tables, columns and row counts, and the same text and verdict words
  (a verdict such as "holds" or a boolean never gets a tolerance), with one stated exception: a verdict whose
  reference interval ends within the interval tolerance of its threshold (:func:`borderline`) may change, because
  the digits that decide it differ between CPUs; such changes are reported, not hidden;
- every number within ``atol + rtol * |reference|``, with the tolerance chosen per column by :data:`TOLERANCES`
  (interval bounds get a share of their interval's width on top, :data:`INTERVAL_WIDTH_SHARE`);
- numbers written inside text (a label such as ``"0.29 vs 0.30"``) the same way, the words around them exactly.

Columns, tables and claim rows that measure the machine rather than the method (wall times, speed ratios, a speed
claim "on this machine") are skipped: only their words are compared.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Tolerance:
    """``|actual - reference| <= atol + rtol * |reference|``."""

    atol: float
    rtol: float

    def accepts(self, actual: float, reference: float) -> bool:
        if math.isnan(reference) or math.isnan(actual):
            return math.isnan(reference) and math.isnan(actual)
        if math.isinf(reference) or math.isinf(actual):
            return actual == reference
        return abs(actual - reference) <= self.atol + self.rtol * abs(reference)


#: Column-name patterns (regular expressions, searched case-insensitively in ``"<table>.<column>"``, first match wins)
#: and the tolerance each gets. They were set at about three times the largest difference measured between
#: ``ATEN_CPU_CAPABILITY=default`` and ``avx512`` on the quick profile of chapters 1-8 (one thread): accuracies and
#: their means differed by at most 0.0075, standard deviations over repeats by 0.0053, AUPC by 0.002, k-means NMI by
#: 0.022 and ARI by 0.008, validation losses by 0.1%, imputation RMSE by 1e-4 and polygenic R^2 by 2e-4. A later
#: measurement (``default`` against ``avx2`` on an AMD EPYC, chapters 1-12) moved one run's accuracy on chapter 5's
#: small non-linear test set by 0.03 (three test samples), hence 0.05 for accuracies. The bounds of an interval also
#: get a share of its width (:data:`INTERVAL_WIDTH_SHARE`).
TOLERANCES: list[tuple[str, Tolerance]] = [
    (r"(ari|nmi)\b", Tolerance(atol=0.06, rtol=0.0)),
    (r"(\bsd\b|_sd\b|\bstd\b|sd over|\bci\b)", Tolerance(atol=0.03, rtol=0.0)),
    (r"aupc|\barea\b", Tolerance(atol=0.02, rtol=0.0)),
    (r"accuracy|f1|auroc|auprc|\bauc\b|\bmean\b|tpr|fdr|precision|recall|cindex|share", Tolerance(atol=0.05, rtol=0.0)),
    (r"estimate|ci_low|ci_high|effect|difference|diff|gap", Tolerance(atol=0.03, rtol=0.05)),
    (r"loss|rmse|\bmae\b|r2|\|r\||correlation|value|effective_rank|rank", Tolerance(atol=0.01, rtol=0.02)),
    (r"p_vs_|p-value|p_value|\bp\b", Tolerance(atol=0.05, rtol=0.0)),
    (r"epochs|collapsed\b|collapsed_on|selected|labels to reach|labels saved", Tolerance(atol=3.0, rtol=0.1)),
]

EXACT = Tolerance(atol=0.0, rtol=0.0)

#: Interval bounds (``ci_low``/``ci_high``, ``95% CI low``/``95% CI high``) may move by this share of the reference
#: interval's width on top of their column tolerance. A t-interval over a few repeats is mean +- t * sd / sqrt(n),
#: and the sd of two or three repeats is itself uncertain, so the CPU's last digits move its bounds in proportion to
#: its width (t = 12.7 for two repeats). Measured: up to 0.22 of the width (chapter 5's two-repeat intervals,
#: ``ATEN_CPU_CAPABILITY=default`` against ``avx2``); the share is about twice that.
INTERVAL_WIDTH_SHARE = 0.5
INTERVAL_BOUNDS = (("ci_low", "ci_high"), ("95% CI low", "95% CI high"))


def interval_tolerance(column: str, row: dict, table: str = "claims") -> Tolerance:
    """The tolerance of ``column`` in a reference ``row``: its column tolerance, widened by
    :data:`INTERVAL_WIDTH_SHARE` of the row's interval width when ``column`` is an interval bound."""
    tol = tolerance_for(f"{table}.{column}")
    for low, high in INTERVAL_BOUNDS:
        if column in (low, high) and isinstance(row.get(low), (int, float)) and isinstance(row.get(high), (int, float)):
            width = float(row[high]) - float(row[low])
            if math.isfinite(width) and width > 0:
                return Tolerance(atol=tol.atol + INTERVAL_WIDTH_SHARE * width, rtol=tol.rtol)
    return tol

#: Columns that measure the machine, not the method: never compared (a column ending in ``_s`` is a time in seconds).
SKIPPED_COLUMNS = re.compile(r"(seconds|wall|time_s|ratio_to_|speed|throughput|samples_per_s|_s$)", re.IGNORECASE)

#: A claim row whose ``data`` says it was measured on "this machine" (a speed claim) measures the machine too: its
#: numbers and verdict are not compared, only its words outside them.
MACHINE_ROW = re.compile(r"this machine", re.IGNORECASE)


def measures_the_machine(table: str, row: dict) -> bool:
    """Whether a result row measures the machine: a claim whose ``data`` says it was measured "on this machine"."""
    return bool(MACHINE_ROW.search(str(row.get("data", ""))))

#: Any other number: integers (sizes, counts, seeds) exactly, floats within this tolerance.
DEFAULT_TOLERANCE = Tolerance(atol=0.03, rtol=0.05)


def tolerance_for(column: str) -> Tolerance:
    """The tolerance of a result column (see :data:`TOLERANCES`)."""
    for pattern, tol in TOLERANCES:
        if re.search(pattern, column, re.IGNORECASE):
            return tol
    return DEFAULT_TOLERANCE


def _compare_value(where: str, column: str, actual: Any, reference: Any, problems: list[str],
                   tol: Tolerance | None = None) -> None:
    tol = tol or tolerance_for(column)
    if tol is DEFAULT_TOLERANCE and isinstance(reference, int) and isinstance(actual, int):
        tol = EXACT
    if isinstance(reference, bool) or isinstance(actual, bool) or reference is None or actual is None:
        if actual != reference:
            problems.append(f"{where}: {actual!r} != reference {reference!r} (compared exactly)")
        return
    if isinstance(reference, (int, float)) and isinstance(actual, (int, float)):
        if not tol.accepts(float(actual), float(reference)):
            problems.append(f"{where}: {actual!r} vs reference {reference!r} beyond atol={tol.atol} rtol={tol.rtol}")
        return
    if isinstance(reference, str) and isinstance(actual, str):
        if NUMBER.sub("#", actual) != NUMBER.sub("#", reference):
            problems.append(f"{where}: text {actual!r} != reference {reference!r}")
            return
        for a, r in zip(NUMBER.findall(actual), NUMBER.findall(reference)):
            if not tol.accepts(float(a), float(r)):
                problems.append(f"{where}: number {a} in {actual!r} vs {r} beyond atol={tol.atol} rtol={tol.rtol}")
        return
    problems.append(f"{where}: type {type(actual).__name__} != reference type {type(reference).__name__}")


VERDICT_COLUMNS = ("verdict", "ci_low", "ci_high", "threshold", "direction")


def borderline(row: dict) -> bool:
    """Whether a verdict row's interval ends within the ``ci_low``/``ci_high`` tolerance of its decision boundary.

    Such a verdict is decided by digits that differ between CPUs: on another machine the same run can land on the
    other side of the boundary. :func:`compare_results` accepts a changed verdict only for such rows of the
    *reference*, and reports it; every other verdict must match exactly.
    """
    if any(row.get(c) is None for c in VERDICT_COLUMNS):
        return False
    tol = interval_tolerance("ci_low", row)
    bounds = [row["threshold"]] if row["direction"] != "within" else [-row["threshold"], row["threshold"]]
    return any(tol.accepts(end, bound) for end in (row["ci_low"], row["ci_high"]) for bound in bounds)


def compare_results(actual: dict, reference: dict, *, name: str = "", notes: list[str] | None = None) -> list[str]:
    """Every difference between two results files (as loaded JSON) that the tolerances do not accept; empty if none.

    Both are ``{"tables": {table: [row, ...]}, ...}`` as :func:`omicsnb.book.record` writes them.
    """
    problems: list[str] = []
    a_tables, r_tables = actual.get("tables", {}), reference.get("tables", {})
    if set(a_tables) != set(r_tables):
        missing, extra = sorted(set(r_tables) - set(a_tables)), sorted(set(a_tables) - set(r_tables))
        problems.append(f"{name}: tables differ (missing {missing}, unexpected {extra})")
    for table in sorted(set(a_tables) & set(r_tables)):
        rows_a, rows_r = a_tables[table], r_tables[table]
        if len(rows_a) != len(rows_r):
            problems.append(f"{name}/{table}: {len(rows_a)} rows vs reference {len(rows_r)}")
            continue
        for i, (row_a, row_r) in enumerate(zip(rows_a, rows_r)):
            if list(row_a) != list(row_r):
                problems.append(f"{name}/{table}[{i}]: columns {list(row_a)} vs reference {list(row_r)}")
                continue
            if measures_the_machine(table, row_r):
                for column in row_r:
                    if isinstance(row_r[column], str) and column != "verdict":
                        _compare_value(f"{name}/{table}[{i}].{column}", f"{table}.{column}", row_a[column],
                                       row_r[column], problems)
                continue
            flipped = row_a.get("verdict") != row_r.get("verdict")
            if "verdict" in row_r and flipped and borderline(row_r):
                if notes is not None:
                    notes.append(f"{name}/{table}[{i}]: verdict {row_r['verdict']!r} -> {row_a['verdict']!r} at the "
                                 f"boundary (reference interval [{row_r['ci_low']:.4g}, {row_r['ci_high']:.4g}], "
                                 f"threshold {row_r['threshold']:g})")
                row_a = {**row_a, "verdict": row_r["verdict"]}
            for column in row_r:
                if SKIPPED_COLUMNS.search(column):
                    continue
                tol = interval_tolerance(column, row_r, table) if isinstance(row_r[column], (int, float)) else None
                _compare_value(f"{name}/{table}[{i}].{column}", f"{table}.{column}", row_a[column], row_r[column],
                               problems, tol)
    return problems
