"""The runner: parameter parsing and checks, profiles, fingerprints, atomic outputs, results tables, the CLI.

Tests that execute a notebook use tiny notebooks written into a temporary folder; each run starts one kernel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from omicsnb import cli, runner
from omicsnb.validation import OmicsInputError

PARAMS = 'n = 3  # how many items\nscale = 0.5  # a float factor\nname = "x"  # a label\nfail = False  # raise on purpose\n'
BODY = (
    "import os, sys, time\n"
    "from omicsnb.book import record\n"
    "if fail:\n    raise RuntimeError('boom on purpose')\n"
    "if marker:\n    open(marker, 'w').write(str(os.getpid()))\n"
    "time.sleep(sleep)\n"
    "record('numbers', {'n': n, 'total': n * scale, 'name': name})\n"
    "print('cwd', os.getcwd())\n"
    "print('where', os.path.abspath('x.csv'), os.path.expanduser('~/y'))\n"
    "print('a warning on stderr', file=sys.stderr)\n"
    "print('progress 10%\\rprogress 100%')\n"
    "print(n * scale)"
)
EXTRA = 'marker = ""  # file the notebook writes its pid into\nsleep = 0.0  # seconds to sleep\ndata_path = ""  # input file\n'


def _write_notebook(path: Path, params: str = PARAMS + EXTRA, n_param_cells: int = 1) -> Path:
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
    monkeypatch.setattr(runner, "BUILD_DIR", tmp_path / "_build")
    monkeypatch.setattr(runner, "NBVAL_DIR", tmp_path / "nbval")
    package = tmp_path / "pkg"  # fingerprints hash this stand-in, not omicsnb/, which may change while a test runs
    package.mkdir()
    (package / "core.py").write_text('"""A stand-in package."""\n\nANSWER = 42\n')
    (package / "__init__.py").write_text("import omicsnb.core\n")  # the tiny notebook imports omicsnb, so core.py counts
    (package / "unused.py").write_text("ANSWER = 1\n")  # imported by nothing: no notebook depends on it
    monkeypatch.setattr(runner, "PACKAGE_DIR", package)
    return tmp_path


DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from omicsnb import cli, runner
    root = Path(sys.argv[1])
    runner.NOTEBOOK_DIR, runner.PROFILE_DIR = root / "notebooks", root / "profiles"
    runner.BOOK_DIR, runner.BUILD_DIR, runner.NBVAL_DIR = root / "book", root / "_build", root / "nbval"
    sys.exit(cli.main(sys.argv[2:]))
""")


def _cli_process(book: Path, *args: str, **kwargs) -> subprocess.Popen:
    """``omicsnb ARGS`` in a subprocess, pointed at the throwaway book."""
    (book / "driver.py").write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(book / "driver.py"), str(book), *args], cwd=book, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_read_parameters_names_defaults_and_help(book):
    params = runner.read_parameters(book / "notebooks" / "01_tiny.ipynb")
    assert list(params)[:4] == ["n", "scale", "name", "fail"]
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


def test_run_writes_clean_output_results_and_skips_when_unchanged(book, capfd, monkeypatch):
    out = book / "out"
    monkeypatch.chdir(book)
    source = (book / "notebooks" / "01_tiny.ipynb").read_bytes()
    rec = runner.run_notebook("01_tiny", profile="quick", out_dir=out, progress=True)
    assert not rec.skipped and rec.parameters["n"] == 2
    err = capfd.readouterr().err
    assert "01_tiny: cell 3/3" in err and "elapsed" in err  # one updating progress line ...
    assert "\n" not in err  # ... redrawn in place (carriage returns), not one line per cell
    assert "without encryption" not in err  # the kernel's TCP warning is gone (its channels are encrypted)
    nb = nbformat.read(out / "01_tiny.ipynb", as_version=4)
    text = nbformat.writes(nb)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("name") == "stderr"], "stderr outputs are stripped"
    stdout = "".join(o.text for o in outputs if o.get("name") == "stdout")
    assert "cwd .\n" in stdout and "where x.csv ~/y\n" in stdout, stdout  # no machine paths ...
    for path in (runner.REPO_ROOT, book, Path.home(), "/tmp"):
        assert str(path) not in text, f"{path} leaked into the saved notebook"
    assert "progress 10%" not in stdout and "progress 100%" in stdout  # carriage-return residue is gone
    assert nb.metadata.language_info.name == "python"
    assert "papermill" not in nb.metadata
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in nb.cells)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "hide-cell" in injected[0].metadata["tags"]
    assert nb.metadata["omicsnb"]["fingerprint"] == rec.fingerprint
    results = json.loads((out / "results" / "01_tiny.json").read_text())
    assert results["profile"] == "quick" and results["tables"]["numbers"] == [{"n": 2, "total": 1.0, "name": "x"}]
    assert (book / "notebooks" / "01_tiny.ipynb").read_bytes() == source  # the source is never written to
    runs = json.loads((out / "results" / "_runs.json").read_text())
    assert runs["01_tiny"]["fingerprint"] == rec.fingerprint and runs["01_tiny"]["wall_time_s"] > 0  # run logs too
    assert not list((book / "_build" / "tmp").iterdir())

    again = runner.run_notebook("01_tiny", profile="quick", out_dir=out, quiet=True)
    assert again.skipped and again.fingerprint == rec.fingerprint
    changed = runner.run_notebook("01_tiny", profile="quick", overrides={"n": 4}, out_dir=out, quiet=True)
    assert not changed.skipped and changed.fingerprint != rec.fingerprint


def test_failed_run_keeps_last_good_output(book, capfd, monkeypatch):
    out = book / "out"
    monkeypatch.setattr(runner, "PROGRESS_LOG_EVERY_S", 0.3)
    runner.run_notebook("01_tiny", profile="quick", out_dir=out, overrides={"sleep": 1.5})
    err = capfd.readouterr().err  # not a terminal: the progress line is printed now and then, not redrawn
    assert "[omicsnb] 01_tiny: cell 3/3, 00:0" in err and "\r" not in err and err.count("\n") >= 2
    good = (out / "01_tiny.ipynb").read_bytes()
    good_results = (out / "results" / "01_tiny.json").read_bytes()
    with pytest.raises(runner.OmicsRunError, match="01_tiny failed.*kept at"):
        runner.run_notebook("01_tiny", profile="quick", overrides={"fail": True}, out_dir=out, quiet=True)
    assert (out / "01_tiny.ipynb").read_bytes() == good
    assert (out / "results" / "01_tiny.json").read_bytes() == good_results
    assert (book / "_build" / "failed" / "01_tiny.ipynb").exists()  # failed copies live under _build/, not next to the book
    assert not list((book / "_build" / "tmp").iterdir())  # no temporary folder left behind
    assert sorted(p.name for p in out.iterdir()) == ["01_tiny.ipynb", "results"]


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


# --- interrupts, leftovers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_gives_one_line_stops_the_kernel_and_leaves_nothing(book, signum):
    marker = book / "kernel.pid"
    proc = _cli_process(book, "run", "01_tiny", "--profile", "quick", "-p", "sleep", "120", "-p", "marker", str(marker))
    deadline = time.time() + 120
    while not (marker.exists() and marker.read_text()):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.1)
    kernel = int(marker.read_text())
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "interrupted: 01_tiny not written; nothing changed", err
    for _ in range(50):
        if not _alive(kernel):
            break
        time.sleep(0.1)
    assert not _alive(kernel), "the kernel was not shut down"
    assert not list((book / "_build" / "tmp").iterdir()), "the temporary folder was not removed"
    out_dir = book / "_build" / "profiles" / "quick" / "book"
    assert not out_dir.exists(), "an interrupted first run leaves no (empty) output folder behind"


def test_next_run_removes_what_a_killed_run_left_behind(book, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs, as after a SIGKILL
    out = book / "out"
    leftover = book / "_build" / "tmp" / "01_tiny-killed"
    leftover.mkdir(parents=True)
    (leftover / "owner.json").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
    (leftover / "01_tiny.ipynb").write_text("{}")
    live = book / "_build" / "tmp" / "01_tiny-running"
    live.mkdir()
    (live / "owner.json").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    (out / "results").mkdir(parents=True)
    half = out / "results" / f"._runs.json.{dead.pid}.abc123.tmp"
    half.write_text("{")
    old_style = [out / ".01_tiny-x1y2", out / ".failed"]  # what the previous runner left inside book/
    for folder in old_style:
        folder.mkdir()
    removed = runner.sweep_leftovers(out)
    assert set(removed) == {leftover, half, *old_style}
    assert live.exists(), "a folder of a run still in progress is kept"
    assert not leftover.exists() and not half.exists() and not any(p.exists() for p in old_style)


def test_sigkill_leftover_is_removed_by_the_next_cli_run(book):
    marker = book / "kernel.pid"
    proc = _cli_process(book, "run", "01_tiny", "--profile", "quick", "-p", "sleep", "120", "-p", "marker", str(marker))
    deadline = time.time() + 120
    while not (marker.exists() and marker.read_text()):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.1)
    kernel = int(marker.read_text())
    proc.kill()
    proc.communicate(timeout=30)
    try:
        for _ in range(200):  # the orphaned kernel notices that its parent is gone and exits by itself
            if not _alive(kernel):
                break
            time.sleep(0.1)
        assert not _alive(kernel), "the kernel outlived the killed run"
    finally:
        if _alive(kernel):
            os.kill(kernel, signal.SIGKILL)
    left = list((book / "_build" / "tmp").iterdir())
    assert len(left) == 1, "SIGKILL leaves the scratch folder behind"
    again = _cli_process(book, "run", "01_tiny", "--profile", "quick")
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert "removed 1 leftover" in out and not left[0].exists()
    assert not list((book / "_build" / "tmp").iterdir())


# --- bookkeeping ----------------------------------------------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
from omicsnb import runner
path, worker = Path(sys.argv[1]), int(sys.argv[2])
for j in range(50):
    runner.log_runs(path, [runner.RunRecord(f"w{worker}_{j}", "quick", path, False, 0.5, "f")])
"""


def test_run_log_keeps_every_entry_under_eight_concurrent_writers(tmp_path):
    path = tmp_path / "results" / "_runs.json"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(i)], stderr=subprocess.PIPE, text=True)
             for i in range(8)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    log = json.loads(path.read_text())
    assert len(log) == 400 and log["w7_49"] == {"profile": "quick", "wall_time_s": 0.5, "fingerprint": "f"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["._runs.json.lock", "_runs.json"]  # no temp files left


def test_corrupt_run_log_is_rebuilt_from_the_notebooks_and_says_so(tmp_path, capsys):
    book_dir = tmp_path / "book"
    (book_dir / "results").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["omicsnb"] = {"fingerprint": "abc", "profile": "book", "wall_time_s": 12.5}
    nbformat.write(nb, book_dir / "01_old.ipynb")
    path = book_dir / "results" / "_runs.json"
    path.write_text('{"01_old": {"prof')  # truncated
    runner.log_runs(path, [runner.RunRecord("02_new", "book", path, False, 3.0, "def")])
    assert json.loads(path.read_text()) == {
        "01_old": {"profile": "book", "wall_time_s": 12.5, "fingerprint": "abc"},
        "02_new": {"profile": "book", "wall_time_s": 3.0, "fingerprint": "def"},
    }
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "_runs.json was not valid JSON; rebuilt it" in err


def _unwritable(folder: Path):
    """Make ``folder`` read-only; return a command prefix under which that holds even for root (or skip)."""
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a read-only folder is still writable")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.mark.parametrize("which", ["out", "results"])
def test_unwritable_output_is_refused_in_one_line_before_anything_runs(book, which):
    out = book / "out"
    (out / "results").mkdir(parents=True)
    prefix = _unwritable(out if which == "out" else out / "results")
    marker = book / "ran"
    (book / "driver.py").write_text(DRIVER)
    try:
        res = subprocess.run([*prefix, sys.executable, str(book / "driver.py"), str(book), "run", "01_tiny", "--out", str(out),
                              "-p", "marker", str(marker)], capture_output=True, text=True, timeout=120, cwd=book)
    finally:
        (out / "results").chmod(0o755)
        out.chmod(0o755)
    assert res.returncode == 2
    err = res.stderr.strip()
    assert "\n" not in err and err.startswith("omicsnb: error: cannot write to the") and "Permission denied" in err, err
    assert not marker.exists(), "the notebook ran before the refusal"


def test_output_folder_that_cannot_be_created_is_refused(book, capsys):
    (book / "afile").write_text("not a folder")
    assert cli.main(["run", "01_tiny", "--out", str(book / "afile" / "sub")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot write to the output folder" in err


# --- fingerprints, status, own data ---------------------------------------------------------------------------------


def test_code_digest_ignores_docstrings_and_comments_but_not_code():
    base = runner.code_digest('"""Module."""\ndef f(x):\n    """Doc."""\n    return x + 1  # add one\n')
    assert base == runner.code_digest('"""Other words."""\ndef f(x):\n    # a comment\n    return x + 1\n')
    assert base == runner.code_digest("def f(x):\n    return (x +\n            1)\n")
    assert base != runner.code_digest("def f(x):\n    return x + 2\n")
    assert runner.code_digest("class A:\n    'doc'\n") == runner.code_digest("class A:\n    pass\n")


def test_fingerprint_follows_the_content_of_input_files(book, monkeypatch):
    monkeypatch.chdir(book)
    spec = runner.get_notebook("01_tiny")
    data = book / "mine.csv"
    data.write_text("a,b\n1,2\n")
    params = runner.validate_parameters(spec, {"data_path": "mine.csv"})
    first = runner.fingerprint(spec, params)
    assert runner.fingerprint(spec, params) == first
    data.write_text("a,b\n1,3\n")
    assert runner.fingerprint(spec, params) != first, "editing the data file must change the fingerprint"
    assert runner.input_files({"data_path": "mine.csv", "out_path": "x.csv", "label_column": "type"}) == {
        "data_path": Path("mine.csv")}
    assert runner.own_data_files(spec, runner.validate_parameters(spec, {})) == {}
    folder = book / "views"  # a folder of input files counts too, by the content of every file in it
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.csv").write_text("1")
    before = runner._file_digest(folder)
    (folder / "sub" / "a.csv").write_text("2")
    assert runner._file_digest(folder) != before and runner._file_digest(book / "absent.csv") is None


def test_own_data_run_goes_to_build_runs_and_never_into_book(book, monkeypatch):
    monkeypatch.chdir(book)
    (book / "my cohort.csv").write_text("a,b\n1,2\n")
    with pytest.raises(OmicsInputError, match="never goes into book/"):
        runner.run_notebook("01_tiny", overrides={"data_path": "my cohort.csv"}, out_dir=book / "book", quiet=True)
    with pytest.raises(OmicsInputError, match="parameter 'data_path' of 01_tiny: no file at nothere.csv"):
        runner.run_notebook("01_tiny", overrides={"data_path": "nothere.csv"}, quiet=True)
    rec = runner.run_notebook("01_tiny", overrides={"data_path": "my cohort.csv"}, quiet=True)
    assert rec.output == book / "_build" / "runs" / "my_cohort" / "book" / "01_tiny.ipynb" and rec.output.exists()
    assert not (book / "book").exists()
    named = runner.run_notebook("01_tiny", overrides={"data_path": "my cohort.csv"}, run_name="pbmc", quiet=True)
    assert named.output == book / "_build" / "runs" / "pbmc" / "book" / "01_tiny.ipynb"
    (book / "my cohort.csv").write_text("a,b\n1,3\n")
    again = runner.run_notebook("01_tiny", overrides={"data_path": "my cohort.csv"}, run_name="pbmc", quiet=True)
    assert not again.skipped, "a changed data file reruns the notebook"


def test_status_lists_stale_notebooks_and_why(book, capsys):
    runner.run_notebook("01_tiny", profile="book", quiet=True)
    assert cli.main(["status", str(book / "book")]) == 0
    assert "book/01_tiny.ipynb: up to date" in capsys.readouterr().out.replace(str(book) + "/", "")
    core = book / "pkg" / "core.py"
    original = core.read_text()
    core.write_text('"""Reworded docstring."""\n\n# and a comment\nANSWER = 42\n')
    assert runner.stale_reasons(book / "book" / "01_tiny.ipynb") == []  # docstrings and comments do not count
    core.write_text(original.replace("42", "43"))
    assert runner.stale_reasons(book / "book" / "01_tiny.ipynb") == ["the omicsnb code changed (core.py)"]
    core.write_text(original)
    (book / "pkg" / "unused.py").write_text("ANSWER = 2\n")
    assert runner.stale_reasons(book / "book" / "01_tiny.ipynb") == []  # code the notebook cannot run does not count
    (book / "profiles" / "book.yml").write_text(yaml.safe_dump({"notebooks": {"01_tiny": {"n": 5}}}))
    nb = nbformat.read(book / "notebooks" / "01_tiny.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('new')"))
    nbformat.write(nb, book / "notebooks" / "01_tiny.ipynb")
    assert cli.main(["status", str(book / "book")]) == 1
    out = capsys.readouterr().out
    assert "01_tiny.ipynb: stale: its source notebook changed; its parameters differ from profile 'book': n=3 (profile: 5)" in out
    assert "1 of 1 notebooks are stale" in out
    _write_notebook(book / "notebooks" / "02_new.ipynb")
    assert (book / "book" / "02_new.ipynb", ["it has never been run into this folder"]) in runner.stale_notebooks()
    executed = nbformat.read(book / "book" / "01_tiny.ipynb", as_version=4)
    executed.metadata.omicsnb.fingerprint_parts["package"] = "edited"
    executed.metadata.omicsnb.fingerprint_parts["package_files"]["core.py"] = "edited"
    nbformat.write(executed, book / "book" / "01_tiny.ipynb")
    assert "the omicsnb code changed (core.py)" in runner.stale_reasons(book / "book" / "01_tiny.ipynb")
    old = nbformat.v4.new_notebook()
    nbformat.write(old, book / "book" / "01_tiny.ipynb")
    assert runner.stale_reasons(book / "book" / "01_tiny.ipynb") == [
        "it was written by an older runner (no fingerprint parts); rerun it"]


# --- building ---------------------------------------------------------------------------------------------------------


def test_build_says_what_it_skips_and_force_reruns(book, capsys):
    first = runner.build_book(profile="quick", out_root=book / "scratch", html=False)
    assert [r.skipped for r in first] == [False]
    capsys.readouterr()
    again = runner.build_book(profile="quick", out_root=book / "scratch", html=False)
    out = capsys.readouterr().out
    assert [r.skipped for r in again] == [True] and "01_tiny: skipped (unchanged" in out and "FORCE=1" in out
    forced = runner.build_book(profile="quick", out_root=book / "scratch", html=False, force=True)
    assert [r.skipped for r in forced] == [False]


def test_make_book_force_passes_force_to_build():
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    plain = subprocess.run([make, "-n", "book"], cwd=runner.REPO_ROOT, capture_output=True, text=True).stdout
    forced = subprocess.run([make, "-n", "book", "FORCE=1"], cwd=runner.REPO_ROOT, capture_output=True, text=True).stdout
    assert "omicsnb build --profile book" in plain and "--force" not in plain
    assert "omicsnb build --profile book --force" in forced
    off = subprocess.run([make, "-n", "book", "FORCE=0"], cwd=runner.REPO_ROOT, capture_output=True, text=True).stdout
    assert "--force" not in off
    status = subprocess.run([make, "-n", "test"], cwd=runner.REPO_ROOT, capture_output=True, text=True).stdout
    assert "omicsnb status" in status


def test_build_parameters_apply_to_every_chapter_that_has_them(book, capsys):
    _write_notebook(book / "notebooks" / "02_other.ipynb", params='n = 1  # n\nother = 0  # only here\n')
    specs = runner.discover_notebooks()
    spread = runner.shared_parameters(specs, list(specs), {"n": "7", "sleep": "0.5"})
    assert spread == {"01_tiny": {"n": 7, "sleep": 0.5}, "02_other": {"n": 7}}
    with pytest.raises(OmicsInputError, match="no chapter in this build has a parameter 'slep'; did you mean 'sleep'"):
        runner.shared_parameters(specs, list(specs), {"slep": "1"})
    with pytest.raises(OmicsInputError, match="no chapter in this build has a parameter 'other'"):
        runner.shared_parameters(specs, ["01_tiny"], {"other": "1"})
    assert cli.main(["build", "--profile", "quick", "-p", "nn", "1", "--no-html"]) == 2
    assert "no chapter in this build has a parameter 'nn'" in capsys.readouterr().err
    (book / "data.yml").write_text(yaml.safe_dump({"name": "cohort", "parameters": {"n": 4}, "notebooks": {"02_other": {"other": 2}}}))
    name, per = runner.load_data_profile(book / "data.yml", specs, list(specs))
    assert name == "cohort" and per == {"01_tiny": {"n": 4}, "02_other": {"n": 4, "other": 2}}
    (book / "bad.yml").write_text(yaml.safe_dump({"parameter": {"n": 4}}))
    with pytest.raises(OmicsInputError, match="unknown key 'parameter'; did you mean 'parameters'"):
        runner.load_data_profile(book / "bad.yml", specs, list(specs))


def test_own_data_build_goes_to_build_runs(book, monkeypatch):
    monkeypatch.chdir(book)
    (book / "cells.csv").write_text("a,b\n1,2\n")
    records = runner.build_book(params={"data_path": "cells.csv"}, html=False, progress=False)
    root = book / "_build" / "runs" / "cells"
    assert records[0].output == root / "book" / "01_tiny.ipynb" and records[0].output.exists()
    assert (root / "_toc.yml").exists() and not (book / "book" / "01_tiny.ipynb").exists()


def test_only_builds_a_table_of_contents_of_just_those_chapters():
    specs = runner.discover_notebooks()
    names = list(specs)
    toc = runner.filtered_toc([names[0]], specs)
    files = json.dumps(toc)
    assert f"book/{names[0]}" in files and all(f"book/{n}\"" not in files for n in names[1:])
    assert all(part["chapters"] for part in toc.get("parts", []))  # no empty part
    assert "book/running" in files  # prose pages stay
    text = "See {doc}`01_data` and {doc}`the baseline <02_baseline>` and {doc}`running`."
    missing = {"02_baseline": "Baseline"}
    assert runner._unlink_missing_docs(text, missing) == (
        "See {doc}`01_data` and *the baseline* and {doc}`running`.")
    assert runner._unlink_missing_docs("{doc}`02_baseline`", missing) == "*Baseline*"


def test_build_interrupt_says_what_was_kept(book, monkeypatch):
    _write_notebook(book / "notebooks" / "02_other.ipynb")
    calls = []

    def fake_run(name, **kwargs):
        calls.append(name)
        if name == "02_other":
            raise runner.RunInterrupted("02_other not written; nothing changed")
        return runner.RunRecord(name, "quick", Path(name), False, 1.0, "f")

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    with pytest.raises(runner.RunInterrupted) as info:
        runner.build_book(profile="quick", out_root=book / "scratch", html=True)
    assert str(info.value) == "02_other not written; 01_tiny ran before it and is kept; the HTML was not built"
    assert calls == ["01_tiny", "02_other"]


def test_run_with_several_notebooks_spreads_parameters(book, monkeypatch, capsys):
    _write_notebook(book / "notebooks" / "02_other.ipynb", params='n = 1  # n\nother = 0  # only here\n')
    ran = {}
    monkeypatch.setattr(runner, "run_notebook", lambda name, **kw: ran.update({name: kw["overrides"]}))
    assert cli.main(["run", "--all", "--profile", "quick", "-p", "sleep", "0.5", "-p", "other", "2"]) == 0
    assert ran == {"01_tiny": {"sleep": 0.5}, "02_other": {"other": 2}}
    ran.clear()
    assert cli.main(["run", "01_tiny", "02_other", "-p", "nope", "1"]) == 2
    assert "no chapter in this build has a parameter 'nope'" in capsys.readouterr().err and not ran
    assert cli.main(["run", "01_tiny", "02_other", "-p", "other", "two"]) == 2
    assert "'other' of 02_other expects int" in capsys.readouterr().err and not ran


def test_clean_outputs_strips_stderr_widgets_and_paths_but_not_images(tmp_path):
    home, repo = str(Path.home()), str(runner.REPO_ROOT)
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"state": {}}
    nb.metadata["omicsnb"] = {"parameters": {"data_path": f"{repo}/data/x.csv"}}
    image = "iVBORw0KGgo/tmp/AAAA" + repo  # base64 text is never rewritten
    cell = nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text=f"{repo}/omicsnb/a.py:3: UserWarning\n"),
        nbformat.v4.new_output("stream", name="stdout", text=f"  0%|\r 50%|\r100%| done\nsaved {home}/out.csv\n"),
        nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "1"}}),
        nbformat.v4.new_output("display_data", data={"image/png": image, "text/plain": f"<Figure at {tmp_path}>"}),
        nbformat.v4.new_output("error", ename="OSError", evalue=f"no {repo}/x", traceback=[f"File {repo}/omicsnb/b.py"]),
    ])
    nb.cells.append(cell)
    runner.clean_outputs(nb, extra_paths=[tmp_path])
    outs = nb.cells[0].outputs
    assert [o.output_type for o in outs] == ["stream", "display_data", "error"]
    assert outs[0].text == "100%| done\nsaved ~/out.csv\n"
    assert outs[1].data["image/png"] == image and outs[1].data["text/plain"] == "<Figure at <tmp>>"
    assert outs[2].evalue == "no x" and outs[2].traceback == ["File omicsnb/b.py"]
    assert "widgets" not in nb.metadata and nb.metadata.omicsnb.parameters.data_path == "data/x.csv"
