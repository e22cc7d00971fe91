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
