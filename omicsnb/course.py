"""Course use of the book: the student edition (solutions removed) and the install cell for Colab.

Student edition (``omicsnb build --student``)
    The chapters write each solution as a dropdown admonition whose title starts with "Solution"
    (``:::{admonition} Solution`` + ``:class: dropdown``), or as a sphinx-exercise ``{solution}`` directive. The
    student build copies the executed book into a scratch folder and removes, from every markdown cell and prose
    page of that copy, each such block (colon or backtick fence, any nesting inside it), and every cell tagged
    ``solution``. Hints stay. Nothing in ``book/`` changes, and the teacher's book keeps its solutions. Removing the
    blocks, rather than setting sphinx-exercise's ``hide_solutions``, also removes them from the notebooks a student
    downloads, and avoids the ``hide_solutions`` crash on gated solutions.

Install cell
    Every executed notebook gets a first code cell, tagged ``remove-cell`` (the HTML does not show it), that installs
    ``omicsnb`` from the book's repository when it is missing: what a notebook opened in Colab needs. It is added
    after the run, so it never runs during the build; where ``omicsnb`` is installed it does nothing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import yaml

from .validation import OmicsInputError

SOLUTION_TITLE = re.compile(r"^solution\b", re.IGNORECASE)
_OPEN = re.compile(r"^(?P<fence>:{3,}|`{3,})\s*\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
_CLOSE = re.compile(r"^(?P<fence>:{3,}|`{3,})\s*$")
_CODE_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})")
INSTALL_TAG = "omicsnb-install"
PLACEHOLDER_OWNER = "OWNER"


def _is_solution(name: str, arg: str) -> bool:
    return name == "solution" or name.endswith(":solution") or (name == "admonition" and bool(SOLUTION_TITLE.match(arg)))


def strip_solutions(text: str) -> tuple[str, int]:
    """``text`` without its solution blocks (see the module docstring); returns the text and how many were removed.

    A block runs from its opening fence to the first closing fence of the same character that is at least as long
    and does not close a fence opened inside it. An unclosed solution block runs to the end of the text.
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    removed = 0
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        match = _OPEN.match(stripped)
        code = _CODE_OPEN.match(stripped) if not match else None
        if code:  # a code block (```python, ````md): copied as it is, whatever it shows
            fence = code["fence"]
            out.append(lines[i])
            i += 1
            while i < len(lines):
                out.append(lines[i])
                line = lines[i].strip()
                i += 1
                if line.startswith(fence[0] * len(fence)) and not line.strip(fence[0]):
                    break
            continue
        if not (match and _is_solution(match["name"], match["arg"].strip())):
            out.append(lines[i])
            i += 1
            continue
        char, length = match["fence"][0], len(match["fence"])
        inner: list[str] = []  # fences opened inside the solution
        i += 1
        while i < len(lines):
            line = lines[i].strip()
            close = _CLOSE.match(line)
            if close and inner and close["fence"][0] == inner[-1][0] and len(close["fence"]) >= len(inner[-1]):
                inner.pop()
            elif close and close["fence"][0] == char and len(close["fence"]) >= length and not inner:
                i += 1
                break
            else:
                opener = _OPEN.match(line) or (_CODE_OPEN.match(line) if line.rstrip("`~") else None)
                if opener and not close:
                    inner.append(opener["fence"])
            i += 1
        removed += 1
        while out and not out[-1].strip() and i < len(lines) and not lines[i].strip():
            out.pop()  # no double blank line where the block was
    return "".join(out), removed


def strip_notebook(nb) -> int:
    """Remove solutions from a notebook in place (markdown blocks and cells tagged ``solution``); returns the count."""
    removed, kept = 0, []
    for cell in nb.cells:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            removed += 1
            continue
        if cell.cell_type == "markdown":
            text, n = strip_solutions(cell.source)
            removed += n
            if n and not text.strip():
                continue
            cell.source = text
        kept.append(cell)
    nb.cells = kept
    return removed


def _student_config(text: str) -> str:
    config = yaml.safe_load(text) or {}
    config["title"] = f"{config.get('title', 'omicsnb')} (student edition)"
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def make_student_book(source_root: Path | str, target_root: Path | str) -> dict[str, int]:
    """Copy the built book under ``source_root`` (``_config.yml``, ``_toc.yml``, ``book/``) to ``target_root`` with
    every solution removed; returns the number removed per file. ``target_root`` is emptied first."""
    source_root, target_root = Path(source_root).resolve(), Path(target_root).resolve()
    if not (source_root / "_toc.yml").exists() or not (source_root / "book").is_dir():
        raise OmicsInputError(f"{source_root} is not a built book root (no _toc.yml or book/); run omicsnb build first")
    if target_root == source_root or target_root in source_root.parents:
        raise OmicsInputError(f"the student edition needs its own folder, not {target_root} (it holds the book)")
    if target_root.exists():
        shutil.rmtree(target_root)
    (target_root / "book").mkdir(parents=True)
    (target_root / "_config.yml").write_text(_student_config((source_root / "_config.yml").read_text()))
    shutil.copy2(source_root / "_toc.yml", target_root / "_toc.yml")
    counts: dict[str, int] = {}
    for path in sorted((source_root / "book").rglob("*")):
        rel = path.relative_to(source_root / "book")
        if path.is_dir() or any(part.startswith(".") or part == "_build" for part in rel.parts):
            continue
        target = target_root / "book" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            counts[rel.as_posix()] = strip_notebook(nb)
            nbformat.write(nb, target)
        elif path.suffix == ".md":
            text, counts[rel.as_posix()] = strip_solutions(path.read_text())
            target.write_text(text)
        else:
            shutil.copy2(path, target)
    return counts


def repository(config_file: Path | str) -> tuple[str, str]:
    """``repository.url`` and ``repository.branch`` of a jupyter-book ``_config.yml`` (``""``, ``"main"`` if absent)."""
    try:
        config = yaml.safe_load(Path(config_file).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "", "main"
    repo = config.get("repository") or {}
    return str(repo.get("url") or "").rstrip("/"), str(repo.get("branch") or "main")


def install_cell_source(repo_url: str, branch: str = "main") -> str:
    """The text of the Colab install cell for a repository URL."""
    url = repo_url or f"https://github.com/{PLACEHOLDER_OWNER}/omicsnb"
    lines = [
        "# Colab, or any Jupyter without omicsnb: install the package from the book's repository when it is missing.",
        "# (Hidden in the book. Where omicsnb is installed, e.g. `make lab` or Binder, this does nothing.)",
    ]
    if PLACEHOLDER_OWNER in url:
        lines.append("# The book's repository address is still the placeholder of _config.yml: replace OWNER below.")
    lines += [
        "import importlib.util",
        "",
        "if importlib.util.find_spec(\"omicsnb\") is None:",
        f"    %pip install --quiet \"omicsnb @ git+{url}@{branch}\"",
    ]
    return "\n".join(lines)


def add_install_cell(nb, repo_url: str, branch: str = "main") -> None:
    """Put the install cell first in ``nb`` (replacing an earlier one), tagged ``remove-cell``, never executed."""
    nb.cells = [c for c in nb.cells if INSTALL_TAG not in c.get("metadata", {}).get("tags", [])]
    cell = nbformat.v4.new_code_cell(install_cell_source(repo_url, branch))
    cell.metadata["tags"] = ["remove-cell", INSTALL_TAG]
    if "id" in cell:
        cell["id"] = INSTALL_TAG  # deterministic, so reruns give the same file
    nb.cells.insert(0, cell)


TIMINGS_START = "<!-- timings:start (generated by omicsnb build from the run logs; do not edit) -->"
TIMINGS_END = "<!-- timings:end -->"
PROFILES = ("quick", "book")


def _notebook_wall_time(path: Path) -> tuple[str, float] | None:
    try:
        meta = nbformat.read(path, as_version=4).metadata.get("omicsnb", {})
        return str(meta["profile"]), float(meta["wall_time_s"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def collect_timings(repo_root: Path | str, build_root: Path | str | None = None) -> dict[str, dict[str, float]]:
    """Last recorded wall time (s) per chapter and profile: ``{name: {"quick": s, "book": s}}``.

    Read, later sources overriding earlier ones: the executed notebooks' metadata in ``tests/nbval`` and ``book/``,
    ``book/results/_runs.json`` of the repository, then ``build_root``'s (the build in progress).
    """
    import json

    repo_root = Path(repo_root)
    times: dict[str, dict[str, float]] = {}

    def put(name: str, profile: str, seconds) -> None:
        if profile in PROFILES and isinstance(seconds, (int, float)) and seconds > 0:
            times.setdefault(name, {})[profile] = float(seconds)

    for folder in (repo_root / "tests" / "nbval", repo_root / "book"):
        for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            found = _notebook_wall_time(path)
            if found:
                put(path.stem, *found)
    logs = [repo_root / "book" / "results" / "_runs.json"]
    if build_root is not None:
        logs.append(Path(build_root) / "book" / "results" / "_runs.json")
    for log in logs:
        try:
            entries = json.loads(log.read_text())
        except (OSError, ValueError):
            continue
        for name, entry in entries.items() if isinstance(entries, dict) else ():
            if isinstance(entry, dict):
                put(name, str(entry.get("profile")), entry.get("wall_time_s"))
    return times


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def timings_table(times: dict[str, dict[str, float]], names: list[str], titles: dict[str, str]) -> str:
    """The instructors' page table: one row per chapter, quick and book wall times, and the totals."""
    lines = ["| chapter | quick profile | book profile |", "|:--|--:|--:|"]
    for name in names:
        row = times.get(name, {})
        lines.append(f"| {titles.get(name, name)} (`{name}`) | {_duration(row.get('quick'))} "
                     f"| {_duration(row.get('book'))} |")
    totals = []
    for profile in PROFILES:
        known = [times[n][profile] for n in names if profile in times.get(n, {})]
        missing = sum(1 for n in names if profile not in times.get(n, {}))
        totals.append(_duration(sum(known)) + (f" (+{missing} not timed)" if missing and known else "")
                      if known else "–")
    lines.append(f"| **all chapters** | **{totals[0]}** | **{totals[1]}** |")
    return "\n".join(lines)


def write_timings(page: Path | str, repo_root: Path | str, build_root: Path | str | None = None) -> bool:
    """Replace the table between the timing markers of ``page`` with the current timings; False if it has none."""
    page = Path(page)
    if not page.is_file():
        return False
    text = page.read_text()
    if TIMINGS_START not in text or TIMINGS_END not in text:
        return False
    repo_root = Path(repo_root)
    names = sorted(p.stem for p in (repo_root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    titles = {}
    for name in names:
        nb = nbformat.read(repo_root / "notebooks" / f"{name}.ipynb", as_version=4)
        heading = next((line[2:].strip() for c in nb.cells if c.cell_type == "markdown"
                        for line in c.source.splitlines() if line.startswith("# ")), name)
        titles[name] = heading.replace("|", "\\|")
    table = timings_table(collect_timings(repo_root, build_root), names, titles)
    head, rest = text.split(TIMINGS_START, 1)
    _, tail = rest.split(TIMINGS_END, 1)
    new = f"{head}{TIMINGS_START}\n{table}\n{TIMINGS_END}{tail}"
    if new != text:
        page.write_text(new)
    return True
