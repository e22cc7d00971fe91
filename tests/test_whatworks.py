"""The "What works when" page generator (omicsnb.whatworks) on small fake results files."""

from __future__ import annotations

import json

import pytest

from omicsnb import whatworks
from omicsnb.validation import OmicsInputError

NEW = [
    {"claim": "SSL beats the baseline at 1% labels", "source": "Dradjat et al.", "data": "simulator, linear",
     "estimate": 0.04213, "ci_low": 0.0112, "ci_high": 0.0731, "n": 5, "threshold": 0.0, "direction": "greater",
     "verdict": "holds", "method": "t 95% paired"},
    {"claim": "VAE within 2% of SVD", "source": "Qiu et al.", "data": "TCGA | BRCA", "estimate": 0.031,
     "ci_low": 0.02, "ci_high": 0.05, "n": 6, "threshold": 0.02, "direction": "within", "verdict": "does not hold",
     "method": "t 95%"},
    {"claim": "gates find the blocks", "estimate": 0.1, "ci_low": -0.1, "ci_high": 0.3, "n": 10, "threshold": 0.0,
     "direction": "greater", "verdict": "inconclusive", "method": "bootstrap"},
]
OLD = [
    {"observation (TCGA)": "ten PCs explain a third", "criterion": "between 0.2 and 0.5", "here": "0.27 to 0.44",
     "holds here": True},
    {"observation (TCGA)": "cancer types separate", "criterion": "R2 > 0.2", "here": 0.03, "holds here": False},
]
OLD_NO_HERE = [{"claim": "accuracy rises with labels", "criterion": "no drop > 1 point", "holds here": True}]


def _book(tmp_path, results: dict, toc_files=("book/05_label_fractions", "book/08_imputation", "book/01_data")):
    (tmp_path / "book" / "results").mkdir(parents=True)
    toc = {"format": "jb-book", "root": "book/intro",
           "parts": [{"caption": "All", "chapters": [{"file": f} for f in toc_files]}]}
    (tmp_path / "_toc.yml").write_text(json.dumps(toc))  # JSON is YAML
    for name, claims in results.items():
        tables = {"other": [{"x": 1}]}
        if claims is not None:
            tables["claims"] = claims
        (tmp_path / "book" / "results" / f"{name}.json").write_text(
            json.dumps({"notebook": name, "profile": "quick", "tables": tables}))
    (tmp_path / "book" / "05_label_fractions.ipynb").write_text(json.dumps(
        {"cells": [{"cell_type": "markdown", "source": ["# How much does pretraining help?\n", "text"]}]}))
    return tmp_path


def test_new_format_row_shows_estimate_interval_symbol_and_check():
    rows = whatworks.parse_claims(NEW)
    assert [r.verdict for r in rows] == ["holds", "does not hold", "inconclusive"]
    assert rows[0].estimate == "0.0421 [0.0112, 0.0731]"
    assert rows[0].detail == "n = 5, > 0"
    assert rows[1].detail == "n = 6, within ±0.02"
    assert rows[2].data == "–" and rows[2].source == ""


def test_old_format_rows_have_no_interval_and_keep_criterion():
    rows = whatworks.parse_claims(OLD)
    assert [r.verdict for r in rows] == ["holds", "does not hold"]
    assert rows[0].data == "TCGA" and rows[0].estimate == "0.27 to 0.44" and rows[1].estimate == "0.03"
    assert rows[1].detail == "R2 > 0.2" and all(r.old_format for r in rows)
    assert "[" not in rows[0].estimate
    (row,) = whatworks.parse_claims(OLD_NO_HERE)
    assert row.estimate == "–" and row.data == "–" and row.claim == "accuracy rises with labels"


@pytest.mark.parametrize("bad", [[], [{"claim": "x", "verdict": "maybe"}], [{"claim": "x", "holds here": "yes"}],
                                 [{"criterion": "c", "holds here": True}], ["row"]])
def test_bad_claims_tables_are_rejected(bad):
    with pytest.raises(ValueError):
        whatworks.parse_claims(bad)


def test_page_groups_by_task_links_chapters_and_counts(tmp_path):
    root = _book(tmp_path, {"05_label_fractions": NEW, "01_data": OLD, "08_imputation": None,
                            "11_sefs": NEW[:1], "99_new": OLD_NO_HERE})
    (tmp_path / "book" / "results" / "_runs.json").write_text("{}")  # not a chapter: ignored
    path = whatworks.write_page(root)
    assert path == root / "book" / "what_works.md"
    text = path.read_text()
    # tasks in the fixed order, unknown chapters last
    order = [text.index(f"## {t}") for t in ("Data and baselines", "Label efficiency", "Imputation",
                                              "Feature selection", "Other results")]
    assert order == sorted(order)
    assert "## Pathways" not in text
    # links only to chapters in the table of contents, with the notebook's title
    assert "{doc}`How much does pretraining help? <05_label_fractions>`" in text
    assert "{doc}`11_sefs" not in text and "*11_sefs*" in text
    # one row per claim, symbols and escaped pipes
    assert "| ✓ | SSL beats the baseline at 1% labels *(Dradjat et al.)* | simulator, linear | 0.0421 [0.0112, 0.0731] |" \
        in text
    assert "| ✗ | VAE within 2% of SVD *(Qiu et al.)* | TCGA \\| BRCA |" in text
    assert "| ≈ | gates find the blocks | – | 0.1 [-0.1, 0.3] | n = 10, > 0 |" in text
    assert "| ✗ | cancer types separate | TCGA | 0.03 | R2 > 0.2 |" in text
    # a chapter without claims is reported, not dropped
    assert "Not gathered: no claims table recorded." in text
    # summary: 5 chapters; holds = 1 (new) + 1 (old) + 1 (sefs) + 1 (99_new) = 4, does not hold 2, inconclusive 1
    assert "* - **all**\n  - 5\n  - **4**\n  - **2**\n  - **1**" in text
    assert "2 chapter(s) (Data and exploration" not in text and "2 chapter(s) (01_data, 99_new)" in text


def test_page_is_deterministic_and_handles_no_results(tmp_path):
    root = _book(tmp_path, {"05_label_fractions": NEW})
    first = whatworks.write_page(root).read_text()
    assert whatworks.write_page(root).read_text() == first
    assert "older table" not in first
    empty = _book(tmp_path / "empty", {})
    assert "No chapter has recorded results yet" in whatworks.write_page(empty).read_text()


def test_corrupt_results_file_is_listed_with_reason(tmp_path):
    root = _book(tmp_path, {"05_label_fractions": NEW})
    (root / "book" / "results" / "08_imputation.json").write_text("{not json")
    text = whatworks.write_page(root).read_text()
    assert "### 08_imputation" in text and "Not gathered: Expecting property name" in text


def test_write_page_needs_a_book_folder(tmp_path):
    with pytest.raises(OmicsInputError, match="no book/ folder"):
        whatworks.write_page(tmp_path)

