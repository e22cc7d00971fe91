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


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory):
    """The whole book built once per session at the quick profile (forced, HTML with warnings as errors) in a
    scratch folder; returns its root, with ``book/*.ipynb``, ``book/results/*.json`` and ``_build/html`` inside.

    ``book_before.json`` next to the root holds the modification times of the committed ``book/*.ipynb`` taken before
    the build, so a test can check that the build never touched them. Use it only from tests marked ``slow``.
    """
    import json

    from omicsnb import runner

    base = tmp_path_factory.mktemp("quick_book")
    before = {p.name: p.stat().st_mtime_ns for p in runner.BOOK_DIR.glob("*.ipynb")}
    (base / "book_before.json").write_text(json.dumps(before))
    root = base / "quick"
    runner.build_book(profile="quick", out_root=root, force=True)
    return root


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make booktest` uses `--dist loadgroup`), every test that needs the quick book build runs
    on the same worker, so the session fixture builds it once."""
    for item in items:
        if "quick_book" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("quick_book"))
