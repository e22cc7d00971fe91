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


RECORDER = """
import os, sys
from omicsnb import book
os.environ["OMICSNB_RESULTS_DIR"], os.environ["OMICSNB_NOTEBOOK"] = sys.argv[1], "02_baseline"
worker = int(sys.argv[2])
for j in range(25):
    book.record(f"t{worker}_{j}", {"worker": worker, "j": j}, show=False)
"""


def test_record_is_safe_under_concurrent_writers(tmp_path):
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", RECORDER, str(tmp_path), str(i)], stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    tables = json.loads((tmp_path / "02_baseline.json").read_text())
    assert len(tables) == 100 and tables["t3_24"] == [{"worker": 3, "j": 24}]
    assert not list(tmp_path.glob(".*.tmp"))


def test_update_json_is_atomic_and_names_a_corrupt_file(tmp_path):
    path = tmp_path / "log.json"
    book.update_json(path, lambda d: d.update(a=1))
    assert book.update_json(path, lambda d: {**d, "b": 2}) == {"a": 1, "b": 2}
    assert json.loads(path.read_text()) == {"a": 1, "b": 2}
    path.write_text('{"a": ')
    with pytest.raises(OmicsInputError, match=r"log.json is not valid JSON .*restore it") as info:
        book.update_json(path, lambda d: d.update(c=3))
    assert "\n" not in str(info.value)
    assert book.update_json(path, lambda d: d.update(c=3), rebuild=lambda: {"rebuilt": True}) == {"rebuilt": True, "c": 3}

    def boom(data):
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        book.update_json(path, boom)
    assert json.loads(path.read_text()) == {"rebuilt": True, "c": 3}  # a failed writer leaves the old file
    assert sorted(p.name for p in tmp_path.iterdir()) == [".log.json.lock", "log.json"]
