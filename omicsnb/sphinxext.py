"""Sphinx extension for the book (listed in ``_config.yml`` under ``sphinx.extra_extensions``).

- Registers the pybtex style ``omicsnb_authoryear``: reference lists sorted by author, year and title and labelled
  "Author, year" / "Author and Other, year" / "Author et al., year" (a letter is added to tell apart two works of the
  same label), the same style as the author–year citations in the text. Links (URL, arXiv eprint, DOI) are printed.
- Removes the second copy of sphinx-thebe's inline script, which otherwise makes every page log
  ``Identifier 'THEBE_JS_URL' has already been declared`` in the browser console.

Kept free of heavy imports: Sphinx imports it for every build.
"""

from __future__ import annotations

import re

STYLE_NAME = "omicsnb_authoryear"


def _last_names(person) -> str:
    parts = [str(p) for p in person.rich_last_names] if hasattr(person, "rich_last_names") else person.last_names
    text = " ".join(parts) or " ".join(person.first_names) or "Anon"
    return re.sub(r"[{}]", "", text)


def author_year_label(entry) -> str:
    """"Author, year", "Author and Other, year" or "Author et al., year" for a pybtex entry (editors if no author)."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_names(p) for p in persons]
    if not names:
        who = re.sub(r"[{}]", "", entry.fields.get("organization", entry.fields.get("title", "Anon")))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2 and names[1] != "others":
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def sort_key(entry) -> tuple[str, str, str]:
    """Order of the reference list: the label's names as the reader sees them (case-folded), then year, title."""
    who = author_year_label(entry).rsplit(", ", 1)[0]
    title = re.sub(r"[{}]", "", entry.fields.get("title", ""))
    return who.casefold(), entry.fields.get("year", ""), title.casefold()


def _register() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.sorting import BaseSortingStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            labels = [author_year_label(entry) for entry in sorted_entries]
            counts: dict[str, int] = {}
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
            seen: dict[str, int] = {}
            for label in labels:
                if counts[label] == 1:
                    yield label
                else:
                    seen[label] = seen.get(label, 0) + 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]

    class AuthorYearSorting(BaseSortingStyle):
        def sorting_key(self, entry):
            return sort_key(entry)

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = AuthorYearSorting

    register_plugin("pybtex.style.labels", "omicsnb_authoryear", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.sorting", "omicsnb_authoryear", AuthorYearSorting, force=True)
    register_plugin("pybtex.style.formatting", STYLE_NAME, AuthorYearStyle, force=True)


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated identical script entries (sphinx-thebe adds its inline ``THEBE_JS_URL`` script twice)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    scripts[:] = kept  # in place: the builder keeps adding page scripts (MathJax) to this very list


def setup(app):
    _register()
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
