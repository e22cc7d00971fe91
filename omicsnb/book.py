"""What a notebook uses to talk to the book: glued numbers, recorded result tables, and the package's own source.

- :func:`glue` puts a number into the prose (``{glue:text}`` roles) and falls back to a plain display outside
  Jupyter Book, so notebooks also run on Colab without myst-nb.
- :func:`record` shows a tidy table of headline numbers and, when the notebook runs under ``omicsnb run``, adds it to
  ``book/results/<notebook>.json`` (the runner writes the file only if the whole notebook succeeds).
- :func:`write_json_atomic` and :func:`update_json` are the book's only way of writing its JSON bookkeeping: a unique
  temporary name plus ``os.replace``, and a file lock around every read-modify-write, so concurrent writers never lose
  an entry or leave half a file.
- :func:`show_source` shows the code of an ``omicsnb`` function or class, so the chapter never keeps a second copy.

Introduced in chapter 1, *Data and exploration*.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from omicsnb.validation import OmicsInputError

LOCK_TIMEOUT_S = 120


def lock_path(path: Path | str) -> Path:
    """The lock file guarding ``path``: a hidden ``.<name>.lock`` next to it (gitignored)."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


def write_json_atomic(path: Path | str, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a uniquely named temporary file and ``os.replace``.

    Readers see either the old file or the new one, never half of one. The temporary name carries the process id, so
    the runner can tell a leftover of a killed writer (``.<name>.<pid>.<random>.tmp``) from one still being written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(data, indent=1) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path | str) -> Any:
    """Read a JSON file; a truncated or corrupt file is a one-line :class:`OmicsInputError` that names it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise OmicsInputError(
            f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); restore it (git checkout) or delete it"
        ) from None


def update_json(path: Path | str, change: Callable[[dict], dict | None], *, rebuild: Callable[[], dict] | None = None) -> dict:
    """Read-modify-write a JSON object under a file lock, writing it back atomically; returns what was written.

    ``change`` gets the current object (``{}`` when the file does not exist) and edits it in place or returns a new
    one. A corrupt file raises :class:`OmicsInputError` naming it, unless ``rebuild`` is given: then the object is
    rebuilt by ``rebuild()`` (and the caller says so).
    """
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path(path)), timeout=LOCK_TIMEOUT_S):
        try:
            data = read_json(path) if path.exists() else {}
            if not isinstance(data, dict):
                raise OmicsInputError(f"{path} holds a JSON {type(data).__name__}, not an object; restore it or delete it")
        except OmicsInputError:
            if rebuild is None:
                raise
            data = rebuild()
        changed = change(data)
        data = data if changed is None else changed
        write_json_atomic(path, data)
    return data


def glue(key: str, value, display: bool = False) -> None:
    """Glue ``value`` under ``key`` for the rendered book (myst-nb), or just display it when myst-nb is absent.

    NumPy scalars are glued as plain Python numbers, whose text form myst-nb can format (``{glue:text}`key:.1f```).
    Unless ``display``, the cell also shows ``key = value`` (:func:`_glue_note`): a reader of the downloaded notebook
    finds the number behind each raw ``{glue:text}`` role, while the rendered book leaves the note out.
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
        else:
            _glue_note(key, value)
        return
    _glue(key, value, display=display)
    if not display:
        _glue_note(key, value)


GLUE_MIME_PREFIX = "application/papermill.record/"  # myst-nb's prefix for glued data that is not displayed


def _glue_note(key: str, value) -> None:
    """Show ``key = value`` as Markdown in the notebook (Jupyter, Colab, GitHub), but not in the rendered book.

    The output is marked as glue data with a MIME prefix, which is how myst-nb recognises glued values it must not
    display; it is stored under ``<key>.shown``, a name no ``{glue:text}`` role uses, so it never reaches the page.
    """
    from IPython.display import display as _display

    text = format(value, ".6g") if isinstance(value, float) else str(value)  # 45.300000000000004 -> 45.3
    text = text.replace("`", "'")
    text = text if len(text) <= 120 else text[:117] + "..."
    _display({"text/markdown": f"`{key} = {text}`"}, raw=True,
             metadata={"scrapbook": {"name": f"{key}.shown", "mime_prefix": GLUE_MIME_PREFIX}})


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) else value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is None or type(value).__name__ == "NAType":
        return None
    return value if isinstance(value, (int, str, bool)) else str(value)


def record(name: str, table, *, show: bool = True) -> None:
    """Record a tidy table of headline numbers under ``name`` (and display it by default).

    Under ``omicsnb run`` the runner sets ``OMICSNB_RESULTS_DIR``; the table is then added to
    ``<dir>/<notebook>.json`` as a list of records (locked, atomic: see :func:`update_json`). Elsewhere (a reader's
    Jupyter, nbval) nothing is written. Returns nothing, so that the table is shown once even when the call ends a cell.
    """
    import pandas as pd

    if not name or not name.replace("_", "").isalnum():
        raise OmicsInputError(f"result name {name!r} must be letters, digits and underscores; e.g. 'test_accuracy'")
    if not isinstance(table, (pd.DataFrame, dict)):
        raise OmicsInputError(f"record() takes a DataFrame or a dict, not {type(table).__name__}")
    frame = pd.DataFrame([table]) if isinstance(table, dict) else table.reset_index(drop=True)
    folder, notebook = os.environ.get("OMICSNB_RESULTS_DIR"), os.environ.get("OMICSNB_NOTEBOOK")
    if folder and notebook:
        rows = [{str(k): _jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        update_json(Path(folder) / f"{notebook}.json", lambda tables: tables.__setitem__(name, rows))
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
