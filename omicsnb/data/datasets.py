"""The data every chapter starts from: the simulator or the reader's own file, and the book's standard splits.

- :func:`load_or_simulate` returns a :class:`DataSource` (log expression, labels, sample metadata, and the simulated
  cohort with its truth when there is one). Chapters take ``data_path`` as a parameter and pass it here.
- :func:`prepare_classification` draws the stratified test / fine-tuning / pretraining split of the practical report
  (1,000 / 1,000 / the rest), chooses the highly variable genes and fits z-scoring on the pretraining split only.

Introduced in chapter 1, *Data and exploration* (:func:`load_or_simulate`) and chapter 2, *Supervised baseline*
(:func:`prepare_classification`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from omicsnb.data.genes import map_gene_ids
from omicsnb.data.loaders import load_expression
from omicsnb.data.preprocess import cpm, log_transform, select_variable_genes, standardize, stratified_split
from omicsnb.data.simulate import Cohort, simulate_cohort
from omicsnb.validation import OmicsInputError

DATA_KINDS = ("counts", "log")


@dataclass
class DataSource:
    """Expression data ready for a chapter: ``log_expression`` (samples x genes), ``labels`` and ``obs``."""

    log_expression: pd.DataFrame
    labels: pd.Series
    obs: pd.DataFrame
    origin: str
    cohort: Cohort | None = None
    mapping_table: pd.DataFrame | None = None
    counts: np.ndarray | pd.DataFrame | None = field(default=None, repr=False)

    def summary(self) -> pd.DataFrame:
        """A tidy two-column table (quantity, value) describing the data."""
        sizes = self.labels.value_counts()
        rows = [
            ("samples", len(self.log_expression)),
            ("genes", self.log_expression.shape[1]),
            (f"classes ({self.labels.name})", len(sizes)),
            ("largest class", f"{sizes.index[0]} ({sizes.iloc[0]})"),
            ("smallest class", f"{sizes.index[-1]} ({sizes.iloc[-1]})"),
        ]
        if "sample_type" in self.obs:
            rows.append(("normal samples", int((self.obs["sample_type"] == "normal").sum())))
        if "batch" in self.obs:
            rows.append(("batches", int(self.obs["batch"].nunique())))
        if self.counts is not None:
            totals = np.asarray(self.counts.sum(axis=1), dtype=float)
            rows.append(("median library size (reads)", int(np.median(totals))))
        return pd.DataFrame(rows, columns=["quantity", "value"]).astype({"value": str})

    def __str__(self) -> str:
        n, g = self.log_expression.shape
        return f"{self.origin}: {n} samples x {g} genes, {self.labels.nunique()} classes in '{self.labels.name}'"


def load_or_simulate(
    data_path: str = "",
    *,
    label_column: str = "cancer_type",
    sample_id_column: str = "",
    data_kind: str = "counts",
    mapping_path: str = "",
    seed: int = 0,
    **simulate_kwargs,
) -> DataSource:
    """Read the reader's file when ``data_path`` is given, otherwise simulate a cohort with ``simulate_kwargs``.

    A file of ``counts`` is turned into log2(CPM + 1); a file already on a ``log`` scale is used as it is. The
    simulator's own messy Ensembl-to-symbol table comes with a simulated cohort; for a file, pass ``mapping_path``
    (a CSV with ``ensembl_id`` and ``symbol`` columns) to get the mapping step. Introduced in chapter 1.
    """
    if data_kind not in DATA_KINDS:
        raise OmicsInputError(f"data_kind={data_kind!r} is not known; pass one of: {', '.join(DATA_KINDS)}")
    if not data_path:
        if mapping_path:
            raise OmicsInputError("mapping_path is only used with data_path; the simulator brings its own mapping table")
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
        )
    loaded = load_expression(data_path, label_column=label_column, sample_id_column=sample_id_column or None)
    if loaded.y is None:  # pragma: no cover - load_expression requires the label column when one is named
        raise OmicsInputError(f"{data_path} has no label column; pass label_column=")
    log_expr = log_transform(cpm(loaded.X)) if data_kind == "counts" else loaded.X
    table = None
    if mapping_path:
        path = Path(mapping_path)
        if not path.exists():
            raise OmicsInputError(f"mapping table {mapping_path} does not exist; pass a CSV with ensembl_id and symbol columns")
        table = pd.read_csv(path)
    return DataSource(
        log_expression=log_expr.astype(np.float32),
        labels=loaded.y.astype(str),
        obs=loaded.meta,
        origin=Path(data_path).name,
        mapping_table=table,
        counts=loaded.X if data_kind == "counts" else None,
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


def prepare_classification(source: DataSource, *, n_finetune: int = 1000, n_test: int = 1000, n_hvg: int = 2000,
                           seed: int = 0) -> ClassificationSplits:
    """Split, choose genes and z-score, fitting every learnt step on the pretraining split only.

    The test set and the labelled fine-tuning pool are drawn first, stratified by label; all remaining samples form
    the (unlabelled) pretraining split. The ``n_hvg`` genes of highest variance and each gene's mean and standard
    deviation are estimated on the pretraining split, then applied unchanged to the other two. Introduced in
    chapter 2, *Supervised baseline*.
    """
    expr, labels = source.log_expression, source.labels
    n_pretrain = len(expr) - n_finetune - n_test
    if n_pretrain < 2:
        raise OmicsInputError(
            f"n_finetune={n_finetune} + n_test={n_test} leave {n_pretrain} of {len(expr)} samples for pretraining; "
            "lower them or use more samples"
        )
    index = stratified_split(labels.to_numpy(), {"test": n_test, "finetune": n_finetune, "pretrain": n_pretrain}, seed=seed)
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
