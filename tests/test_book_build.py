"""The whole book at the quick profile, rendered by jupyter-book with warnings as errors, in a scratch folder.

The build itself is the session fixture ``quick_book`` (tests/conftest.py), which renders the committed quick-profile
notebooks (``tests/nbval``); the browser test reuses it. The fresh execution of every chapter is nbval's
(``make nbval``), and its numbers are compared with the references in ``tests/test_results_reference.py``.
"""

from __future__ import annotations

import json

import pytest

from omicsnb import runner


@pytest.mark.slow
def test_quick_book_builds_with_warnings_as_errors(quick_book):
    html = quick_book / "_build" / "html"
    names = list(runner.discover_notebooks())
    for name in names:
        assert (html / "book" / f"{name}.html").exists(), f"{name} was not rendered"
        results = json.loads((quick_book / "book" / "results" / f"{name}.json").read_text())
        assert results["profile"] == "quick" and results["tables"], f"{name} recorded no results"
    assert (html / "index.html").exists()
    runs = json.loads((quick_book / "book" / "results" / "_runs.json").read_text())
    assert set(runs) == set(names)
    # the committed quick notebooks are up to date (`make status`), so the build rendered them without rerunning any
    skipped = json.loads((quick_book.parent / "records.json").read_text())
    assert set(skipped) == set(names)
    # the quick build never touches the committed book-profile notebooks
    before = json.loads((quick_book.parent / "book_before.json").read_text())
    assert {p.name: p.stat().st_mtime_ns for p in runner.BOOK_DIR.glob("*.ipynb")} == before
