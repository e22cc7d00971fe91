"""Read expression matrices from files into one result type, :class:`ExpressionData`.

:func:`load_expression` reads any CSV / TSV / TXT (optionally gzipped), parquet or AnnData ``.h5ad`` matrix with an
optional label column; :func:`load_xena` and :func:`load_archs4` are recipes for the two public resources the book
points readers to (UCSC Xena / TCGA pan-cancer and ARCHS4); :func:`load_gse7390` is the small real breast-cancer
cohort that ships with scikit-survival. Every loader returns samples as rows and genes as columns,
and refuses bad input with a one-line :class:`~omicsnb.validation.OmicsInputError` that says what to fix.

Introduced in chapter 1, *Data and exploration*.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm  # text bars: work in terminals and notebooks without ipywidgets

from omicsnb.data.genes import _aggregate_columns, _check_aggregate
from omicsnb.data.preprocess import _check_values, _numeric_values
from omicsnb.data.tables import (
    _column_not_found,
    _detect_format,
    _existing_file,
    _read_any_table,
    _read_table,
)
from omicsnb.validation import OmicsInputError

__all__ = ["ExpressionData", "SampleAlignment", "load_expression", "load_xena", "load_archs4", "load_gse7390"]

logger = logging.getLogger(__name__)

_ORIENTATIONS = ("auto", "samples_by_genes", "genes_by_samples")
_NON_NUMERIC_FIX = "if it describes samples, pass it in metadata_columns= (or as label_column=), else fix the file"


# ----------------------------------------------------------------------------------------------------------------------
# Result types
# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleAlignment:
    """How the samples of an expression matrix and of a phenotype table were matched (an inner join).

    ``dropped_from_matrix`` lists matrix samples without a phenotype row, ``dropped_from_phenotype`` phenotype rows
    without expression; ``n_missing_label`` counts kept samples whose label is empty.
    """

    n_matrix: int
    n_phenotype: int
    n_shared: int
    dropped_from_matrix: list[str]
    dropped_from_phenotype: list[str]
    n_missing_label: int = 0

    def __str__(self) -> str:
        text = (
            f"{self.n_shared} samples kept: {self.n_matrix - self.n_shared} of {self.n_matrix} matrix samples had no "
            f"phenotype row, {self.n_phenotype - self.n_shared} of {self.n_phenotype} phenotype rows had no expression"
        )
        if self.n_missing_label:
            text += f"; {self.n_missing_label} kept samples have no label"
        return text


@dataclass(repr=False)
class ExpressionData:
    """An expression matrix with its labels and sample metadata, samples as rows.

    Introduced in chapter 1, *Data and exploration*.

    Attributes
    ----------
    X
        Expression, samples x genes, floats (index: sample IDs, columns: gene IDs, both unique).
    y
        The label of each sample (a Series named after the label column, same index as ``X``), or None.
    meta
        Other per-sample columns (same index as ``X``; no columns when there are none).
    source
        Where the data came from (a file name), for messages and the summary.
    alignment
        For loaders that join a matrix with a phenotype table, how many samples were kept and dropped.
    """

    X: pd.DataFrame
    y: pd.Series | None = None
    meta: pd.DataFrame | None = None
    source: str = ""
    alignment: SampleAlignment | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.X, pd.DataFrame):
            raise OmicsInputError(f"ExpressionData.X must be a DataFrame (samples x genes), got {type(self.X).__name__}")
        if self.meta is None:
            self.meta = pd.DataFrame(index=self.X.index)
        for name, part in (("y", self.y), ("meta", self.meta)):
            if part is not None and not part.index.equals(self.X.index):
                raise OmicsInputError(
                    f"ExpressionData.{name} must have the same index (samples) as X, in the same order"
                )

    @property
    def n_samples(self) -> int:
        """Number of samples (rows of ``X``)."""
        return self.X.shape[0]

    @property
    def n_genes(self) -> int:
        """Number of genes (columns of ``X``)."""
        return self.X.shape[1]

    def __repr__(self) -> str:
        parts = [f"ExpressionData: {self.n_samples:,} samples x {self.n_genes:,} genes"]
        if self.source:
            parts[0] += f" from {self.source}"
        if self.y is not None:
            counts = self.y.value_counts()
            shown = ", ".join(f"{k} {v}" for k, v in counts.head(5).items())
            more = f", ... ({len(counts) - 5} more)" if len(counts) > 5 else ""
            parts.append(f"label {self.y.name!r}: {len(counts)} classes ({shown}{more})")
        if self.meta is not None and self.meta.shape[1]:
            names = [str(c) for c in self.meta.columns]
            more = f", ... ({len(names) - 8} more)" if len(names) > 8 else ""
            parts.append("metadata: " + ", ".join(names[:8]) + more)
        if self.alignment is not None:
            parts.append(f"alignment: {self.alignment}")
        return "\n  ".join(parts)


def _is_text_column(values: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)


# ----------------------------------------------------------------------------------------------------------------------
# Orientation detection
# ----------------------------------------------------------------------------------------------------------------------
_ENSEMBL_RE = re.compile(r"ENS[A-Z]*[GT]\d{6,}(\.\d+)?(_PAR_Y)?")
_SAMPLE_RE = re.compile(
    r"(TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}.*|GSM\d+|[SED]R[RSXP]\d+|SAM[NED][A-Z]?\d+"
    r"|(sample|patient|case|cell|donor|subject|s|p)[-_. ]?\d+"
    r"|[ACGTN]{8,}([-_.]\d+)?)",  # single-cell barcodes such as AAACCTGAGCATCATC-1
    re.IGNORECASE,
)
_SYMBOL_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*([-.@][A-Za-z0-9]+)*")


def _fractions(labels: pd.Index) -> tuple[float, float, float]:
    """Fractions of labels that look like Ensembl gene IDs, sample IDs and gene symbols."""
    text = [str(x) for x in labels if isinstance(x, str)]
    if not len(labels):
        return 0.0, 0.0, 0.0
    ensembl = sum(bool(_ENSEMBL_RE.fullmatch(x)) for x in text)
    sample = sum(bool(_SAMPLE_RE.fullmatch(x)) for x in text)
    symbol = sum(bool(_SYMBOL_RE.fullmatch(x)) and len(x) <= 20 and not _SAMPLE_RE.fullmatch(x) for x in text)
    n = len(labels)
    return ensembl / n, sample / n, symbol / n


def _detect_orientation(table: pd.DataFrame, source: str) -> str:
    """Decide whether the rows of ``table`` are samples or genes, from what its row and column labels look like.

    Three tests in turn; the first that holds for exactly one axis decides: more than half of the labels are
    (1) Ensembl gene IDs (genes), (2) sample IDs -- TCGA barcodes, GEO/SRA/BioSample accessions, ``sample_1``-like
    names (samples), (3) gene-symbol-shaped names such as ``TP53`` or ``HLA-DRB1`` (genes). Otherwise it is ambiguous.
    """
    rows, columns = _fractions(table.index), _fractions(table.columns)
    for test, genes_when_true in ((0, True), (1, False), (2, True)):
        row_hit, column_hit = rows[test] > 0.5, columns[test] > 0.5
        if row_hit != column_hit:
            rows_are_genes = row_hit if genes_when_true else column_hit
            return "genes_by_samples" if rows_are_genes else "samples_by_genes"
    raise OmicsInputError(
        f"cannot tell whether the rows of {source} are samples or genes (row labels e.g. {list(table.index[:2])}, "
        f"column labels e.g. {list(map(str, table.columns[:2]))}); pass orientation='samples_by_genes' or "
        "orientation='genes_by_samples'"
    )


# ----------------------------------------------------------------------------------------------------------------------
# Assembly and checks shared by every loader
# ----------------------------------------------------------------------------------------------------------------------
def _finish(
    X: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    label_column: str | None,
    metadata_columns: Sequence[str],
    source: str,
    allow_nan: bool,
    id_origin: str = "",
) -> ExpressionData:
    """Check a samples x genes frame (empty, duplicates, numbers, NaN) and wrap it with labels and metadata."""
    if X.shape[0] == 0:
        raise OmicsInputError(f"{source} has no samples; pass a matrix with at least one sample")
    if X.shape[1] == 0:
        raise OmicsInputError(f"{source} has no expression columns besides the label/metadata; check the file")
    duplicated = X.index[X.index.duplicated()]
    if len(duplicated):
        raise OmicsInputError(
            f"{source} has {len(duplicated)} duplicated sample ID(s), e.g. {duplicated[0]!r}{id_origin}; "
            "make sample IDs unique"
        )
    duplicated = X.columns[X.columns.duplicated()]
    if len(duplicated):
        raise OmicsInputError(
            f"{source} has {len(duplicated)} duplicated gene name(s), e.g. {duplicated[0]!r}; make them unique, or map "
            "IDs to symbols with map_gene_ids, which averages duplicates"
        )
    _check_values(X, name=f"expression in {source}", allow_nan=allow_nan, fix=_NON_NUMERIC_FIX)
    if not X.dtypes.eq(np.float64).all():
        X = X.astype(np.float64)
    y = samples[label_column] if label_column is not None else None
    meta = samples.loc[:, list(metadata_columns)]
    return ExpressionData(X=X, y=y, meta=meta, source=source)


def _as_name_list(names, what: str) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        return [names]
    names = list(names)
    if len(set(names)) < len(names):
        raise OmicsInputError(f"{what} lists a name twice ({names}); list each once")
    return names


# ----------------------------------------------------------------------------------------------------------------------
# Public loaders
# ----------------------------------------------------------------------------------------------------------------------
def load_expression(
    path,
    *,
    orientation: str = "auto",
    label_column: str | None = None,
    sample_id_column: str | None = None,
    metadata_columns: Sequence[str] | None = None,
    sep: str | None = None,
    allow_nan: bool = False,
    keep_text_columns: bool = False,
) -> ExpressionData:
    """Read an expression matrix (CSV, TSV, TXT, their ``.gz``, parquet or ``.h5ad``) with samples as rows.

    Introduced in chapter 1, *Data and exploration*.

    Parameters
    ----------
    path
        The file. The format comes from the extension: ``.csv`` (comma), ``.tsv`` / ``.txt`` / ``.tab`` (tab), each
        optionally gzipped (``.csv.gz``), ``.parquet``, or ``.h5ad`` (needs the optional ``anndata`` package).
    orientation
        ``"samples_by_genes"`` (one row per sample), ``"genes_by_samples"`` (one row per gene, as in UCSC Xena and GEO
        matrices) or ``"auto"``. Auto-detection: if a label, sample ID or metadata column is named, samples are rows
        (those columns describe samples). Otherwise the row labels (first text column) and the column labels are
        compared with three tests, in order, and the first that holds for exactly one axis decides: more than half
        of the labels are Ensembl gene IDs (``ENSG...``: that axis is genes); sample IDs such as TCGA barcodes,
        ``GSM`` / ``SRR`` accessions or ``sample_1`` (that axis is samples); gene-symbol-shaped names such as
        ``TP53`` (genes). If none decides, an error asks for ``orientation=``.
    label_column
        Column with the label to predict (samples as rows); returned as ``y``.
    sample_id_column
        Column with the sample IDs. By default, with samples as rows, the first column holds the sample IDs when it
        is text and not the label or a metadata column (otherwise rows are numbered 0, 1, ...); with genes as rows,
        the first column always holds the gene IDs.
    metadata_columns
        Further per-sample columns to keep in ``meta`` (text columns not listed here are refused as non-numeric).
    sep
        Column separator for text files; overrides the one implied by the extension.
    allow_nan
        Accept missing expression values (they stay NaN); by default they raise.
    keep_text_columns
        With samples as rows, keep every further text (or boolean) column in ``meta`` as well, instead of refusing
        it as non-numeric expression (the chapters' data contract does this).

    Returns
    -------
    ExpressionData
        ``X`` as float64, samples x genes; ``y`` and ``meta`` aligned with it.

    Raises
    ------
    OmicsInputError
        Missing file; unknown format; missing label / sample ID / metadata column (with the closest name and the
        available columns); non-numeric expression (naming a column); NaN when not allowed; duplicated sample IDs or
        gene names (naming one); an empty matrix; ambiguous orientation; ``anndata`` not installed for ``.h5ad``.
    """
    if orientation not in _ORIENTATIONS:
        raise OmicsInputError(f"orientation={orientation!r} is not known; pass one of {', '.join(_ORIENTATIONS)}")
    path = _existing_file(path)
    metadata_columns = _as_name_list(metadata_columns, "metadata_columns")
    per_sample = [c for c in (sample_id_column, label_column) if c is not None] + metadata_columns
    if len(set(per_sample)) < len(per_sample):
        raise OmicsInputError(
            "the same column is given twice among sample_id_column, label_column and metadata_columns; give it once"
        )
    if per_sample and orientation == "genes_by_samples":
        raise OmicsInputError(
            "label/sample ID/metadata columns describe samples, so they need samples as rows; for a genes x samples "
            "matrix, join a phenotype table with load_xena"
        )
    kind, sep = _detect_format(path, sep)
    if kind == "h5ad":
        return _load_h5ad(path, orientation, label_column, sample_id_column, metadata_columns, allow_nan,
                          keep_obs=keep_text_columns)

    table = _read_table(path, kind, sep)
    source = path.name
    for kind_name, name in (("sample ID column", sample_id_column), ("label column", label_column)):
        if name is not None and name not in table.columns:
            raise _column_not_found(kind_name, name, table.columns, source)
    for name in metadata_columns:
        if name not in table.columns:
            raise _column_not_found("metadata column", name, table.columns, source)
    if table.shape[1] == 0:
        raise OmicsInputError(f"{source} has no columns; pass a matrix with a header line")
    repeated = table.columns[table.columns.duplicated()]
    for name in [*per_sample, table.columns[0]]:
        if name in repeated:
            raise OmicsInputError(
                f"column {name!r} appears {int((table.columns == name).sum())} times in the header of {source}; "
                "make the column names unique"
            )

    id_column = sample_id_column
    first = table.columns[0]
    if id_column is None and first not in per_sample and _is_text_column(table[first]):
        id_column = first
    if id_column is not None:
        table = table.set_index(id_column)
        table.index.name = None if str(id_column).startswith("Unnamed:") or id_column == "index" else id_column
    id_origin = ""
    if id_column is not None:
        where = "the first column" if str(id_column).startswith("Unnamed:") else f"column {id_column!r}"
        id_origin = f" (IDs from {where}; pass sample_id_column= if that is wrong)"

    if per_sample:
        orientation = "samples_by_genes"
    elif orientation == "auto":
        orientation = _detect_orientation(table, source)
    logger.info("%s: %s", source, orientation)

    if orientation == "genes_by_samples":
        if id_column is None:  # one row per gene: the first column names the genes even when they are numbers (Entrez)
            table = table.set_index(first)
            table.index.name = None if str(first).startswith("Unnamed:") else first
        duplicated = table.index[table.index.duplicated()]
        if len(duplicated):
            raise OmicsInputError(
                f"{source} has {len(duplicated)} duplicated gene name(s), e.g. {duplicated[0]!r}; make them unique, "
                "or map IDs to symbols with map_gene_ids, which averages duplicates"
            )
        # checked before transposing, to name the right column
        _numeric_values(table, f"expression in {source}", "in a genes x samples file every column after the gene IDs "
                        "must be a sample of numbers; fix the file")
        X = table.T
        X.index.name, X.columns.name = None, table.index.name
        return _finish(X, pd.DataFrame(index=X.index), label_column=None, metadata_columns=[], source=source,
                       allow_nan=allow_nan)

    if keep_text_columns:
        metadata_columns = metadata_columns + [
            c for c in table.columns
            if c not in per_sample and c != id_column and c not in repeated and _is_text_column(table[c])
        ]
    keep = [c for c in (label_column, *metadata_columns) if c is not None]
    return _finish(table.drop(columns=keep), table.loc[:, keep], label_column=label_column,
                   metadata_columns=metadata_columns, source=source, allow_nan=allow_nan, id_origin=id_origin)


def _load_h5ad(path: Path, orientation, label_column, sample_id_column, metadata_columns, allow_nan,
               keep_obs: bool = False) -> ExpressionData:
    """Read an AnnData file (cells/samples x genes); ``obs`` columns serve as label and metadata."""
    try:
        import anndata
    except ImportError:
        raise OmicsInputError(
            f"reading {path.name} needs the optional package anndata: run `pip install anndata`, or save the matrix "
            "as CSV/parquet"
        ) from None
    if orientation == "genes_by_samples":
        raise OmicsInputError("an .h5ad file always stores samples (obs) as rows; drop orientation= for it")
    try:
        adata = anndata.read_h5ad(path)
        X = adata.to_df()
    except Exception as error:  # h5py / anndata raise many types for a damaged or foreign file
        raise OmicsInputError(f"could not read {path.name} as AnnData ({type(error).__name__}); check the file") from None
    obs = adata.obs
    for kind_name, name in (("sample ID column", sample_id_column), ("label column", label_column)):
        if name is not None and name not in obs.columns:
            raise _column_not_found(kind_name, name, obs.columns, f"{path.name} (obs)")
    for name in metadata_columns:
        if name not in obs.columns:
            raise _column_not_found("metadata column", name, obs.columns, f"{path.name} (obs)")
    if sample_id_column is not None:
        X.index = pd.Index(obs[sample_id_column].to_numpy(), name=sample_id_column)
        obs = obs.set_axis(X.index, axis=0)
    if keep_obs:
        metadata_columns = metadata_columns + [
            c for c in obs.columns if c not in (label_column, sample_id_column, *metadata_columns)
        ]
    return _finish(X, obs, label_column=label_column, metadata_columns=metadata_columns, source=path.name,
                   allow_nan=allow_nan)


def load_xena(
    matrix_path,
    phenotype_path,
    *,
    label_column: str,
    sample_column: str = "sample",
    phenotype_sample_column: str | None = None,
    sep: str | None = None,
    allow_nan: bool = False,
) -> ExpressionData:
    """Read a UCSC Xena / TCGA-style genes x samples matrix and join its phenotype table.

    Introduced in chapter 1, *Data and exploration*, as the recipe for the TCGA pan-cancer data.

    Parameters
    ----------
    matrix_path
        Genes x samples text or parquet file, e.g. ``tcga_RSEM_gene_tpm`` saved as ``.tsv.gz``: first column the gene
        ID, header the sample barcodes, values on the ``log2(x + 1)`` scale (kept as they are, not transformed).
    phenotype_path
        Per-sample table (``.tsv``, ``.csv``, ``.gz`` or parquet) with a sample ID column and ``label_column``.
    label_column
        Phenotype column to return as ``y`` (e.g. ``"_primary_disease"`` or ``"cancer_type"``).
    sample_column
        Name of the sample ID column (Xena calls it ``"sample"``); also the name of the returned index.
    phenotype_sample_column
        The phenotype column with the sample IDs, when it differs from ``sample_column``.
    sep
        Column separator for both files when their names have no known extension (Xena's downloads: ``"\\t"``).
    allow_nan
        Accept missing expression values.

    Returns
    -------
    ExpressionData
        Only samples found in both files (an inner join, in matrix order). The other phenotype columns are ``meta``;
        ``alignment`` says how many samples each side lost (also logged at INFO level). IDs are compared as text.

    Raises
    ------
    OmicsInputError
        Everything :func:`load_expression` raises, a missing label or sample column, duplicated phenotype sample
        IDs, and no shared sample at all (with an example ID from each side).
    """
    expression = load_expression(matrix_path, orientation="genes_by_samples", sep=sep, allow_nan=allow_nan)
    phenotype, pheno_path = _read_any_table(phenotype_path, sep)
    id_column = phenotype_sample_column or sample_column
    if id_column not in phenotype.columns:
        raise _column_not_found("sample column", id_column, phenotype.columns, pheno_path.name)
    if label_column not in phenotype.columns:
        raise _column_not_found("label column", label_column, phenotype.columns, pheno_path.name)
    if label_column == id_column:
        raise OmicsInputError(f"label_column and the sample column are both {label_column!r}; pass the label column")
    ids = phenotype[id_column]
    if ids.isna().any():
        raise OmicsInputError(
            f"{pheno_path.name} column {id_column!r} has {int(ids.isna().sum())} empty sample ID(s); drop those rows"
        )
    ids = ids.astype(str)
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise OmicsInputError(
            f"{pheno_path.name} has {len(duplicated)} duplicated sample ID(s) in {id_column!r}, e.g. "
            f"{duplicated.iloc[0]!r}; keep one row per sample"
        )
    phenotype = phenotype.drop(columns=[id_column]).set_axis(pd.Index(ids, name=sample_column), axis=0)
    matrix_ids = expression.X.index.astype(str)
    in_phenotype = matrix_ids.isin(phenotype.index)
    if not in_phenotype.any():
        raise OmicsInputError(
            f"no sample ID is shared by {expression.source} (e.g. {matrix_ids[0]!r}) and {pheno_path.name} column "
            f"{id_column!r} (e.g. {phenotype.index[0]!r}); check that both use the same IDs (e.g. barcode length)"
        )
    shared = matrix_ids[in_phenotype]
    X = expression.X.loc[in_phenotype].set_axis(pd.Index(shared, name=sample_column), axis=0)
    samples = phenotype.loc[shared]
    alignment = SampleAlignment(
        n_matrix=len(matrix_ids),
        n_phenotype=len(phenotype),
        n_shared=len(shared),
        dropped_from_matrix=list(matrix_ids[~in_phenotype]),
        dropped_from_phenotype=list(phenotype.index[~phenotype.index.isin(shared)]),
        n_missing_label=int(samples[label_column].isna().sum()),
    )
    logger.info("load_xena: %s", alignment)
    metadata = [c for c in samples.columns if c != label_column]
    return ExpressionData(
        X=X,
        y=samples[label_column],
        meta=samples.loc[:, metadata],
        source=f"{expression.source} + {pheno_path.name}",
        alignment=alignment,
    )


# ----------------------------------------------------------------------------------------------------------------------
# ARCHS4
# ----------------------------------------------------------------------------------------------------------------------
def _h5_dataset(handle, key: str, path: Path):
    """Return the dataset at ``key`` or raise naming what the file does contain."""
    import h5py

    if key not in handle or not isinstance(handle[key], h5py.Dataset):
        parent = key.rsplit("/", 1)[0]
        group = handle.get(parent)
        found = ", ".join(sorted(group.keys())) if isinstance(group, h5py.Group) else ", ".join(sorted(handle.keys()))
        raise OmicsInputError(
            f"dataset {key!r} not found in {path.name} (found under {parent!r}: {found or 'nothing'}); pass an "
            "ARCHS4 gene or transcript HDF5 file"
        )
    return handle[key]


def _h5_vector(dataset, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Read ``dataset[lo:hi]`` (1-D), decoding strings."""
    import h5py

    part = dataset.asstr() if h5py.check_string_dtype(dataset.dtype) is not None else dataset
    return np.asarray(part[lo:hi])


def _read_columns(matrix, columns: np.ndarray) -> np.ndarray:
    """Read ``matrix[:, columns]`` (sorted, unique) as one slice per run of consecutive columns.

    Much faster than h5py's fancy indexing (a list selection) for scattered samples, and the memory used is just
    the block itself.
    """
    block = np.empty((matrix.shape[0], len(columns)), dtype=matrix.dtype)
    run_starts = np.concatenate([[0], np.flatnonzero(np.diff(columns) != 1) + 1, [len(columns)]])
    for first, stop in zip(run_starts[:-1], run_starts[1:]):
        lo = int(columns[first])
        matrix.read_direct(block, np.s_[:, lo : lo + (stop - first)], np.s_[:, first:stop])
    return block


def _positions_of(requested, available: np.ndarray, what: str, source: str, *, repeats: bool = False) -> np.ndarray:
    """Positions of the requested names (or integer positions) in ``available``; raise for unknown ones.

    With ``repeats=True`` a name that occurs several times in ``available`` selects all its positions (sorted);
    otherwise such a name is refused, and the positions follow the order of ``requested``.
    """
    if isinstance(requested, str):
        requested = [requested]
    requested = list(requested)
    if not requested:
        raise OmicsInputError(f"{what} is empty; pass None for all, or at least one entry")
    if len(set(map(str, requested))) < len(requested):
        raise OmicsInputError(f"{what} lists an entry twice; list each once")
    if all(isinstance(r, Integral) and not isinstance(r, bool) for r in requested):
        positions = np.asarray(requested, dtype=np.int64)
        bad = positions[(positions < 0) | (positions >= len(available))]
        if bad.size:
            raise OmicsInputError(f"{what} position {int(bad[0])} is out of range; {source} has {len(available)}")
        return positions
    if not all(isinstance(r, str) for r in requested):
        raise OmicsInputError(f"{what} must be all names (str) or all integer positions")
    lookup = pd.Index(available)
    found = set(lookup[lookup.isin(requested)])
    missing = [r for r in requested if r not in found]
    if missing:
        close = difflib.get_close_matches(missing[0], [str(a) for a in available], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise OmicsInputError(
            f"{len(missing)} {what} not found in {source}, e.g. {missing[0]!r}{hint}; check the names"
        )
    if repeats:
        return np.flatnonzero(lookup.isin(requested))
    repeated = lookup[lookup.duplicated() & lookup.isin(requested)]
    if len(repeated):
        raise OmicsInputError(f"{what}: {repeated[0]!r} occurs more than once in {source}; select by position instead")
    first = pd.Series(np.arange(len(lookup)), index=lookup)
    return first[~lookup.duplicated()].reindex(requested).to_numpy(dtype=np.int64)


def load_archs4(
    h5_path,
    *,
    samples: Sequence[str] | Sequence[int] | None = None,
    genes: Sequence[str] | None = None,
    chunk_size: int = 500,
    label_field: str | None = None,
    progress: bool = True,
    gene_field: str = "symbol",
    meta_fields: Sequence[str] | None = None,
    aggregate_duplicates: str | None = None,
) -> ExpressionData:
    """Read selected samples of an ARCHS4 HDF5 file of counts, chunk by chunk, without loading the full matrix.

    Introduced in chapter 1, *Data and exploration*, as the recipe for ARCHS4 (``human_gene_v2.x.h5``).

    The file holds ``data/expression`` (genes x samples integer counts), ``meta/genes/<gene_field>`` (``symbol`` or
    ``ensembl_gene``) and ``meta/samples/*`` vectors, among them ``geo_accession``. The requested samples are read in
    blocks of ``chunk_size`` columns (one block in memory at a time: ``chunk_size`` x all genes).

    Parameters
    ----------
    h5_path
        The ARCHS4 file.
    samples
        GEO accessions (``"GSM1234"``) or integer column positions; None reads every sample (large!). The result
        keeps this order.
    genes
        Gene names (in ``gene_field``) to keep; None keeps all.
    chunk_size
        Samples per block read from disk.
    label_field
        A ``meta/samples`` field to return as ``y`` (e.g. ``"source_name_ch1"``).
    progress
        Show a tqdm bar over the blocks.
    gene_field
        Which ``meta/genes`` vector names the columns.
    meta_fields
        ``meta/samples`` fields to keep in ``meta``; None keeps every 1-D field with one value per sample.
    aggregate_duplicates
        ARCHS4 symbols are not unique. None raises if the selected genes contain duplicated names; ``"sum"``
        (natural for counts), ``"mean"`` or ``"first"`` merges them as :func:`omicsnb.data.genes.map_gene_ids` does.

    Returns
    -------
    ExpressionData
        Raw counts as float64 (not log-transformed), samples as rows indexed by GEO accession.

    Raises
    ------
    OmicsInputError
        A missing file or dataset inside it, unknown samples, genes or fields, a bad ``chunk_size``, a matrix whose
        shape does not match the gene and sample vectors, and duplicated gene names (unless aggregated).
    """
    import h5py


    path = _existing_file(h5_path)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, Integral) or chunk_size < 1:
        raise OmicsInputError(f"chunk_size={chunk_size!r} must be a positive integer (samples per block)")
    if aggregate_duplicates is not None:
        _check_aggregate(aggregate_duplicates)
    try:
        # A 64 MB chunk cache: column runs that share an HDF5 chunk then decompress it once, not once per run.
        handle = h5py.File(path, "r", rdcc_nbytes=64 * 2**20, rdcc_nslots=100_003)
    except OSError:
        raise OmicsInputError(f"{path.name} is not a readable HDF5 file; pass an ARCHS4 .h5 file") from None
    with handle:
        matrix = _h5_dataset(handle, "data/expression", path)
        accessions = _h5_vector(_h5_dataset(handle, "meta/samples/geo_accession", path)).astype(str)
        gene_names = _h5_vector(_h5_dataset(handle, f"meta/genes/{gene_field}", path)).astype(str)
        if matrix.ndim != 2 or matrix.shape != (len(gene_names), len(accessions)):
            raise OmicsInputError(
                f"data/expression in {path.name} has shape {matrix.shape}, expected genes x samples = "
                f"({len(gene_names)}, {len(accessions)}); this loader reads the genes x samples ARCHS4 layout"
            )
        if samples is None:
            columns = np.arange(len(accessions))
        else:
            columns = _positions_of(samples, accessions, "samples", path.name)
        rows = None if genes is None else _positions_of(genes, gene_names, "genes", path.name, repeats=True)
        sample_group = handle["meta/samples"]
        available = [
            k for k, d in sample_group.items() if isinstance(d, h5py.Dataset) and d.shape == (len(accessions),)
        ]
        if meta_fields is None:
            wanted = [k for k in available if k not in ("geo_accession", label_field)]
        else:
            wanted = _as_name_list(meta_fields, "meta_fields")
        for name in wanted + ([label_field] if label_field is not None else []):
            if name not in available:
                raise _column_not_found("sample field", name, available, f"{path.name} meta/samples")

        if not len(columns):
            raise OmicsInputError(f"{path.name} has no samples; pass a non-empty ARCHS4 file")
        index = pd.Index(accessions[columns], name="geo_accession")
        if not index.is_unique:
            raise OmicsInputError(
                f"{path.name} lists GEO accession {index[index.duplicated()][0]!r} twice; select by position"
            )
        names = pd.Index(gene_names if rows is None else gene_names[rows], name=gene_field)
        if not names.is_unique and aggregate_duplicates is None:
            duplicated = names[names.duplicated()]
            raise OmicsInputError(
                f"{len(duplicated)} {gene_field} name(s) occur more than once in {path.name}, e.g. {duplicated[0]!r}; "
                "pass aggregate_duplicates='sum' (or 'mean', 'first') or gene_field='ensembl_gene'"
            )

        order = np.argsort(columns, kind="stable")
        sorted_columns = columns[order]
        n_genes = len(gene_names) if rows is None else len(rows)
        counts = np.empty((len(columns), n_genes), dtype=np.float64)
        with tqdm(total=len(columns), unit="sample", desc=f"reading {path.name}", disable=not progress) as bar:
            for start in range(0, len(columns), chunk_size):
                block_columns = sorted_columns[start : start + chunk_size]
                block = _read_columns(matrix, block_columns)
                if rows is not None:
                    block = block[rows]
                counts[order[start : start + chunk_size]] = block.T
                bar.update(len(block_columns))

        lo, hi = int(columns.min()), int(columns.max()) + 1
        read = wanted + ([label_field] if label_field is not None and label_field not in wanted else [])
        fields = {name: _h5_vector(sample_group[name], lo, hi)[columns - lo] for name in read}

    X = pd.DataFrame(counts, index=index, columns=names)
    if not names.is_unique:
        X = _aggregate_columns(X, names, aggregate_duplicates)[0]
    samples_table = pd.DataFrame({name: fields[name] for name in fields}, index=index)
    return _finish(X, samples_table, label_column=label_field, metadata_columns=wanted, source=path.name,
                   allow_nan=False)


# ----------------------------------------------------------------------------------------------------------------------
# GSE7390 (shipped with scikit-survival)
# ----------------------------------------------------------------------------------------------------------------------
_GSE7390_GRADE = {"well differentiated": 1, "intermediate": 2, "poorly differentiated": 3}


def load_gse7390() -> ExpressionData:
    """The GSE7390 breast-cancer cohort (Desmedt et al. 2007) as scikit-survival ships it: 198 patients x 76 probes.

    No download: the data come from :func:`sksurv.datasets.load_breast_cancer`. ``X`` holds the 76 Affymetrix probe
    intensities as shipped (a log2-like scale, about 0.5 to 14.4; column names as in scikit-survival, e.g.
    ``X200726_at``); the index is ``patient_000`` ... ``patient_197``. ``y`` is the histological grade as an ordinal
    nullable integer (1 = well, 2 = intermediate, 3 = poorly differentiated; the 2 patients recorded as unknown are
    ``<NA>``). ``meta`` has ``age`` (years), ``size`` (tumour size, cm), ``er`` (``"positive"``/``"negative"``),
    ``grade`` (as ``y``), ``time`` (distant-metastasis-free survival, days) and ``event`` (bool, metastasis observed).

    Introduced in the imputation chapter (Qiu et al., VAE imputation), as its real-data check.
    """
    from sksurv.datasets import load_breast_cancer  # a dependency; imported here to keep `import omicsnb` light

    table, outcome = load_breast_cancer()
    index = pd.Index([f"patient_{i:03d}" for i in range(len(table))], name="sample_id")
    clinical = ["age", "er", "grade", "size"]
    X = table.drop(columns=clinical).astype(np.float64).set_axis(index, axis=0)
    grade = pd.Series(table["grade"].astype(str).map(_GSE7390_GRADE).to_numpy(), index=index).astype("Int64")
    grade.name = "grade"
    names = outcome.dtype.names  # ("e.tdm", "t.tdm"): event indicator and time
    meta = pd.DataFrame({"age": table["age"].to_numpy(dtype=np.float64),
                         "size": table["size"].to_numpy(dtype=np.float64),
                         "er": table["er"].astype(str).to_numpy(), "grade": grade,
                         "time": outcome[names[1]].astype(np.float64), "event": outcome[names[0]].astype(bool)},
                        index=index)
    return ExpressionData(X=X, y=grade, meta=meta, source="GSE7390 (scikit-survival load_breast_cancer)")


# ----------------------------------------------------------------------------------------------------------------------
# pbmc68k_reduced (shipped with scanpy)
# ----------------------------------------------------------------------------------------------------------------------
def _scanpy_file(name: str) -> Path:
    """The path of a data file that ships inside the scanpy package, found without importing scanpy."""
    import importlib.util

    spec = importlib.util.find_spec("scanpy")
    if spec is None or not spec.submodule_search_locations:
        raise OmicsInputError("load_pbmc68k_reduced needs the scanpy package; run `pip install scanpy`")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / name
    if not path.is_file():
        raise OmicsInputError(f"{name} is not in this scanpy installation ({path.parent}); reinstall scanpy")
    return path


def load_pbmc68k_reduced(*, values: str = "log") -> ExpressionData:
    """scanpy's ``pbmc68k_reduced``: 700 blood cells x 765 genes with 10 cell types in ``bulk_labels``; no download.

    Introduced in the book's *How to run this book* page, as the worked example of running the chapters on a real
    matrix. The file ``scanpy/datasets/10x_pbmc68k_reduced.h5ad`` ships inside the scanpy package and is read with
    anndata. ``values="log"`` (default) returns its ``raw`` layer, log-normalised expression (log1p of counts scaled
    to a common depth; 0 to about 6.5); ``values="scaled"`` returns ``X`` as shipped, each gene centred and scaled on
    the full data set (negative values included). ``y`` is ``bulk_labels`` (strings); ``meta`` holds the other
    ``obs`` columns (``n_genes``, ``percent_mito``, ``n_counts``, ``S_score``, ``G2M_score``, ``phase``,
    ``louvain``). The index is the cell barcode.
    """
    if values not in ("log", "scaled"):
        raise OmicsInputError(f"values={values!r} is not known; pass 'log' or 'scaled'")
    import warnings

    import anndata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata's notes on the old file layout (obsp, uns) concern nothing used here
        adata = anndata.read_h5ad(_scanpy_file("10x_pbmc68k_reduced.h5ad"))
    layer = adata.raw if values == "log" else adata
    matrix = layer.X.toarray() if hasattr(layer.X, "toarray") else np.asarray(layer.X)
    index = pd.Index(adata.obs_names.astype(str), name="cell")
    X = pd.DataFrame(matrix.astype(np.float64), index=index, columns=pd.Index(layer.var_names.astype(str)))
    obs = adata.obs.set_axis(index, axis=0)
    y = obs["bulk_labels"].astype(str).rename("bulk_labels")
    meta = obs.drop(columns=["bulk_labels"])
    return ExpressionData(X=X, y=y, meta=meta, source="pbmc68k_reduced (scanpy)")
