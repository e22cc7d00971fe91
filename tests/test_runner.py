"""The runner: parameter parsing and checks, profiles, fingerprints, atomic outputs, results tables, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from omicsnb import cli, runner
from omicsnb.validation import OmicsInputError

PARAMS = 'n = 3  # how many items\nscale = 0.5  # a float factor\nname = "x"  # a label\nfail = False  # raise on purpose\n'
BODY = (
    "from omicsnb.book import record\n"
    "if fail:\n    raise RuntimeError('boom on purpose')\n"
    "record('numbers', {'n': n, 'total': n * scale, 'name': name})\n"
    "print(n * scale)"
)


def _write_notebook(path: Path, params: str = PARAMS, n_param_cells: int = 1) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["omicsnb"] = {"description": "a tiny test notebook"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# Tiny"))
    for _ in range(n_param_cells):
        nb.cells.append(nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells.append(nbformat.v4.new_code_cell(BODY))
    nbformat.write(nb, path)
    return path


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A throwaway notebooks/ + profiles/ pair the runner is pointed at."""
    nbdir, profdir = tmp_path / "notebooks", tmp_path / "profiles"
    nbdir.mkdir()
    profdir.mkdir()
    _write_notebook(nbdir / "01_tiny.ipynb")
    (profdir / "quick.yml").write_text(yaml.safe_dump({"notebooks": {"01_tiny": {"n": 2}}}))
    (profdir / "book.yml").write_text(yaml.safe_dump({"notebooks": {"01_tiny": {}}}))
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", nbdir)
    monkeypatch.setattr(runner, "PROFILE_DIR", profdir)
    monkeypatch.setattr(runner, "BOOK_DIR", tmp_path / "book")
    return tmp_path


def test_read_parameters_names_defaults_and_help(book):
    params = runner.read_parameters(book / "notebooks" / "01_tiny.ipynb")
    assert list(params) == ["n", "scale", "name", "fail"]
    assert params["n"].default == 3 and params["n"].help == "how many items"
    assert params["scale"].type_name == "float"
    assert params["name"].default == "x"


def test_parameters_cell_must_be_unique_and_literal(tmp_path):
    with pytest.raises(OmicsInputError, match="2 cells tagged 'parameters'"):
        runner.read_parameters(_write_notebook(tmp_path / "two.ipynb", n_param_cells=2))
    with pytest.raises(OmicsInputError, match="not 'name = literal"):
        runner.read_parameters(_write_notebook(tmp_path / "expr.ipynb", params="n = len([1, 2])  # computed\n"))


def test_unknown_parameter_is_rejected_with_suggestion(book):
    spec = runner.get_notebook("01_tiny")
    with pytest.raises(OmicsInputError, match=r"unknown parameter 'scal'.*did you mean 'scale'.*valid names: n, scale"):
        runner.validate_parameters(spec, {"scal": 1.0})


def test_wrong_type_is_rejected_but_int_for_float_is_fine(book):
    spec = runner.get_notebook("01_tiny")
    with pytest.raises(OmicsInputError, match="'n' of 01_tiny expects int"):
        runner.validate_parameters(spec, {"n": "three"})
    with pytest.raises(OmicsInputError, match="expects bool"):
        runner.validate_parameters(spec, {"fail": 1})
    with pytest.raises(OmicsInputError, match="expects int"):
        runner.validate_parameters(spec, {"n": True})
    assert runner.validate_parameters(spec, {"scale": 2})["scale"] == 2


def test_cli_values_are_parsed_against_the_parameter_type(book):
    spec = runner.get_notebook("01_tiny")
    assert runner.parse_cli_value(spec, "n", "7") == 7
    assert runner.parse_cli_value(spec, "scale", "0.25") == 0.25
    assert runner.parse_cli_value(spec, "name", "123") == "123"  # a string parameter keeps the raw text
    assert runner.parse_cli_value(spec, "fail", "true") is True


def test_unknown_notebook_and_profile(book):
    with pytest.raises(OmicsInputError, match="unknown notebook '01_tiy'; did you mean '01_tiny'"):
        runner.get_notebook("01_tiy")
    with pytest.raises(OmicsInputError, match="unknown profile 'quik'; did you mean 'quick'"):
        runner.load_profile("quik")
    (book / "profiles" / "bad.yml").write_text(yaml.safe_dump({"notebooks": {"01_tiny": {"nn": 1}}}))
    with pytest.raises(OmicsInputError, match="unknown parameter 'nn'"):
        runner.load_profile("bad")


def test_run_writes_clean_output_results_and_skips_when_unchanged(book):
    out = book / "out"
    source = (book / "notebooks" / "01_tiny.ipynb").read_bytes()
    rec = runner.run_notebook("01_tiny", profile="quick", out_dir=out, quiet=True)
    assert not rec.skipped and rec.parameters["n"] == 2
    nb = nbformat.read(out / "01_tiny.ipynb", as_version=4)
    assert "papermill" not in nb.metadata
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in nb.cells)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "hide-cell" in injected[0].metadata["tags"]
    assert nb.metadata["omicsnb"]["fingerprint"] == rec.fingerprint
    results = json.loads((out / "results" / "01_tiny.json").read_text())
    assert results["profile"] == "quick" and results["tables"]["numbers"] == [{"n": 2, "total": 1.0, "name": "x"}]
    assert (book / "notebooks" / "01_tiny.ipynb").read_bytes() == source  # the source is never written to

    again = runner.run_notebook("01_tiny", profile="quick", out_dir=out, quiet=True)
    assert again.skipped and again.fingerprint == rec.fingerprint
    changed = runner.run_notebook("01_tiny", profile="quick", overrides={"n": 4}, out_dir=out, quiet=True)
    assert not changed.skipped and changed.fingerprint != rec.fingerprint


def test_failed_run_keeps_last_good_output(book):
    out = book / "out"
    runner.run_notebook("01_tiny", profile="quick", out_dir=out, quiet=True)
    good = (out / "01_tiny.ipynb").read_bytes()
    good_results = (out / "results" / "01_tiny.json").read_bytes()
    with pytest.raises(runner.OmicsRunError, match="01_tiny failed.*kept at"):
        runner.run_notebook("01_tiny", profile="quick", overrides={"fail": True}, out_dir=out, quiet=True)
    assert (out / "01_tiny.ipynb").read_bytes() == good
    assert (out / "results" / "01_tiny.json").read_bytes() == good_results
    assert (out / ".failed" / "01_tiny.ipynb").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".01_tiny-")]  # no temporary folder left behind


def test_refuses_to_write_into_the_sources(book):
    with pytest.raises(OmicsInputError, match="notebooks/, the stripped sources"):
        runner.run_notebook("01_tiny", out_dir=book / "notebooks", quiet=True)


def test_cli_reports_bad_parameters_in_one_line(book, capsys):
    assert cli.main(["run", "01_tiny", "-p", "nn", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("omicsnb: error: unknown parameter 'nn'") and "\n" not in err


def test_cli_list_shows_parameters_and_descriptions(book, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "01_tiny: a tiny test notebook" in out
    assert "how many items" in out and "scale" in out


def test_real_profiles_match_the_real_notebooks():
    """Every profile names real notebooks and valid parameters; the book profile is the parameters-cell defaults."""
    specs = runner.discover_notebooks()
    assert specs, "the book has notebooks"
    for profile in ("quick", "book", "paper"):
        values = runner.load_profile(profile, specs)
        assert set(values) == set(specs)
    for name, overrides in runner.load_profile("book", specs).items():
        defaults = {k: p.default for k, p in specs[name].parameters.items()}
        assert all(defaults[k] == v for k, v in overrides.items()), f"book.yml disagrees with {name}'s parameters cell"


def test_source_notebooks_are_stripped_and_described():
    for spec in runner.discover_notebooks().values():
        nb = nbformat.read(spec.path, as_version=4)
        assert spec.description, f"{spec.name} needs metadata.omicsnb.description"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{spec.name} has stored outputs"


def test_bench_rejects_unknown_target(capsys):
    assert cli.main(["bench", "simulatr"]) == 2
    assert "unknown benchmark 'simulatr'" in capsys.readouterr().err
