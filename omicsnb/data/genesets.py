"""Gene sets: read and write GMT files, and match sets against the genes of a dataset.

A GMT file has one gene set per line: ``name<TAB>description<TAB>gene1<TAB>gene2...`` (the format of MSigDB, Enrichr
and KEGG exports). The book's chapters take a GMT path as a parameter; by default they use the simulator's own
ground-truth programmes written out with :func:`write_gmt`.

Gene names are compared exactly as written. Pass ``uppercase=True`` to compare them upper-cased, e.g. to match a
mouse-style set (``Cd4``) against the upper-case symbols that :func:`omicsnb.data.genes.map_gene_ids` produces; the
results then keep the spelling of the dataset's genes.

Introduced in chapter 1, *Data and exploration*.
"""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from omicsnb.data.tables import _existing_file
from omicsnb.validation import OmicsInputError

__all__ = ["read_gmt", "write_gmt", "gene_set_coverage", "gene_sets_to_membership", "filter_gene_sets"]


def _open_text(path: Path, mode: str):
    if path.suffix.lower() == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def read_gmt(
    path, *, uppercase: bool = False, return_descriptions: bool = False
) -> dict[str, list[str]] | tuple[dict[str, list[str]], dict[str, str]]:
    """Read a GMT file (optionally ``.gmt.gz``) into ``{set name: [genes]}``.

    Introduced in chapter 1, *Data and exploration*.

    Blank lines and empty trailing fields are skipped, whitespace around names is removed, and a gene listed twice in
    one set is kept once (sets are sets; the first position is kept).

    Parameters
    ----------
    path
        The GMT file.
    uppercase
        Upper-case the gene names.
    return_descriptions
        Also return ``{set name: description}`` (the second field of each line).

    Raises
    ------
    OmicsInputError
        With the line number, for a line with fewer than three tab-separated fields, an empty set name, a set
        defined twice, a set without genes, or a gene name containing a space (a space-separated file); also for a
        missing, empty or non-UTF-8 file.
    """
    path = _existing_file(path)
    gene_sets: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    first_line: dict[str, int] = {}
    try:
        with _open_text(path, "r") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                fields = line.split("\t")
                where = f"{path.name} line {number}"
                if len(fields) < 3:
                    raise OmicsInputError(
                        f"{where}: expected name<TAB>description<TAB>gene..., found {len(fields)} tab-separated "
                        "field(s); GMT fields must be separated by tabs"
                    )
                name = fields[0].strip()
                if not name:
                    raise OmicsInputError(f"{where}: the gene set name (first field) is empty")
                if name in gene_sets:
                    raise OmicsInputError(
                        f"{where}: gene set {name!r} is already defined on line {first_line[name]}; "
                        "names must be unique"
                    )
                genes = [g.strip() for g in fields[2:] if g.strip()]
                spaced = [g for g in genes if any(ch.isspace() for ch in g)]
                if spaced:
                    raise OmicsInputError(
                        f"{where}: gene {spaced[0]!r} contains a space; GMT genes must be separated by tabs"
                    )
                if not genes:
                    raise OmicsInputError(f"{where}: gene set {name!r} has no genes")
                if uppercase:
                    genes = [g.upper() for g in genes]
                gene_sets[name] = list(dict.fromkeys(genes))
                descriptions[name] = fields[1].strip()
                first_line[name] = number
    except UnicodeDecodeError:
        raise OmicsInputError(f"{path.name} is not UTF-8 text; pass a plain-text (or gzipped) GMT file") from None
    except (OSError, EOFError) as error:
        raise OmicsInputError(f"could not read {path.name} ({type(error).__name__}); check the file") from None
    if not gene_sets:
        raise OmicsInputError(f"{path.name} contains no gene sets; pass a non-empty GMT file")
    return (gene_sets, descriptions) if return_descriptions else gene_sets


def _check_field(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OmicsInputError(f"{what} must be a non-empty string, got {value!r}")
    if any(ch in value for ch in "\t\r\n"):
        raise OmicsInputError(f"{what} {value!r} contains a tab or newline, which GMT cannot store; remove it")
    return value


def write_gmt(
    gene_sets: Mapping[str, Iterable[str]],
    path,
    *,
    descriptions: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write gene sets to a GMT file (gzipped when the name ends in ``.gz``); returns the path.

    Introduced in chapter 1, *Data and exploration*.

    Parameters
    ----------
    gene_sets
        ``{set name: genes}``; every set needs at least one gene, listed once.
    path
        Output file. An existing file is never replaced unless ``overwrite=True``.
    descriptions
        ``{set name: description}`` for some or all sets; the others get ``"NA"``.
    overwrite
        Replace ``path`` if it exists.

    Raises
    ------
    OmicsInputError
        For an existing file without ``overwrite=True``, a missing folder, an empty collection or set, a gene
        listed twice, descriptions for unknown sets, and names containing tabs or newlines.
    """
    path = Path(path).expanduser()
    if path.exists() and not overwrite:
        raise OmicsInputError(f"{path} already exists; pass overwrite=True to replace it, or choose another path")
    if not path.parent.is_dir():
        raise OmicsInputError(f"folder {path.parent} does not exist; create it first")
    if not isinstance(gene_sets, Mapping) or not gene_sets:
        raise OmicsInputError("gene_sets must be a non-empty dict {name: [genes]}")
    descriptions = dict(descriptions or {})
    unknown = [name for name in descriptions if name not in gene_sets]
    if unknown:
        raise OmicsInputError(f"descriptions given for {len(unknown)} unknown gene set(s), e.g. {unknown[0]!r}")
    lines = []
    for name, genes in gene_sets.items():
        _check_field(name, "gene set name")
        if isinstance(genes, str) or not isinstance(genes, Iterable):
            raise OmicsInputError(f"gene set {name!r} must be a list of gene names, got {type(genes).__name__}")
        genes = [_check_field(g, f"a gene of set {name!r}") for g in genes]
        if not genes:
            raise OmicsInputError(f"gene set {name!r} is empty; GMT sets need at least one gene")
        seen = set()
        for gene in genes:
            if gene in seen:
                raise OmicsInputError(f"gene set {name!r} lists {gene!r} twice; list each gene once")
            seen.add(gene)
        description = _check_field(descriptions.get(name, "NA"), f"the description of {name!r}")
        lines.append("\t".join([name, description, *genes]))
    with _open_text(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


# ----------------------------------------------------------------------------------------------------------------------
# Matching sets to a dataset's genes
# ----------------------------------------------------------------------------------------------------------------------
def _universe(genes, uppercase: bool) -> dict[str, str]:
    """Map each (optionally upper-cased) universe gene to its spelling in the data; reject duplicates."""
    if isinstance(genes, (str, Mapping)):
        raise OmicsInputError("genes must be a list of gene names (e.g. X.columns), not a single string or a dict")
    genes = [str(g) for g in (genes.tolist() if hasattr(genes, "tolist") else genes)]
    if not genes:
        raise OmicsInputError("genes (the universe) is empty; pass the gene names of your data, e.g. X.columns")
    keys = [g.upper() for g in genes] if uppercase else genes
    lookup = dict(zip(keys, genes))
    if len(lookup) < len(genes):
        duplicated = pd.Index(keys)[pd.Index(keys).duplicated()][0]
        raise OmicsInputError(
            f"genes lists {duplicated!r} more than once{' (after upper-casing)' if uppercase else ''}; make them unique"
        )
    return lookup


def _restrict(gene_sets: Mapping[str, Iterable[str]], genes, uppercase: bool) -> tuple[dict, dict[str, int]]:
    """Each set restricted to the universe (in the data's spelling), and each set's size before restriction."""
    if not isinstance(gene_sets, Mapping) or not gene_sets:
        raise OmicsInputError("gene_sets must be a non-empty dict {name: [genes]}, e.g. from read_gmt")
    lookup = _universe(genes, uppercase)
    restricted, sizes = {}, {}
    for name, members in gene_sets.items():
        if isinstance(members, str):
            raise OmicsInputError(f"gene set {name!r} must be a list of genes, not the string {members!r}")
        keys = list(dict.fromkeys(str(g).upper() if uppercase else str(g) for g in members))
        sizes[name] = len(keys)
        restricted[name] = [lookup[k] for k in keys if k in lookup]
    return restricted, sizes


def gene_set_coverage(gene_sets: Mapping[str, Iterable[str]], genes, *, uppercase: bool = False) -> pd.DataFrame:
    """How much of each gene set is present in the data.

    Introduced in chapter 1, *Data and exploration*.

    Returns
    -------
    pandas.DataFrame
        Indexed by set name, with columns ``size`` (distinct genes in the set), ``n_found`` (of those, in ``genes``)
        and ``fraction`` (``n_found / size``).
    """
    restricted, sizes = _restrict(gene_sets, genes, uppercase)
    table = pd.DataFrame(
        {"size": pd.Series(sizes), "n_found": pd.Series({k: len(v) for k, v in restricted.items()})}
    )
    table["fraction"] = table["n_found"] / table["size"]
    table.index.name = "gene_set"
    return table


def gene_sets_to_membership(
    gene_sets: Mapping[str, Iterable[str]], genes, *, uppercase: bool = False
) -> pd.DataFrame:
    """Boolean membership matrix, genes x sets: ``M.loc[g, s]`` is True when gene ``g`` is in set ``s``.

    Introduced in chapter 1, *Data and exploration*.

    Rows are ``genes`` (the universe, in its order), columns the sets (in their order). Set genes that are not in the
    universe are left out; :func:`gene_set_coverage` reports how many per set. A set with no gene in the universe
    gives an all-False column and a warning.

    Raises
    ------
    OmicsInputError
        An empty or duplicated universe, and no overlap at all between the sets and the universe (usually mismatched
        identifiers, e.g. Ensembl IDs against symbols, or letter case: try ``uppercase=True``).
    """
    restricted, _ = _restrict(gene_sets, genes, uppercase)
    universe = list(_universe(genes, uppercase).values())
    if not any(restricted.values()):
        example = next(iter(next(iter(gene_sets.values()))), "?")
        raise OmicsInputError(
            f"no gene of any set is among the {len(universe)} genes (sets have e.g. {example!r}, the data "
            f"{universe[0]!r}); use the same identifiers (map_gene_ids) or uppercase=True"
        )
    empty = [name for name, members in restricted.items() if not members]
    if empty:
        warnings.warn(
            f"{len(empty)} gene set(s) have no gene in the data, e.g. {empty[0]!r}; their columns are all False",
            stacklevel=2,
        )
    position = {gene: i for i, gene in enumerate(universe)}
    membership = np.zeros((len(universe), len(restricted)), dtype=bool)
    for column, members in enumerate(restricted.values()):
        membership[[position[g] for g in members], column] = True
    return pd.DataFrame(
        membership, index=pd.Index(universe, name="gene"), columns=pd.Index(list(restricted), name="gene_set")
    )


def filter_gene_sets(
    gene_sets: Mapping[str, Iterable[str]],
    genes,
    min_size: int = 15,
    max_size: int = 500,
    *,
    uppercase: bool = False,
) -> dict[str, list[str]]:
    """Restrict gene sets to the genes of the data and keep those with ``min_size`` to ``max_size`` genes.

    Introduced in chapter 1, *Data and exploration*.

    Sizes are counted *after* restriction to ``genes``, as GSEA does (the defaults 15 and 500 are GSEA's).
    The returned sets contain only genes of the data, in the data's spelling, in the set's order.

    Raises
    ------
    OmicsInputError
        Bad sizes, and no set left (the message gives the largest overlap found).
    """
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise OmicsInputError(f"{name}={value!r} must be a positive integer")
    if max_size < min_size:
        raise OmicsInputError(f"max_size={max_size} is smaller than min_size={min_size}; pass max_size >= min_size")
    restricted, _ = _restrict(gene_sets, genes, uppercase)
    kept = {name: members for name, members in restricted.items() if min_size <= len(members) <= max_size}
    if not kept:
        largest = max(len(members) for members in restricted.values())
        raise OmicsInputError(
            f"no gene set has between {min_size} and {max_size} genes in the data (largest overlap: {largest}); "
            "adjust min_size/max_size or check that sets and data use the same gene identifiers"
        )
    return kept
