"""The data every chapter starts from: the simulator or the reader's own file, and the book's standard splits.

- :func:`load_or_simulate` returns a :class:`DataSource` (log expression, labels, sample metadata, and the simulated
  cohort with its truth when there is one). Chapters take ``data_path`` as a parameter and pass it here.
- :func:`prepare_classification` draws the stratified test / fine-tuning / pretraining split of the practical report
  (1,000 / 1,000 / the rest), chooses the highly variable genes and fits z-scoring on the pretraining split only.

Introduced in chapter 1, *Data and exploration* (:func:`load_or_simulate`) and chapter 2, *Supervised baseline*
(:func:`prepare_classification`).
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from omicsnb.data.contract import (
    _VALUE_LABELS,
    CONTRACT_DEFAULTS,
    check_contract,
    fit_count,
    fit_split_sizes,
    read_user_data,
)
from omicsnb.data.genes import map_gene_ids
from omicsnb.data.preprocess import select_variable_genes, standardize, stratified_split
from omicsnb.data.simulate import Cohort, simulate_cohort
from omicsnb.validation import OmicsInputError


@dataclass
class DataSource:
    """Expression data ready for a chapter: ``log_expression`` (samples x genes), ``labels`` and ``obs``.

    ``data_kind`` is what the values were (``counts`` -- shown as log2(CPM + 1) --, ``log`` or ``zscored``),
    ``value_label`` the words for axes, ``label_name`` the label column's name, ``notes`` what the data contract
    dropped, filled or decided, and ``simulated`` whether there is a simulated cohort (and so a truth to check).
    """

    log_expression: pd.DataFrame
    labels: pd.Series
    obs: pd.DataFrame
    origin: str
    cohort: Cohort | None = None
    mapping_table: pd.DataFrame | None = None
    counts: np.ndarray | pd.DataFrame | None = field(default=None, repr=False)
    data_kind: str = "counts"
    notes: list[str] = field(default_factory=list)

    @property
    def simulated(self) -> bool:
        """True for the simulator's cohort, whose truth the chapters can check against."""
        return self.cohort is not None

    @property
    def label_name(self) -> str:
        """The label column's name, for titles, axes and tables."""
        return str(self.labels.name)

    @property
    def value_label(self) -> str:
        """The scale of ``log_expression`` in words, for axes."""
        return _VALUE_LABELS.get(self.data_kind, "expression")

    def summary(self) -> pd.DataFrame:
        """A tidy two-column table (quantity, value) describing the data."""
        sizes = self.labels.value_counts()
        rows = [
            ("data", self.origin),
            ("samples", len(self.log_expression)),
            ("genes", self.log_expression.shape[1]),
            ("values", self.value_label),
            (f"classes ({self.labels.name})", len(sizes)),
            ("largest class", f"{sizes.index[0]} ({sizes.iloc[0]})"),
            ("smallest class", f"{sizes.index[-1]} ({sizes.iloc[-1]})"),
        ]
        if "sample_type" in self.obs:
            rows.append(("normal samples", int((self.obs["sample_type"] == "normal").sum())))
        if "batch" in self.obs:
            rows.append(("batches", int(self.obs["batch"].nunique())))
        if self.counts is not None:
            totals = np.asarray(np.nansum(np.asarray(self.counts, dtype=float), axis=1), dtype=float)
            rows.append(("median library size (reads)", int(np.median(totals))))
        return pd.DataFrame(rows, columns=["quantity", "value"]).astype({"value": str})

    def __str__(self) -> str:
        n, g = self.log_expression.shape
        text = f"{self.origin}: {n} samples x {g} genes ({self.value_label}), {self.labels.nunique()} classes in " \
               f"'{self.labels.name}'"
        return "\n".join([text, *(f"note: {note}" for note in self.notes)])


_SIMULATOR_ARGUMENTS = frozenset(inspect.signature(simulate_cohort).parameters) - {"seed"}


def load_or_simulate(
    data_path: str = "",
    *,
    label_column: str = CONTRACT_DEFAULTS["label_column"][0],
    sample_id_column: str = "",
    orientation: str = "auto",
    labels_path: str = "",
    labels_sample_column: str = "",
    data_kind: str = "auto",
    missing: str = "error",
    min_class_size: int = CONTRACT_DEFAULTS["min_class_size"][0],
    mapping_path: str = "",
    seed: int = 0,
    **simulate_kwargs,
) -> DataSource:
    """The one data entry point of every chapter: the reader's file under the data contract, or the simulator.

    With ``data_path`` the file is read by :func:`omicsnb.data.contract.read_user_data` (the contract's parameters:
    orientation, a separate labels file, ``data_kind``, ``missing``, ``min_class_size``; counts become
    log2(CPM + 1)); the simulator's keywords are then not used. Without it a cohort is simulated with
    ``simulate_kwargs`` (any argument of :func:`~omicsnb.data.simulate.simulate_cohort`); the contract's file
    parameters must then be left empty. An unknown keyword is an error either way. The simulator's own messy
    Ensembl-to-symbol table comes with a simulated cohort; for a file, pass ``mapping_path`` (a CSV with
    ``ensembl_id`` and ``symbol`` columns) to get the mapping step. Introduced in chapter 1.
    """
    unknown = sorted(set(simulate_kwargs) - _SIMULATOR_ARGUMENTS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], [*_SIMULATOR_ARGUMENTS, *CONTRACT_DEFAULTS], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise OmicsInputError(f"load_or_simulate got an unknown keyword {unknown[0]!r}{hint}; the data contract's "
                              f"names are: {', '.join(CONTRACT_DEFAULTS)}")
    check_contract(orientation=orientation, data_kind=data_kind, missing=missing, min_class_size=min_class_size)
    if not data_path:
        for name, value in (("labels_path", labels_path), ("mapping_path", mapping_path)):
            if value:
                raise OmicsInputError(f"{name} is set but data_path is empty; pass -p data_path FILE as well (the "
                                      "simulator brings its own labels and mapping table)")
        cohort = simulate_cohort(seed=seed, **simulate_kwargs)
        frame = cohort.to_frame(log=True)
        return DataSource(
            log_expression=frame,
            labels=cohort.obs["cancer_type"].astype(str).rename("cancer_type"),
            obs=cohort.obs,
            origin=f"simulated cohort (seed {seed})",
            cohort=cohort,
            mapping_table=cohort.gene_id_table,
            counts=cohort.counts,
            data_kind="counts",
        )
    user = read_user_data(
        data_path, label_column=label_column, sample_id_column=sample_id_column, orientation=orientation,
        labels_path=labels_path, labels_sample_column=labels_sample_column, data_kind=data_kind, missing=missing,
        min_class_size=min_class_size,
    )
    table = None
    if mapping_path:
        path = Path(mapping_path)
        if not path.is_file():
            raise OmicsInputError(f"mapping table {mapping_path} does not exist; pass -p mapping_path with a CSV of "
                                  "ensembl_id and symbol columns")
        table = pd.read_csv(path)
    return DataSource(
        log_expression=user.X,
        labels=user.y,
        obs=user.meta,
        origin=Path(data_path).name if not labels_path else f"{Path(data_path).name} + {Path(labels_path).name}",
        mapping_table=table,
        counts=user.counts,
        data_kind=user.data_kind,
        notes=user.notes,
    )


def class_signal_by_symbol(cohort: Cohort, symbols) -> pd.Series:
    """The simulator's truth ``is_class_signal`` carried through the same ID mapping as the data (any ID of a symbol).

    Introduced in chapter 1, *Data and exploration*.
    """
    flags = pd.DataFrame([cohort.var["is_class_signal"].astype(float).to_numpy()], columns=cohort.var.index)
    mapped, _ = map_gene_ids(flags, cohort.gene_id_table, aggregate="mean")
    truth = mapped.iloc[0] > 0
    missing = pd.Index(symbols).difference(truth.index)
    if len(missing):
        raise OmicsInputError(f"{len(missing)} genes (e.g. {missing[0]}) are not in the cohort's mapping; pass mapped symbols")
    return truth.loc[list(symbols)]


@dataclass
class ClassificationSplits:
    """The book's standard experiment: z-scored highly variable genes for three disjoint, stratified splits."""

    X_pretrain: np.ndarray
    X_finetune: np.ndarray
    X_test: np.ndarray
    y_pretrain: np.ndarray
    y_finetune: np.ndarray
    y_test: np.ndarray
    genes: pd.Index
    index: dict[str, np.ndarray]
    scaler: StandardScaler = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """Samples, classes and the smallest class per split (a tidy table)."""
        rows = []
        for name in ("pretrain", "finetune", "test"):
            y = pd.Series(getattr(self, f"y_{name}"))
            counts = y.value_counts()
            rows.append({"split": name, "samples": len(y), "classes": len(counts), "smallest class size": int(counts.min())})
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {len(getattr(self, f'y_{n}'))}" for n in ("pretrain", "finetune", "test"))
        return f"splits: {parts}; {len(self.genes)} genes z-scored on the pretraining split"


def prepare_classification(source: DataSource, *, n_finetune: int | float = 1000, n_test: int | float = 1000,
                           n_hvg: int = 2000, seed: int = 0) -> ClassificationSplits:
    """Split, choose genes and z-score, fitting every learnt step on the pretraining split only.

    The test set and the labelled fine-tuning pool are drawn first, stratified by label; all remaining samples form
    the (unlabelled) pretraining split. The ``n_hvg`` genes of highest variance and each gene's mean and standard
    deviation are estimated on the pretraining split, then applied unchanged to the other two. Introduced in
    chapter 2, *Supervised baseline*.

    Sizes scale to the data: ``n_finetune`` and ``n_test`` are counts or shares of the samples, and shrink (with a
    printed note) when together they would leave less than a quarter of the samples for pretraining; ``n_hvg`` is
    clipped to the genes available (see :mod:`omicsnb.data.contract`).
    """
    expr, labels = source.log_expression, source.labels
    n_classes = labels.nunique()
    n_finetune, n_test = fit_split_sizes(len(expr), n_classes, n_finetune=n_finetune, n_test=n_test)
    n_pretrain = len(expr) - n_finetune - n_test
    n_hvg = fit_count("n_hvg", n_hvg, expr.shape[1])
    try:
        index = stratified_split(labels.to_numpy(), {"test": n_test, "finetune": n_finetune, "pretrain": n_pretrain},
                                 seed=seed)
    except OmicsInputError as error:
        raise OmicsInputError(f"{error} (in a chapter: raise -p min_class_size to drop small classes)") from None
    genes = pd.Index(select_variable_genes(expr.iloc[index["pretrain"]], n_hvg))
    parts = [expr.iloc[index[name]][genes].to_numpy(dtype=np.float32) for name in ("pretrain", "finetune", "test")]
    scaler, (x_pre, x_ft, x_test) = standardize(*parts)
    y = labels.to_numpy()
    return ClassificationSplits(
        X_pretrain=np.asarray(x_pre, dtype=np.float32),
        X_finetune=np.asarray(x_ft, dtype=np.float32),
        X_test=np.asarray(x_test, dtype=np.float32),
        y_pretrain=y[index["pretrain"]],
        y_finetune=y[index["finetune"]],
        y_test=y[index["test"]],
        genes=genes,
        index=index,
        scaler=scaler,
    )
