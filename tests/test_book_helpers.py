"""omicsnb.book: recording result tables, gluing numbers, showing package source."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from omicsnb import book
from omicsnb.data import map_gene_ids
from omicsnb.validation import OmicsInputError


def test_record_writes_only_under_the_runner(tmp_path, monkeypatch):
    monkeypatch.delenv("OMICSNB_RESULTS_DIR", raising=False)
    book.record("accuracy", {"model": "MLP", "accuracy": 0.9}, show=False)
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv("OMICSNB_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("OMICSNB_NOTEBOOK", "02_baseline")
    book.record("accuracy", pd.DataFrame({"model": ["MLP"], "accuracy": [np.float32(0.5)], "n": [np.int64(3)]}), show=False)
    book.record("flags", {"holds": np.bool_(True), "missing": float("nan")}, show=False)
    tables = json.loads((tmp_path / "02_baseline.json").read_text())
    assert tables == {"accuracy": [{"model": "MLP", "accuracy": 0.5, "n": 3}], "flags": [{"holds": True, "missing": None}]}


def test_record_rejects_bad_names_and_types():
    with pytest.raises(OmicsInputError, match="letters, digits and underscores"):
        book.record("test accuracy!", {"a": 1}, show=False)
    with pytest.raises(OmicsInputError, match="takes a DataFrame or a dict"):
        book.record("ok", [1, 2, 3], show=False)


def test_show_source_only_shows_omicsnb_code(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    book.show_source(map_gene_ids)
    assert "def map_gene_ids" in shown[0].data and "omicsnb.data.genes.map_gene_ids" in shown[0].data
    with pytest.raises(OmicsInputError, match="omicsnb code only"):
        book.show_source(json.dumps)


def test_glue_returns_nothing_and_unwraps_numpy_scalars(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display: glued.update({key: value}))
    assert book.glue("answer", np.float64(42.5), display=False) is None
    assert type(glued["answer"]) is float and repr(glued["answer"]) == "42.5"
