"""Reading tables from disk: the file-format detection and the helpers every loader shares.

:mod:`omicsnb.data.loaders` (expression matrices), :mod:`omicsnb.data.genes` (mapping tables) and
:mod:`omicsnb.data.genesets` (GMT files) all read files through these functions, so none of them imports another for
its plumbing and the import graph has no cycle.
"""

from __future__ import annotations

import csv
import difflib
import gzip
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from omicsnb.validation import OmicsInputError

TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".tab": "\t"}


def _existing_file(path) -> Path:
    """Return ``path`` as a Path, raising a one-line error when it is not an existing file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise OmicsInputError(f"file not found: {path}; check the path (relative paths start from {Path.cwd()})")
    if not path.is_file():
        raise OmicsInputError(f"{path} is a directory, not a file; pass the path of the file inside it")
    return path


def _column_not_found(kind: str, name, available: Iterable, source: str) -> OmicsInputError:
    """Build the error for a missing column: suggest the closest name and list the available ones."""
    available = [str(c) for c in available]
    close = difflib.get_close_matches(str(name), available, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(available[:10]) + (f", ... ({len(available) - 10} more)" if len(available) > 10 else "")
    return OmicsInputError(f"{kind} {name!r} not found in {source}{hint}; available columns: {shown or 'none'}")


def _detect_format(path: Path, sep: str | None) -> tuple[str, str | None]:
    """Return ``(kind, separator)`` with kind in {"text", "parquet", "h5ad"} from the file name (and ``sep``)."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    core = (suffixes[-2] if len(suffixes) >= 2 else "") if compressed else (suffixes[-1] if suffixes else "")
    if core in TEXT_SEPARATORS:
        return "text", sep or TEXT_SEPARATORS[core]
    if not compressed and core in (".parquet", ".pq"):
        return "parquet", None
    if not compressed and core == ".h5ad":
        return "h5ad", None
    if sep is not None:  # e.g. Xena's extension-less downloads: the user says it is delimited text
        return "text", sep
    raise OmicsInputError(
        f"unknown file format for {path.name}; use .csv, .tsv, .txt (tab-separated, each optionally .gz), .parquet or "
        ".h5ad, or pass sep= for other delimited text"
    )


def _raw_header(path: Path, sep: str, encoding: str = "utf-8") -> list[str]:
    """The first line of a delimited text file, split exactly as written (pandas renames duplicated names)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", newline="", encoding=encoding) as handle:
            return next(csv.reader(handle, delimiter=sep), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


_OTHER_SEPARATORS = (",", "\t", ";", "|")


def _read_text(path: Path, sep: str) -> tuple[pd.DataFrame, str, str]:
    """``pd.read_csv`` with a fallback to latin-1 for files that are not UTF-8; returns (table, sep, encoding)."""
    for encoding in ("utf-8", "latin-1"):
        try:
            table = pd.read_csv(path, sep=sep, low_memory=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
        if table.shape[1] == 1 and len(table.columns):
            # One column: perhaps the file uses another separator than its extension implies (e.g. ';' in a .csv).
            header = str(table.columns[0])
            for other in _OTHER_SEPARATORS:
                if other != sep and other in header:
                    try:
                        return pd.read_csv(path, sep=other, low_memory=False, encoding=encoding), other, encoding
                    except (pd.errors.ParserError, UnicodeDecodeError):
                        break
        return table, sep, encoding
    raise UnicodeDecodeError("utf-8", b"", 0, 1, "neither UTF-8 nor latin-1")


def _read_table(path: Path, kind: str, sep: str | None) -> pd.DataFrame:
    """Read a CSV/TSV/parquet table into a frame with a default RangeIndex and its header names as written."""
    if kind == "parquet":
        try:
            table = pd.read_parquet(path, engine="pyarrow")
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise OmicsInputError(
                f"could not read {path.name} as parquet ({type(error).__name__}); check the file"
            ) from None
        return table if isinstance(table.index, pd.RangeIndex) else table.reset_index()
    try:
        table, sep, encoding = _read_text(path, sep)
    except pd.errors.EmptyDataError:
        raise OmicsInputError(f"{path.name} is empty; pass a file with a header line and one line per row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error, OSError, EOFError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OmicsInputError(
            f"could not parse {path.name} as {sep!r}-separated text ({first[:200]}); check the separator (.csv: "
            "commas, .tsv/.txt: tabs) and that every line has as many fields as the header"
        ) from None
    offset = 0
    if not isinstance(table.index, pd.RangeIndex):  # header one field short (R's write.table): first column = row names
        table = table.reset_index()
        offset = 1
    header = _raw_header(path, sep, encoding)
    if len(set(header)) < len(header) and len(header) + offset == table.shape[1]:
        names = list(table.columns)
        for i, written in enumerate(header):
            if written:
                names[i + offset] = written
        table.columns = names
    return table


def _read_any_table(path, sep: str | None = None) -> tuple[pd.DataFrame, Path]:
    """Read a CSV/TSV/parquet table (e.g. a phenotype or mapping table) with a default index."""
    path = _existing_file(path)
    kind, sep = _detect_format(path, sep)
    if kind == "h5ad":
        raise OmicsInputError(f"{path.name} is an AnnData file; pass a table as .csv, .tsv or .parquet")
    return _read_table(path, kind, sep), path
