"""The data contract: one set of data parameters, with the same names and meaning, in every chapter.

Every chapter that can run on the reader's own matrix has the same lines in its ``parameters`` cell, generated from
:data:`CONTRACT_DEFAULTS` (name -> default and one-line help), and passes them to the one entry point,
:func:`omicsnb.data.load_or_simulate`. This module holds the rules behind those parameters:

- ``data_path``: the file (CSV / TSV / TXT, optionally ``.gz``, parquet or ``.h5ad``); empty means the simulator.
- ``orientation``: ``auto``, ``samples_by_genes`` or ``genes_by_samples``.
- ``label_column``, ``sample_id_column``: in the matrix, or, with ``labels_path``, in a separate per-sample table
  whose sample IDs are in ``labels_sample_column`` (empty: its first column). Other text columns are kept as
  metadata.
- ``data_kind``: ``auto`` (non-negative integers are counts, anything else is taken as log-scale), ``counts``
  (log2(CPM + 1) is taken), ``log`` or ``zscored`` (used as they are).
- ``missing``: what to do with NaN expression values: ``error``, ``drop_genes``, ``drop_samples`` or ``impute``
  (each gene's mean over the samples that have it); the counts are reported.
- ``min_class_size``: smaller classes are dropped with a note; samples without a label are dropped with a count.

Every error names the chapter parameter to change (``-p data_kind log``), never an internal argument. The second
half of the module makes chapter sizes scale to the data: split sizes, gene counts, label fractions and component
counts shrink to what the data allow, each time with a printed note rather than an error.

Introduced in chapter 1, *Data and exploration*, and in the book's *How to run this book* page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import pandas as pd

from omicsnb.data.loaders import ExpressionData, load_expression
from omicsnb.data.tables import _column_not_found, _read_any_table
from omicsnb.validation import OmicsInputError

__all__ = [
    "CONTRACT_DEFAULTS", "DATA_KINDS", "MISSING_POLICIES", "ORIENTATIONS", "UserData", "check_contract",
    "contract_parameter_lines", "feasible_fractions", "fit_aupc_range", "fit_count", "fit_counts", "fit_split_sizes",
    "read_user_data",
]

logger = logging.getLogger(__name__)

ORIENTATIONS = ("auto", "samples_by_genes", "genes_by_samples")
DATA_KINDS = ("auto", "counts", "log", "zscored")
MISSING_POLICIES = ("error", "drop_genes", "drop_samples", "impute")
_MISSING_API_ONLY = ("keep",)  # for code that imputes the gaps itself (the imputation chapter); not a chapter choice

#: The contract: parameter name -> (default, one-line help). The chapters' parameters cells repeat these lines
#: verbatim (``tests/test_contract.py`` checks it); :func:`contract_parameter_lines` writes them.
CONTRACT_DEFAULTS: dict[str, tuple[object, str]] = {
    "data_path": ("", "your own expression file (CSV/TSV/TXT, .gz, parquet or h5ad); empty: use the simulator"),
    "label_column": ("cancer_type", "the column with the class of each sample (in data_path, or in labels_path)"),
    "sample_id_column": ("", "the column with the sample IDs; empty: the file's first text column, or row numbers"),
    "orientation": ("auto", "rows of data_path: auto, samples_by_genes or genes_by_samples"),
    "labels_path": ("", "a separate per-sample table with label_column (e.g. for a genes x samples matrix)"),
    "labels_sample_column": ("", "the sample ID column of labels_path; empty: its first column"),
    "data_kind": ("auto", "auto (non-negative integers: counts), counts (log2 CPM+1 is taken), log or zscored"),
    "missing": ("error", "NaN expression values: error, drop_genes, drop_samples or impute (gene means)"),
    "min_class_size": (5, "classes with fewer samples are dropped, with a note"),
}

_VALUE_LABELS = {
    "counts": "log2(CPM + 1)",
    "log": "expression (log scale, as given)",
    "zscored": "expression (z-scores, as given)",
}


def contract_parameter_lines() -> list[str]:
    """The contract's lines for a chapter's ``parameters`` cell, ``name = default  # help``, in contract order."""
    def literal(value) -> str:
        return '"' + value + '"' if isinstance(value, str) else repr(value)

    return [f"{name} = {literal(default)}  # {help_}" for name, (default, help_) in CONTRACT_DEFAULTS.items()]


def _param(name: str, value) -> str:
    """How a chapter user sets a parameter on the command line: ``-p name value``."""
    return f"-p {name} {value}"


def check_contract(*, orientation: str, data_kind: str, missing: str, min_class_size) -> None:
    """Reject unknown values of the contract's choice parameters, naming the chapter parameter."""
    for name, value, allowed in (
        ("orientation", orientation, ORIENTATIONS),
        ("data_kind", data_kind, DATA_KINDS),
        ("missing", missing, MISSING_POLICIES + _MISSING_API_ONLY),
    ):
        if value not in allowed:
            shown = MISSING_POLICIES if name == "missing" else allowed
            raise OmicsInputError(f"{name}={value!r} is not known; pass {_param(name, '<one of: ' + ', '.join(shown) + '>')}")
    if isinstance(min_class_size, bool) or not isinstance(min_class_size, Integral) or min_class_size < 1:
        raise OmicsInputError(f"min_class_size={min_class_size!r} must be a positive integer; pass e.g. "
                              f"{_param('min_class_size', 5)}")


# ----------------------------------------------------------------------------------------------------------------------
# Errors from the loaders, reworded for chapter users
# ----------------------------------------------------------------------------------------------------------------------
_REWORDINGS = (
    (re.compile(r"pass orientation='(\w+)' or orientation='(\w+)'"), r"pass -p orientation \1 or -p orientation \2"),
    (re.compile(r"orientation='(\w+)'"), r"-p orientation \1"),
    (re.compile(r"drop orientation= for it"), "leave -p orientation auto for it"),
    (re.compile(r"pass sample_id_column= if that is wrong"), "pass -p sample_id_column NAME if that is wrong"),
    (re.compile(r"if it describes samples, pass it in metadata_columns= \(or as label_column=\), else fix the file"),
     "a column of sample information must hold text; pass -p label_column NAME for the labels, else fix the file"),
    (re.compile(r"for a genes x samples matrix, join a phenotype table with load_xena"),
     "for a genes x samples matrix, put the labels in a separate file and pass -p labels_path FILE"),
    (re.compile(r"impute or drop them, or pass allow_nan=True"), "pass -p missing drop_genes, drop_samples or impute"),
    (re.compile(r"label_column and the sample column"), "label_column and labels_sample_column"),
)


def _reworded(error: OmicsInputError) -> OmicsInputError:
    message = str(error)
    for pattern, replacement in _REWORDINGS:
        message = pattern.sub(replacement, message)
    return OmicsInputError(message)


# ----------------------------------------------------------------------------------------------------------------------
# Reading a user's file under the contract
# ----------------------------------------------------------------------------------------------------------------------
@dataclass
class UserData:
    """A user's file after the contract: log-scale ``X`` (samples x genes), string labels ``y``, metadata, notes."""

    X: pd.DataFrame
    y: pd.Series
    meta: pd.DataFrame
    data_kind: str
    source: str
    counts: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def value_label(self) -> str:
        return _VALUE_LABELS[self.data_kind]


def _note(notes: list[str], text: str) -> None:
    notes.append(text)
    logger.info(text)


def _read_labels(labels_path: str, labels_sample_column: str, label_column: str, matrix: ExpressionData,
                 notes: list[str]) -> ExpressionData:
    """Join a per-sample table to a matrix read without labels (an inner join on the sample IDs, as text)."""
    table, path = _read_any_table(labels_path)
    if table.shape[1] < 2:
        raise OmicsInputError(
            f"{path.name} has {table.shape[1]} column(s); a labels file needs a sample ID column and "
            f"{label_column!r} (set {_param('labels_sample_column', 'NAME')})"
        )
    id_column = labels_sample_column or table.columns[0]
    if id_column not in table.columns:
        raise OmicsInputError(str(_column_not_found("labels_sample_column", id_column, table.columns, path.name)))
    if label_column not in table.columns:
        error = _column_not_found("label_column", label_column, table.columns, path.name)
        raise OmicsInputError(f"{error}; pass {_param('label_column', 'NAME')}")
    if label_column == id_column:
        raise OmicsInputError(f"label_column and labels_sample_column are both {label_column!r}; "
                              f"pass {_param('labels_sample_column', 'NAME')}")
    ids = table[id_column]
    if ids.isna().any():
        raise OmicsInputError(f"{path.name} column {id_column!r} has {int(ids.isna().sum())} empty sample ID(s); "
                              "give every row an ID or remove it")
    ids = ids.astype(str)
    if ids.duplicated().any():
        raise OmicsInputError(f"{path.name} column {id_column!r} lists sample {ids[ids.duplicated()].iloc[0]!r} "
                              f"twice; keep one row per sample (or set {_param('labels_sample_column', 'NAME')})")
    table = table.drop(columns=[id_column]).set_axis(pd.Index(ids), axis=0)
    matrix_ids = matrix.X.index.astype(str)
    shared = matrix_ids.isin(table.index)
    if not shared.any():
        raise OmicsInputError(
            f"no sample ID is shared by {matrix.source} (e.g. {matrix_ids[0]!r}) and {path.name} column "
            f"{id_column!r} (e.g. {table.index[0]!r}); check {_param('labels_sample_column', 'NAME')} and "
            f"{_param('orientation', 'genes_by_samples')}"
        )
    if not shared.all() or len(table) > shared.sum():
        _note(notes, f"{int(shared.sum())} samples are in both files: {int((~shared).sum())} of {len(matrix_ids)} "
                     f"matrix samples have no row in {path.name}, {len(table) - int(shared.sum())} of {len(table)} "
                     "rows of it have no expression")
    kept = matrix_ids[shared]
    X = matrix.X.loc[shared].set_axis(kept, axis=0)
    rows = table.loc[kept]
    meta_columns = [c for c in rows.columns if c != label_column]
    return ExpressionData(X=X, y=rows[label_column], meta=rows.loc[:, meta_columns],
                          source=f"{matrix.source} + {path.name}")


def _handle_missing(X: pd.DataFrame, missing: str, source: str, notes: list[str]) -> pd.DataFrame:
    gaps = X.isna().to_numpy()
    n_missing = int(gaps.sum())
    if n_missing == 0 or missing == "keep":
        if n_missing:
            _note(notes, f"{n_missing} missing expression values ({n_missing / gaps.size:.2%}) kept as NaN")
        return X
    genes_hit = int(gaps.any(axis=0).sum())
    samples_hit = int(gaps.any(axis=1).sum())
    share = f"{n_missing} missing values ({n_missing / gaps.size:.2%}) in {genes_hit} of {X.shape[1]} genes and " \
            f"{samples_hit} of {X.shape[0]} samples"
    if missing == "error":
        raise OmicsInputError(
            f"{source} has {share}; pass -p missing drop_genes, -p missing drop_samples or -p missing impute"
        )
    if missing == "drop_genes":
        if genes_hit == X.shape[1]:
            raise OmicsInputError(f"{source} has {share}: every gene has a gap; pass -p missing impute instead")
        _note(notes, f"{share}: dropped the {genes_hit} genes with a gap (missing=drop_genes)")
        return X.loc[:, ~gaps.any(axis=0)]
    if missing == "drop_samples":
        if samples_hit == X.shape[0]:
            raise OmicsInputError(f"{source} has {share}: every sample has a gap; pass -p missing drop_genes or "
                                  "-p missing impute instead")
        _note(notes, f"{share}: dropped the {samples_hit} samples with a gap (missing=drop_samples)")
        return X.loc[~gaps.any(axis=1)]
    # impute: each gene's mean over the samples that have it; a gene with no value at all is dropped
    empty = gaps.all(axis=0)
    if empty.all():
        raise OmicsInputError(f"{source} has no observed expression value at all; check the file")
    X = X.loc[:, ~empty]
    filled = X.fillna(X.mean(axis=0))
    extra = f", and dropped {int(empty.sum())} genes with no value" if empty.any() else ""
    _note(notes, f"{share}: filled each gap with its gene's mean (missing=impute){extra}")
    return filled


def _is_integer_valued(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return finite.size > 0 and bool(np.all(finite == np.round(finite)))


def _resolve_kind(X: pd.DataFrame, data_kind: str, source: str, notes: list[str]) -> str:
    values = X.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    lowest = float(finite.min()) if finite.size else 0.0
    if data_kind == "auto":
        if lowest >= 0 and _is_integer_valued(values):
            kind = "counts"
            _note(notes, f"data_kind auto: {source} holds non-negative integers, read as counts (log2 CPM+1 taken; "
                         "pass -p data_kind log if they are not counts)")
        else:
            kind = "log"
            _note(notes, f"data_kind auto: {source} holds {'negative' if lowest < 0 else 'non-integer'} values, "
                         "used as they are (log scale); pass -p data_kind counts if they are raw counts")
            highest = float(finite.max()) if finite.size else 0.0
            if highest > 100:
                _note(notes, f"values reach {highest:.4g}, more than log-scale expression usually does; if they are "
                             "not logged (TPM, intensities), log-transform the file first")
        return kind
    if data_kind == "counts" and lowest < 0:
        n_negative = int((finite < 0).sum())
        raise OmicsInputError(
            f"data_kind is counts but {source} has {n_negative} negative value(s) (lowest {lowest:g}); counts cannot "
            "be negative: pass -p data_kind log (or -p data_kind zscored)"
        )
    return data_kind


def _to_log_cpm(counts: pd.DataFrame, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    library = counts.sum(axis=1, skipna=True)
    empty = library <= 0
    if empty.all():
        raise OmicsInputError("every sample has zero total counts; check the file, or pass -p data_kind log")
    if empty.any():
        _note(notes, f"dropped {int(empty.sum())} samples with zero total counts (first: {counts.index[empty][0]!r})")
        counts = counts.loc[~empty]
        library = library.loc[~empty]
    logged = np.log2(counts.div(library, axis=0) * 1e6 + 1.0)
    return logged, counts


def read_user_data(
    data_path: str,
    *,
    label_column: str = "cancer_type",
    sample_id_column: str = "",
    orientation: str = "auto",
    labels_path: str = "",
    labels_sample_column: str = "",
    data_kind: str = "auto",
    missing: str = "error",
    min_class_size: int = 5,
) -> UserData:
    """Read a user's file under the data contract (see the module docstring); every error names a chapter parameter.

    Returns the log-scale matrix (counts become log2(CPM + 1); log and z-scored values are kept), string labels
    named after ``label_column``, the other per-sample columns as metadata, the resolved ``data_kind`` and the notes
    on everything dropped or decided on the way.
    """
    check_contract(orientation=orientation, data_kind=data_kind, missing=missing, min_class_size=min_class_size)
    if not isinstance(label_column, str) or not label_column:
        raise OmicsInputError(f"label_column is empty; pass {_param('label_column', 'NAME')} (the column of classes)")
    notes: list[str] = []
    try:
        if labels_path:
            matrix = load_expression(data_path, orientation=orientation, sample_id_column=sample_id_column or None,
                                     allow_nan=True, keep_text_columns=True)
            loaded = _read_labels(labels_path, labels_sample_column, label_column, matrix, notes)
        else:
            if labels_sample_column:
                raise OmicsInputError("labels_sample_column is set but labels_path is empty; pass "
                                      f"{_param('labels_path', 'FILE')} or leave labels_sample_column empty")
            if orientation == "genes_by_samples":
                raise OmicsInputError("a genes x samples file has no column for the labels; put them in a separate "
                                      f"file and pass {_param('labels_path', 'FILE')}")
            loaded = load_expression(data_path, label_column=label_column, sample_id_column=sample_id_column or None,
                                     orientation=orientation, allow_nan=True, keep_text_columns=True)
    except OmicsInputError as error:
        message = str(error)
        if not labels_path and "label column" in message and "not found" in message:
            message += f" (pass {_param('label_column', 'NAME')}; labels in a separate file: " \
                       f"{_param('labels_path', 'FILE')})"
        raise _reworded(OmicsInputError(message)) from None
    source = loaded.source
    X, y, meta = loaded.X, loaded.y, loaded.meta

    # labels: empty ones dropped with a count, then classes below min_class_size
    unlabelled = y.isna().to_numpy() | (y.astype(str).str.strip() == "").to_numpy()
    if unlabelled.all():
        raise OmicsInputError(f"every sample of {source} has an empty {label_column!r}; pass "
                              f"{_param('label_column', 'NAME')}")
    if unlabelled.any():
        _note(notes, f"dropped {int(unlabelled.sum())} samples with no {label_column!r} label")
        X, y, meta = X.loc[~unlabelled], y.loc[~unlabelled], meta.loc[~unlabelled]
    y = y.astype(str).rename(label_column)

    X = _handle_missing(X, missing, source, notes)
    y, meta = y.loc[X.index], meta.loc[X.index]
    kind = _resolve_kind(X, data_kind, source, notes)
    counts = None
    if kind == "counts":
        X, counts = _to_log_cpm(X, notes)
        y, meta = y.loc[X.index], meta.loc[X.index]

    sizes = y.value_counts()
    small = sizes[sizes < min_class_size]
    if len(small):
        shown = ", ".join(f"{name} ({n})" for name, n in small.head(5).items())
        more = f", ... ({len(small) - 5} more)" if len(small) > 5 else ""
        _note(notes, f"dropped {len(small)} classes with fewer than min_class_size={min_class_size} samples: "
                     f"{shown}{more}; {int(small.sum())} samples removed")
        keep = ~y.isin(small.index).to_numpy()
        X, y, meta = X.loc[keep], y.loc[keep], meta.loc[keep]
        if counts is not None:
            counts = counts.loc[keep]
    n_classes = y.nunique()
    if n_classes < 2:
        raise OmicsInputError(
            f"{source} has {n_classes} class(es) in {label_column!r} with at least {min_class_size} samples; the "
            f"chapters need two or more: pass {_param('min_class_size', 'N')} with a smaller N, or another "
            f"{_param('label_column', 'NAME')}"
        )
    if X.shape[1] < 2:
        raise OmicsInputError(f"{source} keeps {X.shape[1]} gene(s) after the checks; the chapters need at least 2")
    return UserData(X=X.astype(np.float32), y=y, meta=meta, data_kind=kind, source=source,
                    counts=counts, notes=notes)


# ----------------------------------------------------------------------------------------------------------------------
# Sizes that scale to the data
# ----------------------------------------------------------------------------------------------------------------------
def _say(notes: list[str] | None, text: str) -> None:
    print(f"note: {text}")
    if notes is not None:
        notes.append(text)


def _check_count(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise OmicsInputError(f"{name}={value!r} must be an integer; pass e.g. {_param(name, 100)}")
    if value < low:
        raise OmicsInputError(f"{name}={value} must be at least {low}; pass {_param(name, max(low, 1))}")


def fit_count(name: str, requested: int, available: int, *, low: int = 1, notes: list[str] | None = None) -> int:
    """``requested`` clipped to ``[low, available]``, with a printed note when it had to shrink.

    For gene counts, highly variable gene sizes, principal components and layer widths: the chapters' defaults are
    sized for the simulator, and a user's matrix may be smaller.
    """
    _check_count(name, requested, low)
    if available < low:
        raise OmicsInputError(f"the data allow {available} for {name}, fewer than the {low} needed; use more data")
    if requested > available:
        _say(notes, f"{name}={requested} is more than the data allow; using {available}")
        return int(available)
    return int(requested)


def fit_counts(name: str, requested: Sequence[int], available: int, *, low: int = 1,
               notes: list[str] | None = None) -> list[int]:
    """Each entry of ``requested`` clipped as by :func:`fit_count` (one note for all); duplicates are merged."""
    if isinstance(requested, (str, bytes)) or not isinstance(requested, Sequence) or not len(requested):
        raise OmicsInputError(f"{name}={requested!r} must be a non-empty list; pass e.g. {_param(name, '[100, 200]')}")
    clipped: list[int] = []
    if available < low:
        raise OmicsInputError(f"the data allow {available} for {name}, fewer than the {low} needed; use more data")
    for value in requested:
        _check_count(name, value, low)
        value = min(int(value), int(available))
        if value not in clipped:
            clipped.append(value)
    if clipped != [int(v) for v in requested]:
        _say(notes, f"{name}={list(requested)} asks for more than the {available} the data allow; using {clipped}")
    return clipped


def fit_split_sizes(n_samples: int, n_classes: int, *, n_finetune, n_test, min_pretrain_share: float = 0.25,
                    notes: list[str] | None = None) -> tuple[int, int]:
    """Sample counts for the fine-tuning pool and the test set that fit ``n_samples``.

    Each size is a count (int) or a share of the samples (float in (0, 1)). When the two together would leave less
    than ``min_pretrain_share`` of the samples (and, on a small set, less than 20 samples or half of them) for
    pretraining, both shrink in proportion (with a note), but never below one sample per class.
    """
    sizes = {}
    for name, value in (("n_finetune", n_finetune), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise OmicsInputError(f"{name}={value!r} must be a count or a share of the samples; pass e.g. "
                                  f"{_param(name, 200)}")
        if isinstance(value, Integral):
            if value < 1:
                raise OmicsInputError(f"{name}={value} must be positive; pass e.g. {_param(name, 200)}")
            sizes[name] = int(value)
        else:
            if not 0 < value < 1:
                raise OmicsInputError(f"{name}={value!r} as a share must be in (0, 1); pass e.g. {_param(name, 0.25)}")
            sizes[name] = max(1, int(round(float(value) * n_samples)))
    # pretraining keeps a share of the samples, and on a small set at least 20 (or half), so that the pretrainers
    # still have a validation batch of two or more
    keep = max(int(np.ceil(min_pretrain_share * n_samples)), min(20, n_samples // 2))
    budget = n_samples - keep
    total = sizes["n_finetune"] + sizes["n_test"]
    if total > budget:
        scale = budget / total
        fitted = {k: max(n_classes, int(np.floor(v * scale))) for k, v in sizes.items()}
        if fitted["n_finetune"] + fitted["n_test"] + n_classes > n_samples:
            raise OmicsInputError(
                f"{n_samples} samples in {n_classes} classes are too few for a test set, a labelled pool and a "
                "pretraining set with a sample of each class; use more samples, or raise -p min_class_size to drop "
                "small classes"
            )
        _say(notes, f"n_finetune={sizes['n_finetune']} and n_test={sizes['n_test']} leave too little of the "
                    f"{n_samples} samples for pretraining; using n_finetune={fitted['n_finetune']} and "
                    f"n_test={fitted['n_test']}")
        sizes = fitted
    return sizes["n_finetune"], sizes["n_test"]


def feasible_fractions(fractions: Sequence[float], labels, *, name: str = "fractions", min_per_class: int = 1,
                       at_least: int = 1, notes: list[str] | None = None) -> list[float]:
    """The label fractions whose subset of ``labels`` can keep ``min_per_class`` samples of every class.

    A fraction too small for that is skipped with a note (not an error). If fewer than ``at_least`` are left (an
    AUPC needs two), the smallest fraction that works and then 1.0 are added.
    """
    y = np.asarray(labels)
    n, n_classes = len(y), len(np.unique(y))
    if not len(fractions):
        raise OmicsInputError(f"{name} is empty; pass e.g. {_param(name, '[0.1, 0.5, 1.0]')}")
    needed = n_classes * min_per_class
    kept = [float(f) for f in fractions if int(np.floor(float(f) * n + 0.5)) >= needed]
    skipped = [float(f) for f in fractions if float(f) not in kept]
    if len(kept) < at_least:
        smallest = min(1.0, float(np.ceil(needed / n * 1000) / 1000))
        for extra in (smallest, 1.0):
            if len(kept) < at_least and extra not in kept:
                kept = sorted([*kept, extra])
    if skipped:
        _say(notes, f"{name} {skipped} give fewer than {needed} of the {n} labelled samples, too few to keep "
                    f"{min_per_class} of each of the {n_classes} classes; skipped (using {kept})")
    return kept


def fit_aupc_range(fractions: Sequence[float], low: float, high: float, *,
                   notes: list[str] | None = None) -> tuple[float, float]:
    """An AUPC range ``[low, high]`` whose two ends are among ``fractions`` (as :func:`omicsnb.evaluate.aupc` needs).

    ``low`` moves up to the smallest fraction at or above it, ``high`` down to the largest fraction at or below it;
    when that leaves no range (the low fractions were skipped on a small data set), ``high`` becomes the next
    fraction above ``low``. A note says when either end moved.
    """
    grid = sorted({float(f) for f in fractions})
    if len(grid) < 2:
        raise OmicsInputError(f"an AUPC needs two label fractions, got {grid}; pass e.g. -p fractions '[0.1, 0.3]'")
    new_low = next((f for f in grid if f >= low - 1e-9), grid[-2])
    new_low = min(new_low, grid[-2])
    below = [f for f in grid if new_low < f <= high + 1e-9]
    new_high = below[-1] if below else next(f for f in grid if f > new_low)
    if (new_low, new_high) != (float(low), float(high)):
        _say(notes, f"AUPC range [{low:g}, {high:g}] moved to [{new_low:g}, {new_high:g}], the label fractions run here")
    return new_low, new_high
