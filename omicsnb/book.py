"""What a notebook uses to talk to the book: glued numbers, recorded result tables, and the package's own source.

- :func:`glue` puts a number into the prose (``{glue:text}`` roles) and falls back to a plain display outside
  Jupyter Book, so notebooks also run on Colab without myst-nb.
- :func:`record` shows a tidy table of headline numbers and, when the notebook runs under ``omicsnb run``, adds it to
  ``book/results/<notebook>.json`` (the runner writes the file only if the whole notebook succeeds).
- :func:`show_source` shows the code of an ``omicsnb`` function or class, so the chapter never keeps a second copy.

Introduced in chapter 1, *Data and exploration*.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from omicsnb.validation import OmicsInputError


def glue(key: str, value, display: bool = False) -> None:
    """Glue ``value`` under ``key`` for the rendered book (myst-nb), or just display it when myst-nb is absent.

    NumPy scalars are glued as plain Python numbers, whose text form myst-nb can format (``{glue:text}`key:.1f```).
    Returns nothing, so that a glue call ending a cell does not echo its value.
    """
    if isinstance(value, np.generic):
        value = value.item()
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - Colab without myst-nb
        if display:
            from IPython.display import display as _display

            _display(value)
        return
    _glue(key, value, display=display)


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) else value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is pd.NA or value is None:
        return None
    return value if isinstance(value, (int, str, bool)) else str(value)


def record(name: str, table: pd.DataFrame | dict, *, show: bool = True) -> None:
    """Record a tidy table of headline numbers under ``name`` (and display it by default).

    Under ``omicsnb run`` the runner sets ``OMICSNB_RESULTS_DIR``; the table is then added to
    ``<dir>/<notebook>.json`` as a list of records. Elsewhere (a reader's Jupyter, nbval) nothing is written.
    Returns nothing, so that the table is shown once even when the call ends a cell.
    """
    if not name or not name.replace("_", "").isalnum():
        raise OmicsInputError(f"result name {name!r} must be letters, digits and underscores; e.g. 'test_accuracy'")
    if not isinstance(table, (pd.DataFrame, dict)):
        raise OmicsInputError(f"record() takes a DataFrame or a dict, not {type(table).__name__}")
    frame = pd.DataFrame([table]) if isinstance(table, dict) else table.reset_index(drop=True)
    folder, notebook = os.environ.get("OMICSNB_RESULTS_DIR"), os.environ.get("OMICSNB_NOTEBOOK")
    if folder and notebook:
        path = Path(folder) / f"{notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tables = json.loads(path.read_text()) if path.exists() else {}
        tables[name] = [{str(k): _jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        path.write_text(json.dumps(tables, indent=1))
    if show:
        from IPython.display import display

        display(frame)


def show_source(obj) -> None:
    """Display the source of an ``omicsnb`` function, class or method as a highlighted code block."""
    from IPython.display import Markdown, display

    module = inspect.getmodule(obj)
    if module is None or not module.__name__.startswith("omicsnb"):
        raise OmicsInputError(f"show_source() shows omicsnb code only; {obj!r} comes from elsewhere")
    source = inspect.getsource(obj)
    where = f"{module.__name__}.{getattr(obj, '__qualname__', '')}"
    display(Markdown(f"*Source: `{where}`*\n\n```python\n{source}```"))
