"""The whole book at the quick profile, rendered by jupyter-book with warnings as errors, in a scratch folder."""

from __future__ import annotations

import json

import pytest

from omicsnb import runner


@pytest.mark.slow
def test_quick_book_builds_with_warnings_as_errors(tmp_path):
    book_before = {p.name: p.stat().st_mtime_ns for p in runner.BOOK_DIR.glob("*.ipynb")}
    records = runner.build_book(profile="quick", out_root=tmp_path / "quick", force=True)
    html = tmp_path / "quick" / "_build" / "html"
    for rec in records:
        assert (html / "book" / f"{rec.name}.html").exists(), f"{rec.name} was not rendered"
        results = json.loads((tmp_path / "quick" / "book" / "results" / f"{rec.name}.json").read_text())
        assert results["profile"] == "quick" and results["tables"], f"{rec.name} recorded no results"
    assert (html / "index.html").exists()
    # the quick build never touches the committed book-profile notebooks
    assert {p.name: p.stat().st_mtime_ns for p in runner.BOOK_DIR.glob("*.ipynb")} == book_before
