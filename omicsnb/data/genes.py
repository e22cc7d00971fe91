"""Gene identifiers: strip Ensembl versions and map Ensembl IDs to gene symbols with a table you provide.

This is the seed practical's ENSG -> symbol step, done offline: instead of querying MyGene.info, pass a mapping
table (a DataFrame or a CSV/TSV/parquet file with an Ensembl ID column and a symbol column, e.g. an Ensembl BioMart
export or ``ensembl-gene-index.csv.gz`` from the pirlygenes package). Every step is counted in a
:class:`MappingReport`, so the book can show exactly where genes were lost or merged.

Introduced in chapter 1, *Data and exploration*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from omicsnb.data.preprocess import _numeric_values
from omicsnb.data.tables import _column_not_found, _read_any_table
from omicsnb.validation import OmicsInputError

__all__ = ["strip_version", "map_gene_ids", "MappingReport"]

_AGGREGATES = ("mean", "sum", "first")
# An Ensembl stable ID (gene ENSG, transcript ENST, mouse ENSMUSG, ...) followed by ".<version>", and optionally
# GENCODE's "_PAR_Y" tag for the copy of a pseudoautosomal gene on chromosome Y.
_VERSIONED_ENSEMBL = r"^(ENS[A-Z]*\d+)\.\d+(_PAR_Y)?$"


def strip_version(ids):
    """Remove the version suffix from Ensembl IDs: ``"ENSG00000141510.17"`` -> ``"ENSG00000141510"``.

    Introduced in chapter 1, *Data and exploration*.

    Only Ensembl-shaped IDs (``ENS`` + letters + digits + ``.version``) are changed, so gene symbols that contain a dot
    (``RP11-34P13.7``) and unversioned IDs come back unchanged. GENCODE's ``_PAR_Y`` tag is kept
    (``ENSG00000002586.20_PAR_Y`` -> ``ENSG00000002586_PAR_Y``) so that the chromosome-Y copy of a pseudoautosomal
    gene stays distinct from the X copy instead of being merged with it.

    Parameters
    ----------
    ids
        One ID (str), or a list, array, Series or Index of IDs (all str).

    Returns
    -------
    The same kind of object: str for str, :class:`pandas.Index` for an Index, :class:`pandas.Series` (same index) for
    a Series, otherwise a numpy object array.
    """
    if isinstance(ids, str):
        return strip_version([ids])[0]
    values = pd.Index(ids, dtype=object) if not isinstance(ids, pd.Series) else pd.Index(ids.to_numpy(), dtype=object)
    not_text = [x for x in values if not isinstance(x, str)]
    if not_text:
        raise OmicsInputError(f"gene IDs must be strings, found {not_text[0]!r}; convert or drop it first")
    stripped = values.str.replace(_VERSIONED_ENSEMBL, r"\1\2", regex=True)
    if isinstance(ids, pd.Index):
        return pd.Index(stripped, name=ids.name)
    if isinstance(ids, pd.Series):
        return pd.Series(stripped, index=ids.index, name=ids.name)
    return stripped.to_numpy()


# ----------------------------------------------------------------------------------------------------------------------
# Merging columns that share a name (used here and by load_archs4)
# ----------------------------------------------------------------------------------------------------------------------
def _check_aggregate(how) -> None:
    if how not in _AGGREGATES:
        raise OmicsInputError(f"aggregate={how!r} is not supported; pass one of {', '.join(map(repr, _AGGREGATES))}")


def _aggregate_columns(X: pd.DataFrame, names, how: str) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Rename the columns of ``X`` to ``names`` and merge columns that share a name.

    ``how`` is ``"mean"``, ``"sum"`` or ``"first"`` (the leftmost column). Output columns follow the order in which
    each name first appears; a NaN in any merged column gives NaN (no silent skipping). Returns the new frame and,
    for each merged name, the original column labels that went into it.
    """
    _check_aggregate(how)
    names = pd.Index(names)
    codes, uniques = pd.factorize(names)
    sizes = np.bincount(codes, minlength=len(uniques))
    by_code = np.argsort(codes, kind="stable")  # columns grouped by name, in original order within a group
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    values = X.to_numpy()
    if how == "mean" and not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    merged = values[:, by_code[starts]]  # first member of every group (a copy)
    groups: dict[str, list[str]] = {}
    for code in np.flatnonzero(sizes > 1):
        members = by_code[starts[code] : starts[code] + sizes[code]]
        groups[uniques[code]] = [str(c) for c in X.columns[members]]
        if how == "sum":
            merged[:, code] = values[:, members].sum(axis=1)
        elif how == "mean":
            merged[:, code] = values[:, members].mean(axis=1)
    return pd.DataFrame(merged, index=X.index, columns=pd.Index(uniques, name=X.columns.name)), groups


# ----------------------------------------------------------------------------------------------------------------------
# Mapping
# ----------------------------------------------------------------------------------------------------------------------
@dataclass
class MappingReport:
    """What :func:`map_gene_ids` did, step by step.

    Introduced in chapter 1, *Data and exploration*.

    ``n_output == n_input - n_unmapped - n_duplicate_ids + n_symbols_with_duplicates`` when unmapped IDs are dropped
    (with ``drop_unmapped=False`` the ``n_unmapped`` term is 0, since they are kept under their stripped ID).

    Attributes
    ----------
    n_input
        Gene columns of the input matrix.
    n_versioned
        Of those, IDs that carried a version suffix (stripped before mapping).
    n_unmapped
        IDs with no symbol in the table (absent, or present with an empty symbol).
    n_duplicate_ids
        Kept IDs whose output name is shared with at least one other ID (all members of merged groups).
    n_symbols_with_duplicates
        Output names built by merging several IDs.
    n_output
        Gene columns of the result.
    unmapped_ids, duplicate_groups
        The unmapped input IDs, and output name -> the input IDs merged into it.
    aggregate, drop_unmapped
        The options used.
    """

    n_input: int
    n_versioned: int
    n_unmapped: int
    n_duplicate_ids: int
    n_symbols_with_duplicates: int
    n_output: int
    unmapped_ids: list[str] = field(default_factory=list)
    duplicate_groups: dict[str, list[str]] = field(default_factory=dict)
    aggregate: str = "mean"
    drop_unmapped: bool = True

    def to_frame(self) -> pd.DataFrame:
        """The counts as a tidy table with columns ``step`` and ``count``, in processing order."""
        fate = "dropped" if self.drop_unmapped else "kept under their ID"
        rows = [
            ("input gene IDs", self.n_input),
            ("IDs with a version suffix (stripped)", self.n_versioned),
            (f"IDs without a symbol ({fate})", self.n_unmapped),
            (f"IDs sharing a symbol (merged by {self.aggregate})", self.n_duplicate_ids),
            ("symbols built from several IDs", self.n_symbols_with_duplicates),
            ("output genes", self.n_output),
        ]
        return pd.DataFrame(rows, columns=["step", "count"])

    def __str__(self) -> str:
        lines = [f"Gene ID mapping: {self.n_input:,} IDs -> {self.n_output:,} genes"]
        lines += [f"  {step}: {count:,}" for step, count in self.to_frame().itertuples(index=False)][1:-1]
        if self.unmapped_ids:
            more = f", ... ({len(self.unmapped_ids) - 5} more)" if len(self.unmapped_ids) > 5 else ""
            lines.append("  unmapped, e.g.: " + ", ".join(self.unmapped_ids[:5]) + more)
        if self.duplicate_groups:
            shown = [f"{name} <- {'+'.join(ids)}" for name, ids in list(self.duplicate_groups.items())[:3]]
            more = f", ... ({len(self.duplicate_groups) - 3} more)" if len(self.duplicate_groups) > 3 else ""
            lines.append("  merged, e.g.: " + "; ".join(shown) + more)
        return "\n".join(lines)


def _mapping_from_table(table: pd.DataFrame, id_column: str, symbol_column: str) -> pd.Series:
    """Clean a mapping table into a Series: unversioned ID -> upper-case symbol (rows without a symbol dropped)."""
    for kind, name in (("id_column", id_column), ("symbol_column", symbol_column)):
        if name not in table.columns:
            raise _column_not_found(kind, name, table.columns, "the mapping table")
    ids = table[id_column].astype("string").str.strip()
    symbols = table[symbol_column].astype("string").str.strip().str.upper()
    clean = pd.DataFrame({"id": ids, "symbol": symbols.replace("", pd.NA)}).dropna().drop_duplicates()
    clean["id"] = strip_version(clean["id"].astype(object))
    clean = clean.drop_duplicates()
    conflicting = clean["id"].duplicated(keep=False)
    if conflicting.any():
        example = clean.loc[conflicting, "id"].iloc[0]
        targets = clean.loc[clean["id"] == example, "symbol"].tolist()
        raise OmicsInputError(
            f"the mapping table maps {clean.loc[conflicting, 'id'].nunique()} ID(s) to more than one symbol, e.g. "
            f"{example!r} -> {', '.join(targets)}; keep one row per ID"
        )
    return pd.Series(clean["symbol"].to_numpy(dtype=object), index=pd.Index(clean["id"].to_numpy(dtype=object)))


def map_gene_ids(
    X: pd.DataFrame,
    table,
    *,
    id_column: str = "ensembl_id",
    symbol_column: str = "symbol",
    drop_unmapped: bool = True,
    aggregate: str = "mean",
    sort: bool = False,
) -> tuple[pd.DataFrame, MappingReport]:
    """Rename Ensembl gene columns to gene symbols, merging IDs that share a symbol.

    Introduced in chapter 1, *Data and exploration* (the seed practical's section 6, offline).

    Steps: (1) strip version suffixes from the column IDs and the table IDs (:func:`strip_version`); (2) normalise
    table symbols (strip whitespace, upper-case; rows with an empty symbol count as unmapped); (3) look each ID up;
    (4) drop unmapped IDs, or keep them under their stripped ID with ``drop_unmapped=False``; (5) merge columns that
    end up with the same name by ``aggregate``.

    Parameters
    ----------
    X
        Expression, samples x genes, with Ensembl IDs as columns (numbers only: keep labels and metadata apart, as
        :class:`~omicsnb.data.loaders.ExpressionData` does).
    table
        Mapping table: a DataFrame, or the path of a CSV/TSV/parquet file. Several rows per ID are fine when they
        agree; an ID mapped to two different symbols is an error.
    id_column, symbol_column
        Column names in ``table``.
    drop_unmapped
        Drop IDs without a symbol (default), or keep them under their stripped ID.
    aggregate
        How to merge IDs that share a symbol: ``"mean"`` (the seed practical's choice), ``"sum"`` (for counts) or
        ``"first"``. A NaN in any merged column gives NaN.
    sort
        Sort the output columns alphabetically. By default they keep the input order (a merged symbol sits where its
        first ID was).

    Returns
    -------
    X_mapped, report
        The renamed matrix (same index) with unique upper-case symbol columns, and a :class:`MappingReport`.

    Raises
    ------
    OmicsInputError
        A non-numeric column in ``X``, a missing table column, an ID mapped to several symbols, an unknown
        ``aggregate``, and no ID found in the table at all.
    """
    _check_aggregate(aggregate)
    if not isinstance(X, pd.DataFrame):
        raise OmicsInputError(f"X must be a pandas DataFrame with gene IDs as columns, got {type(X).__name__}")
    if X.shape[1] == 0:
        raise OmicsInputError("X has no gene columns; pass a samples x genes DataFrame")
    _numeric_values(X, "X")
    if not isinstance(table, pd.DataFrame):
        table, _ = _read_any_table(table)
    mapping = _mapping_from_table(table, id_column, symbol_column)

    columns = pd.Index([str(c) for c in X.columns], dtype=object)
    stripped = strip_version(columns)
    symbols = pd.Series(mapping.reindex(stripped).to_numpy(), index=columns)
    mapped = symbols.notna().to_numpy()
    if not mapped.any():
        raise OmicsInputError(
            f"none of the {len(columns)} gene IDs of X is in the mapping table (X has e.g. {columns[0]!r}, the table "
            f"{mapping.index[0] if len(mapping) else 'no usable rows'!r}); check id_column and that both use "
            "Ensembl IDs"
        )
    keep = mapped if drop_unmapped else np.ones(len(columns), dtype=bool)
    names = np.where(mapped, symbols.to_numpy(), stripped.to_numpy())[keep]
    result, groups = _aggregate_columns(X.iloc[:, np.flatnonzero(keep)], names, aggregate)
    result.columns.name = None
    if sort:
        result = result.sort_index(axis=1)
    report = MappingReport(
        n_input=len(columns),
        n_versioned=int((stripped != columns).sum()),
        n_unmapped=int((~mapped).sum()),
        n_duplicate_ids=sum(len(ids) for ids in groups.values()),
        n_symbols_with_duplicates=len(groups),
        n_output=result.shape[1],
        unmapped_ids=list(columns[~mapped]),
        duplicate_groups=groups,
        aggregate=aggregate,
        drop_unmapped=drop_unmapped,
    )
    return result, report
