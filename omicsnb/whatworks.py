"""The "What works when" page: every chapter's claims, gathered by task into one generated MyST page.

``omicsnb build`` calls :func:`write_page` after the notebooks ran and before jupyter-book renders the HTML. It reads
the ``claims`` table that each chapter records in ``book/results/<notebook>.json`` and writes ``book/what_works.md``.

Two formats of claims table are understood:

- the current one, built by ``omicsnb.evaluate.claims_table`` (columns claim, source, data, estimate, ci_low,
  ci_high, n, threshold, direction, verdict, method): each row shows the estimate with its interval and the verdict
  as ✓ (holds), ✗ (does not hold) or ≈ (inconclusive);
- the older one (claim or observation, criterion, optional "here", "holds here" true/false): each row shows ✓ or ✗
  and the criterion, without an interval.

A chapter whose results file is missing, unreadable or has no claims table is listed under "Not gathered" with the
reason, so that the page never silently drops a chapter.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .validation import OmicsInputError

PAGE_NAME = "what_works.md"

#: Task of each chapter, in the order the page shows the tasks. A chapter not listed goes under "Other results".
TASKS: dict[str, tuple[str, ...]] = {
    "Data and baselines": ("01_data",),
    "Label efficiency": ("02_baseline", "03_vime", "05_label_fractions", "07_transfer"),
    "Representations": ("04_scarf_byol", "06_representations"),
    "Pathways": ("09_pathway_ssl",),
    "Interpretability": ("10_interpretable_ae",),
    "Imputation": ("08_imputation",),
    "Feature selection": ("11_sefs",),
    "Multi-view prediction": ("12_deepimv",),
}
OTHER_TASK = "Other results"

SYMBOLS = {"holds": "✓", "does not hold": "✗", "inconclusive": "≈"}
_RESULT_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.json$")


@dataclass
class Row:
    claim: str
    data: str
    estimate: str
    verdict: str  # one of SYMBOLS' keys
    source: str = ""
    detail: str = ""
    old_format: bool = False


@dataclass
class Chapter:
    name: str
    title: str
    linked: bool
    profile: str = ""
    rows: list[Row] = field(default_factory=list)
    problem: str = ""


def task_of(name: str) -> str:
    for task, names in TASKS.items():
        if name in names:
            return task
    return OTHER_TASK


def _cell(value) -> str:
    """Text for one table cell: no line breaks, pipes escaped, nothing MyST would read as a role or a target."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return text.replace("|", "\\|").replace("`", "'")


def _number(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.3g}"


def _new_row(record: dict) -> Row:
    verdict = str(record["verdict"]).strip().lower()
    if verdict not in SYMBOLS:
        raise ValueError(f"unknown verdict {record['verdict']!r}")
    estimate = _number(record.get("estimate"))
    if record.get("ci_low") is not None or record.get("ci_high") is not None:
        estimate += f" [{_number(record.get('ci_low'))}, {_number(record.get('ci_high'))}]"
    detail = []
    if record.get("n") is not None:
        detail.append(f"n = {record['n']}")
    if record.get("threshold") is not None and record.get("direction"):
        word = {"greater": ">", "less": "<", "within": "within ±"}.get(str(record["direction"]), str(record["direction"]))
        detail.append(f"{word} {_number(record['threshold'])}".replace("± ", "±"))
    return Row(claim=str(record.get("claim", "")), data=str(record.get("data") or "–"), estimate=estimate,
               verdict=verdict, source=str(record.get("source") or ""), detail=", ".join(detail))


def _old_row(record: dict) -> Row:
    holds = record.get("holds here")
    if not isinstance(holds, bool):
        raise ValueError(f"'holds here' is {holds!r}, not true/false")
    claim_key = next((k for k in record if k == "claim" or k.startswith(("claim", "observation"))), None)
    if claim_key is None:
        raise ValueError("no claim or observation column")
    data = "–"
    bracket = re.search(r"\(([^)]+)\)\s*$", claim_key)
    if bracket:  # e.g. "observation (TCGA)"
        data = bracket.group(1)
    here = record.get("here")
    estimate = _number(here) if here is not None else "–"
    return Row(claim=str(record[claim_key]), data=data, estimate=estimate,
               verdict="holds" if holds else "does not hold", detail=str(record.get("criterion") or ""),
               old_format=True)


def parse_claims(records) -> list[Row]:
    """Rows of one chapter's ``claims`` table, in either format (see the module docstring)."""
    if not isinstance(records, list) or not records:
        raise ValueError("the claims table is empty")
    rows = []
    for record in records:
        if not isinstance(record, dict):
            raise ValueError(f"a claims row is {type(record).__name__}, not a record")
        rows.append(_new_row(record) if "verdict" in record else _old_row(record))
    return rows


def _toc_files(root: Path) -> set[str]:
    toc_path = root / "_toc.yml"
    if not toc_path.exists():
        return set()
    files: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and isinstance(value, str):
                    files.add(value.removesuffix(".md").removesuffix(".ipynb"))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc_path.read_text()) or {})
    return files


def _title(book_dir: Path, name: str) -> str:
    path = book_dir / f"{name}.ipynb"
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return name
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            for line in source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return name


def gather(root: Path | str) -> list[Chapter]:
    """Read every ``book/results/NN_*.json`` under the book root ``root`` into chapters of parsed rows."""
    root = Path(root)
    book_dir = root / "book"
    results = book_dir / "results"
    toc = _toc_files(root)
    chapters = []
    for path in sorted(results.glob("*.json")) if results.is_dir() else []:
        if not _RESULT_NAME.match(path.name):
            continue
        name = path.stem
        chapter = Chapter(name=name, title=_title(book_dir, name), linked=f"book/{name}" in toc)
        try:
            content = json.loads(path.read_text())
            chapter.profile = str(content.get("profile") or "")
            claims = content.get("tables", {}).get("claims")
            if claims is None:
                raise ValueError("no claims table recorded")
            chapter.rows = parse_claims(claims)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            chapter.problem = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            chapter.rows = []
        chapters.append(chapter)
    return chapters


def _link(chapter: Chapter) -> str:
    if chapter.linked:
        return f"{{doc}}`{_cell(chapter.title)} <{chapter.name}>`"
    return f"*{_cell(chapter.title)}*"


def render(chapters: list[Chapter]) -> str:
    """The page's MyST text (deterministic: the same results give the same page)."""
    lines = [
        "(what-works)=",
        "# What works when",
        "",
        "<!-- Generated by `omicsnb build` (omicsnb/whatworks.py) from book/results/*.json. Do not edit by hand. -->",
        "",
        "Every chapter ends with a table of the sources' claims, each checked on this book's data with repeated runs.",
        "This page gathers all of them by task, so that you can see at a glance which methods helped where.",
        "It is regenerated by every build from the chapters' results files; the words and symbols below come from",
        "those runs, not from the text of any chapter.",
        "",
        "- **✓** the claim *holds* here: the whole 95% interval lies on the claimed side of the threshold;",
        "- **✗** it *does not hold*: the whole interval lies on the other side;",
        "- **≈** *inconclusive*: the interval straddles the threshold (more repeats, or a larger effect, would decide).",
        "",
        "*Estimate* is the mean of the repeats with its 95% interval in brackets; *checked as* gives the number of repeats",
        "and the threshold. Follow the chapter link for the data, the code and the figures behind a row.",
        "",
    ]
    old = [c.title for c in chapters if any(r.old_format for r in c.rows)]
    if old:
        lines += [f"{len(old)} chapter(s) ({', '.join(_cell(t) for t in old)}) still record an older table with a "
                  "pass/fail criterion and no interval: their rows show ✓ or ✗, the value seen here where the chapter "
                  "recorded one, and the criterion.", ""]
    by_task: dict[str, list[Chapter]] = {}
    for chapter in chapters:
        by_task.setdefault(task_of(chapter.name), []).append(chapter)
    order = list(TASKS) + [OTHER_TASK]
    total = {key: 0 for key in SYMBOLS}
    for chapter in chapters:
        for row in chapter.rows:
            total[row.verdict] += 1
    if chapters:
        lines += ["```{list-table} Verdicts by task",
                  ":header-rows: 1",
                  ":align: left",
                  "",
                  "* - task",
                  "  - chapters",
                  "  - ✓ holds",
                  "  - ✗ does not hold",
                  "  - ≈ inconclusive"]
        for task in order:
            if task not in by_task:
                continue
            counts = {key: sum(r.verdict == key for c in by_task[task] for r in c.rows) for key in SYMBOLS}
            lines += [f"* - {{ref}}`{task} <{_anchor(task)}>`", f"  - {len(by_task[task])}"]
            lines += [f"  - {counts[key]}" for key in SYMBOLS]
        lines += ["* - **all**", f"  - {len(chapters)}"] + [f"  - **{total[key]}**" for key in SYMBOLS]
        lines += ["```", ""]
    else:
        lines += ["No chapter has recorded results yet: run `omicsnb build` first.", ""]
    for task in order:
        if task not in by_task:
            continue
        lines += [f"({_anchor(task)})=", f"## {task}", ""]
        for chapter in by_task[task]:
            profile = f" (profile *{_cell(chapter.profile)}*)" if chapter.profile else ""
            lines += [f"### {_cell(chapter.title)}", "", f"From {_link(chapter)}{profile}.", ""]
            if chapter.problem:
                lines += [f"Not gathered: {_cell(chapter.problem)}.", ""]
                continue
            lines += ["| | claim | data | estimate [95% interval] | checked as |",
                      "|:-:|:--|:--|:--|:--|"]
            for row in chapter.rows:
                claim = _cell(row.claim) + (f" *({_cell(row.source)})*" if row.source else "")
                lines.append(f"| {SYMBOLS[row.verdict]} | {claim} | {_cell(row.data)} | {_cell(row.estimate)} "
                             f"| {_cell(row.detail) or '–'} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _anchor(task: str) -> str:
    return "what-works-" + re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")


def write_page(root: Path | str) -> Path:
    """Write ``<root>/book/what_works.md`` from ``<root>/book/results`` (atomically); returns its path."""
    root = Path(root)
    book_dir = root / "book"
    if not book_dir.is_dir():
        raise OmicsInputError(f"book root {root} has no book/ folder; pass the folder that holds _toc.yml and book/")
    target = book_dir / PAGE_NAME
    text = render(gather(root))
    fd, tmp = tempfile.mkstemp(dir=book_dir, prefix=f".{PAGE_NAME}.{os.getpid()}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, target)
    return target
