"""Student edition (solutions removed) and the Colab install cell (omicsnb.course)."""

from __future__ import annotations

import nbformat
import pytest
import yaml

from omicsnb import course
from omicsnb.validation import OmicsInputError

CHAPTER_MD = """## Exercises

**Exercise 3.1.** Change the mask rate.

:::{admonition} Hint
:class: dropdown

Look at the loss curve.
:::

:::{admonition} Solution
:class: dropdown

Run it with `-p p_mask 0.5`:

```python
print(1)
```

::::{note}
not a fence closer for the solution: a longer inner fence
::::
The end.
:::

**Exercise 3.2.** Another.

::::{admonition} Solution to exercise 3.2
:class: dropdown

:::{tip}
nested
:::
::::

````{admonition} solution (backticks)
:class: dropdown
```python
x = 1
```
````

```{solution} ex-3-3
:class: dropdown
Solved.
```

:::{admonition} Solutions are not this
kept: "Solutions" is not the word "Solution"
:::

:::{admonition} Resolution
kept
:::
"""


def test_strip_solutions_removes_every_solution_block_and_keeps_hints():
    text, n = course.strip_solutions(CHAPTER_MD)
    assert n == 4  # "Solutions are not this" starts with "Solutions": not the word "Solution" on its own
    assert "Hint" in text and "Look at the loss curve." in text
    for gone in ("p_mask 0.5", "print(1)", "longer inner fence", "The end.", "nested", "x = 1", "Solved."):
        assert gone not in text
    assert "**Exercise 3.2.** Another." in text and "Resolution\nkept" in text
    assert "Solutions are not this" in text
    assert "\n\n\n" not in text
    assert text.count(":::") % 2 == 0


def test_solutions_shown_inside_code_blocks_are_kept():
    text = "How to write one:\n\n````md\n:::{admonition} Solution\nexample\n:::\n````\n\n~~~\n:::{admonition} Solution\n~~~\n"
    assert course.strip_solutions(text) == (text, 0)


def test_strip_solutions_leaves_text_without_solutions_alone():
    text = "# Title\n\n:::{admonition} Hint\n:class: dropdown\nx\n:::\n"
    assert course.strip_solutions(text) == (text, 0)


def test_unclosed_solution_runs_to_the_end():
    text, n = course.strip_solutions("before\n:::{admonition} Solution\nsecret\n")
    assert (text, n) == ("before\n", 1)


def _nb():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Chapter"),
                nbformat.v4.new_markdown_cell(":::{admonition} Solution\n:class: dropdown\nsecret\n:::"),
                nbformat.v4.new_markdown_cell("Exercise\n\n:::{admonition} Solution\nsecret\n:::\n\nafter"),
                nbformat.v4.new_code_cell("answer = 42")]
    nb.cells[3].metadata["tags"] = ["solution"]
    return nb


def test_strip_notebook_drops_emptied_cells_and_tagged_cells():
    nb = _nb()
    assert course.strip_notebook(nb) == 3
    assert [c.source for c in nb.cells] == ["# Chapter", "Exercise\n\nafter"]


def test_make_student_book_copies_and_strips(tmp_path):
    src = tmp_path / "src"
    (src / "book" / "results").mkdir(parents=True)
    (src / "_config.yml").write_text(yaml.safe_dump({"title": "omicsnb", "execute": {"execute_notebooks": "off"}}))
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (src / "book" / "intro.md").write_text("# Intro\n\n:::{admonition} Solution\nx\n:::\n")
    (src / "book" / "results" / "03_vime.json").write_text("{}")
    (src / "book" / ".hidden.md").write_text("no")
    nbformat.write(_nb(), src / "book" / "03_vime.ipynb")
    counts = course.make_student_book(src, src / "_build" / "student")
    dst = src / "_build" / "student"
    assert counts == {"03_vime.ipynb": 3, "intro.md": 1}
    assert "Solution" not in (dst / "book" / "intro.md").read_text()
    assert "secret" not in (dst / "book" / "03_vime.ipynb").read_text()
    assert (dst / "book" / "results" / "03_vime.json").exists() and not (dst / "book" / ".hidden.md").exists()
    config = yaml.safe_load((dst / "_config.yml").read_text())
    assert config["title"] == "omicsnb (student edition)" and config["execute"]["execute_notebooks"] == "off"
    assert "secret" in (src / "book" / "03_vime.ipynb").read_text()  # the teacher's copy is untouched
    with pytest.raises(OmicsInputError, match="its own folder"):
        course.make_student_book(src, src)
    with pytest.raises(OmicsInputError, match="not a built book root"):
        course.make_student_book(tmp_path / "nothing", tmp_path / "out")


def test_install_cell_is_first_hidden_deterministic_and_replaced(tmp_path):
    nb = _nb()
    course.add_install_cell(nb, "https://github.com/my-lab/omicsnb", "dev")
    course.add_install_cell(nb, "https://github.com/my-lab/omicsnb", "dev")
    first = nb.cells[0]
    assert len(nb.cells) == 5 and first.cell_type == "code" and first.outputs == []
    assert first.metadata["tags"] == ["remove-cell", course.INSTALL_TAG] and first.id == course.INSTALL_TAG
    assert '%pip install --quiet "omicsnb @ git+https://github.com/my-lab/omicsnb@dev"' in first.source
    assert 'find_spec("omicsnb") is None' in first.source and "placeholder" not in first.source
    nbformat.validate(nb)
    assert "replace OWNER" in course.install_cell_source("")
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://github.com/OWNER/omicsnb/\n")
    assert course.repository(config) == ("https://github.com/OWNER/omicsnb", "main")
    assert course.repository(tmp_path / "missing.yml") == ("", "main")


def _timed_repo(tmp_path):
    repo = tmp_path / "repo"
    for folder in ("notebooks", "book/results", "tests/nbval"):
        (repo / folder).mkdir(parents=True)
    for name, title in (("01_data", "Data | exploration"), ("02_baseline", "A baseline")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\ntext")]
        nbformat.write(nb, repo / "notebooks" / f"{name}.ipynb")
    quick = nbformat.v4.new_notebook()
    quick.metadata["omicsnb"] = {"profile": "quick", "wall_time_s": 17.1}
    nbformat.write(quick, repo / "tests" / "nbval" / "01_data.ipynb")
    (repo / "book" / "results" / "_runs.json").write_text(
        '{"01_data": {"profile": "book", "wall_time_s": 35.2}, "02_baseline": {"profile": "book", "wall_time_s": 94.0},'
        ' "99_gone": {"profile": "paper", "wall_time_s": 5}}')
    return repo


def test_collect_timings_later_sources_override(tmp_path):
    repo = _timed_repo(tmp_path)
    build = tmp_path / "build"
    (build / "book" / "results").mkdir(parents=True)
    (build / "book" / "results" / "_runs.json").write_text('{"02_baseline": {"profile": "quick", "wall_time_s": 7.6}}')
    assert course.collect_timings(repo) == {"01_data": {"quick": 17.1, "book": 35.2}, "02_baseline": {"book": 94.0}}
    assert course.collect_timings(repo, build)["02_baseline"] == {"book": 94.0, "quick": 7.6}


def test_write_timings_fills_the_marked_table(tmp_path):
    repo = _timed_repo(tmp_path)
    page = tmp_path / "instructors.md"
    page.write_text(f"# Notes\n\n{course.TIMINGS_START}\nold table\n{course.TIMINGS_END}\n\nafter\n")
    assert course.write_timings(page, repo)
    text = page.read_text()
    assert "old table" not in text and text.endswith(f"{course.TIMINGS_END}\n\nafter\n")
    assert "| Data \\| exploration (`01_data`) | 17 s | 35 s |" in text
    assert "| A baseline (`02_baseline`) | – | 1.6 min |" in text  # 94 s
    assert "| **all chapters** | **17 s (+1 not timed)** | **2.2 min** |" in text  # 35.2 + 94.0 = 129.2 s
    first = text
    assert course.write_timings(page, repo) and page.read_text() == first
    plain = tmp_path / "plain.md"
    plain.write_text("# No markers\n")
    assert not course.write_timings(plain, repo) and plain.read_text() == "# No markers\n"
    assert not course.write_timings(tmp_path / "absent.md", repo)  # a book without the page (a stand-in in tests)


def test_build_command_takes_student_flag(monkeypatch):
    from omicsnb import cli, runner

    seen = {}
    monkeypatch.setattr(runner, "build_book", lambda **kwargs: seen.update(kwargs) or [])
    assert cli.main(["build", "--profile", "quick", "--student", "--no-html"]) == 0
    assert seen["student"] is True and seen["profile"] == "quick" and seen["html"] is False
    assert cli.main(["build", "--profile", "quick", "--no-html"]) == 0 and seen["student"] is False
