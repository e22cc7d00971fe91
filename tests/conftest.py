"""Shared test settings."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The test networks are tiny: one torch thread is as fast, and immune to slow-downs when other processes share
    the CPU (two threads on a busy 2-core machine can be ten times slower)."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def splits():
    """A small simulated cohort in the book's standard splits, shared by the self-supervised method tests."""
    from omicsnb.data import load_or_simulate, prepare_classification

    source = load_or_simulate(n_samples=400, n_genes=2000, n_programmes=12, progress=False)
    return prepare_classification(source, n_finetune=100, n_test=100, n_hvg=300)


#: Set by ``make nbval``: the folder where each quick-profile notebook that nbval executes records its results
#: (``<folder>/<notebook>.json``), so that ``make booktest`` compares fresh numbers with the committed references
#: without executing the notebooks a second time (see :func:`quick_results`).
NBVAL_RESULTS_ENV = "OMICSNB_NBVAL_RESULTS"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Under ``make nbval``, point each notebook's kernel at the results folder before nbval starts it (the kernel
    inherits this process's environment), so that :func:`omicsnb.book.record` writes its tables there."""
    import os
    from pathlib import Path

    folder = os.environ.get(NBVAL_RESULTS_ENV)
    path = Path(str(getattr(item, "fspath", "")))
    if folder and path.suffix == ".ipynb":
        from omicsnb import runner

        Path(folder).mkdir(parents=True, exist_ok=True)
        os.environ[runner.RESULTS_ENV] = folder
        os.environ[runner.NOTEBOOK_ENV] = path.stem


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory):
    """The whole quick-profile book rendered once per session (HTML, warnings as errors) in a scratch folder, from
    the committed quick-profile notebooks (``tests/nbval``): the build skips every notebook whose fingerprint still
    matches (``make status`` checks that they do) and reruns any that does not. Returns the root, with
    ``book/*.ipynb``, ``book/results/*.json`` and ``_build/html`` inside.

    ``book_before.json`` next to the root holds the modification times of the committed ``book/*.ipynb`` taken before
    the build, so a test can check that the build never touched them. Use it only from tests marked ``slow``.
    """
    import json
    import shutil

    from omicsnb import runner

    base = tmp_path_factory.mktemp("quick_book")
    before = {p.name: p.stat().st_mtime_ns for p in runner.BOOK_DIR.glob("*.ipynb")}
    (base / "book_before.json").write_text(json.dumps(before))
    root = base / "quick"
    committed = runner.REPO_ROOT / "tests" / "nbval"
    (root / "book" / "results").mkdir(parents=True)
    for path in committed.glob("*.ipynb"):
        shutil.copy2(path, root / "book" / path.name)
    for path in (committed / "results").glob("*.json"):
        shutil.copy2(path, root / "book" / "results" / path.name)
    base_records = runner.build_book(profile="quick", out_root=root, force=False)
    (base / "records.json").write_text(json.dumps({r.name: r.skipped for r in base_records}))
    return root


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory):
    """A folder of freshly computed quick-profile results (``<notebook>.json`` per chapter).

    Under ``make test`` these are the tables that the nbval stage's kernels recorded (``OMICSNB_NBVAL_RESULTS``):
    the notebooks are executed once, by nbval. Run alone, the fixture executes every chapter at the quick profile
    itself (forced, no HTML).
    """
    import os
    from pathlib import Path

    from omicsnb import runner

    folder = os.environ.get(NBVAL_RESULTS_ENV)
    if folder:
        folder = Path(folder)
        missing = [n for n in runner.discover_notebooks() if not (folder / f"{n}.json").exists()]
        if missing:
            pytest.fail(f"{NBVAL_RESULTS_ENV}={folder} lacks results of {missing}: run `make nbval` first, or unset it")
        return folder
    root = tmp_path_factory.mktemp("quick_results")
    runner.build_book(profile="quick", out_root=root, force=True, html=False)
    return root / "book" / "results"


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make booktest` uses `--dist loadgroup`), every test that needs the quick book build runs
    on the same worker, so the session fixture builds it once; the same for the book on the PBMC example."""
    for item in items:
        for shared in ("quick_book", "pbmc_book"):  # session/module builds: one worker each
            if shared in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(shared))
