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
