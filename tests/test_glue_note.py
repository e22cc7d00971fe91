"""omicsnb.book.glue in a downloaded notebook: each glued value also appears as ``key = value`` under its cell,
and myst-nb (the rendered book) keeps the glued value and drops that note (issue 15 item 6)."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from omicsnb import book


@pytest.fixture()
def outputs():
    """Run glue calls in an IPython shell and return the cell's outputs as a notebook would store them."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()

    def run(*calls):
        with capture_output() as captured:
            for key, value, display in calls:
                book.glue(key, value, display=display)
        return [nbformat.v4.new_output("display_data", data=o.data, metadata=o.metadata) for o in captured.outputs]

    return run


def test_glue_shows_key_and_value_for_a_reader_of_the_notebook(outputs):
    out = outputs(("svd_rank", np.int64(5), False), ("label", "a `quoted` name " + "x" * 200, False),
                  ("share", 45.300000000000004, False), ("tiny", np.float32(1.25e-7), False))
    notes = [o["data"]["text/markdown"] for o in out if "text/markdown" in o["data"]]
    assert notes[0] == "`svd_rank = 5`"
    assert notes[2:] == ["`share = 45.3`", "`tiny = 1.25e-07`"]  # six significant digits
    assert notes[1].startswith("`label = a 'quoted' name xx") and notes[1].endswith("...`")
    assert len(notes[1]) == len("`label = ") + 120 + 1  # cut to 120 characters of value
    # the glued data themselves are hidden from Jupyter (prefixed MIME types), as myst-nb writes them
    glued = [o for o in out if o["metadata"]["scrapbook"]["name"] == "svd_rank"]
    assert list(glued[0]["data"]) == [book.GLUE_MIME_PREFIX + "text/plain"]


def test_the_book_keeps_the_value_and_drops_the_note(outputs):
    from myst_nb.ext.glue import extract_glue_data_cell

    cell = nbformat.v4.new_code_cell("glue(...)")
    cell.outputs = outputs(("svd_rank", 5, False), ("shown", 0.25, True))
    data = dict(extract_glue_data_cell(cell))
    assert data["svd_rank"]["data"]["text/plain"] == "5"  # what {glue:text}`svd_rank` renders
    assert "svd_rank.shown" in data and "text/markdown" not in data["svd_rank.shown"]["data"]  # never a role's key
    # what the page shows from this cell: only the output glued with display=True, no note
    assert [o["data"] for o in cell.outputs] == [{"text/plain": "0.25"}]
