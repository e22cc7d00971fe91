"""Fuzzed input: malformed tables either load or raise the one-line OmicsInputError, nothing else.

Hypothesis writes random tables to disk (shapes from empty to a few rows and columns, numbers, text, booleans, NaN,
inf, empty cells, duplicated sample IDs and gene names, ragged lines, header-only and empty files, four separators,
three encodings, gzip) and reads each with :func:`omicsnb.data.load_expression` and with the chapters' entry point
:func:`omicsnb.data.load_or_simulate` under random contract parameters. The number of generated cases is printed.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omicsnb.data import load_expression, load_or_simulate
from omicsnb.data.contract import DATA_KINDS, MISSING_POLICIES, ORIENTATIONS
from omicsnb.validation import OmicsInputError

CASES = {"tables": 0, "loaded_expression": 0, "loaded_chapter": 0}

_names = st.sampled_from(["cancer_type", "GENE1", "TP53", "sample", "", "ENSG00000141510.17", "sample_1", "x;y",
                          "é", "GSM12345", "1", "AAACCTGAGCATCATC-1", "label", "a b"])
_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(lambda v: repr(float(v))),
    st.integers(-5, 1000).map(str),
    st.sampled_from(["", "NA", "nan", "inf", "-inf", "true", "False", "tumour", "1e400", "3,5", '"q"', "é", "-",
                     "0x1F", " 7 "]),
)


@st.composite
def tables(draw):
    """(file bytes, suffix, header names) of a random delimited table."""
    sep = draw(st.sampled_from([",", "\t", ";", "|"]))
    suffix = draw(st.sampled_from([".csv", ".tsv", ".txt"]))
    n_rows = draw(st.integers(0, 6))
    n_cols = draw(st.integers(0, 6))
    header = [draw(_names) for _ in range(n_cols)]
    lines = [] if draw(st.booleans()) and n_rows == 0 and n_cols == 0 else [sep.join(header)]
    ids = [draw(st.sampled_from(["s1", "s2", "sample_3", "TCGA-AB-1234", "", "GENE1"])) for _ in range(n_rows)]
    for r in range(n_rows):
        width = n_cols + draw(st.sampled_from([0, 0, 0, 1, -1]))  # mostly rectangular, sometimes ragged
        row = [ids[r]] + [draw(_cells) for _ in range(max(width - 1, 0))]
        lines.append(sep.join(row[: max(width, 0)] if width > 0 else []))
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16"]))
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    if draw(st.booleans()):
        raw, suffix = gzip.compress(raw, mtime=0), suffix + ".gz"
    return raw, suffix, header


@st.composite
def numeric_frames(draw):
    """A mostly well-formed samples x genes frame with random defects, written by pandas (CSV or parquet)."""
    n, g = draw(st.integers(1, 12)), draw(st.integers(1, 6))
    values = np.asarray(draw(st.lists(st.one_of(st.floats(-10, 1e6, width=32), st.sampled_from([np.nan, np.inf, -np.inf])),
                                      min_size=n * g, max_size=n * g)), dtype=float).reshape(n, g)
    if draw(st.booleans()):
        values = np.round(np.abs(np.nan_to_num(values, nan=0.0, posinf=5.0, neginf=5.0)))
    genes = [f"G{j}" for j in range(g)]
    if draw(st.booleans()) and g > 1:
        genes[-1] = genes[0]  # duplicated gene name
    frame = pd.DataFrame(values, columns=genes)
    frame.insert(0, "sample", [f"s{i % max(1, n - draw(st.integers(0, 1)))}" for i in range(n)])
    labels = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    frame.insert(1, "cancer_type", labels)
    if draw(st.booleans()):
        frame.insert(2, "site", "x")
    transpose = draw(st.booleans())
    return frame, transpose, draw(st.sampled_from([".csv", ".parquet"]))


def _check(call) -> bool:
    try:
        call()
    except OmicsInputError as error:
        assert "\n" not in str(error)
        return False
    return True


@settings(max_examples=100, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from(ORIENTATIONS), st.booleans(), st.sampled_from(DATA_KINDS),
       st.sampled_from(MISSING_POLICIES), st.integers(1, 3))
def test_random_text_tables_load_or_raise_the_input_error(table, orientation, allow_nan, data_kind, missing, size):
    raw, suffix, header = table
    CASES["tables"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"matrix{suffix}"
        path.write_bytes(raw)
        if _check(lambda: load_expression(path, orientation=orientation, allow_nan=allow_nan)):
            CASES["loaded_expression"] += 1
        label = header[1] if len(header) > 1 and header[1] else "cancer_type"
        if _check(lambda: load_or_simulate(str(path), label_column=label, orientation=orientation,
                                           data_kind=data_kind, missing=missing, min_class_size=size)):
            CASES["loaded_chapter"] += 1


@settings(max_examples=50, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(numeric_frames(), st.sampled_from(DATA_KINDS), st.sampled_from(MISSING_POLICIES), st.integers(1, 3))
def test_random_frames_load_or_raise_the_input_error(case, data_kind, missing, size):
    frame, transpose, suffix = case
    CASES["tables"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"matrix{suffix}"
        labels_path = ""
        if transpose:  # genes x samples with the labels in a separate file
            matrix = frame.drop(columns=[c for c in ("cancer_type", "site") if c in frame]).set_index("sample").T
            frame[["sample", "cancer_type"]].to_csv(Path(folder) / "labels.csv", index=False)
            labels_path = str(Path(folder) / "labels.csv")
            matrix.index.name = "gene"
            written = matrix.reset_index()
        else:
            written = frame
        if suffix == ".parquet":
            written.columns = [str(c) for c in written.columns]
            if written.columns.duplicated().any():
                written = written.loc[:, ~written.columns.duplicated()]
            written.to_parquet(path, index=False)
        else:
            written.to_csv(path, index=False)
        if _check(lambda: load_expression(path, allow_nan=True)):
            CASES["loaded_expression"] += 1
        if _check(lambda: load_or_simulate(str(path), labels_path=labels_path, data_kind=data_kind, missing=missing,
                                           min_class_size=size)):
            CASES["loaded_chapter"] += 1


def test_report_the_number_of_cases():
    """Runs after the two property tests (file order): prints how many tables were generated and how many loaded."""
    print(f"\nfuzzed tables: {CASES['tables']}; loaded by load_expression: {CASES['loaded_expression']}; "
          f"loaded by load_or_simulate: {CASES['loaded_chapter']}; every other case raised OmicsInputError")
    assert CASES["tables"] > 0
