"""omicsnb.data.streaming: chunked HDF5/parquet reading, the chunk-shuffled order through fit_loop(batches=), VIME
pretraining from disk equal to in-memory training with the same order, bad input, and ``omicsnb bench streaming
--small``."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from omicsnb.data.streaming import StreamingMatrix, write_hdf5_matrix
from omicsnb.models.vime import VIMESelf
from omicsnb.training import fit_loop, iterate_minibatches
from omicsnb.validation import OmicsInputError


def _matrix(n=90, d=12, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


@pytest.fixture
def h5(tmp_path):
    X = _matrix()
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("data/expression", data=X.T)  # genes x samples, as ARCHS4
        fh.create_dataset("meta/labels", data=np.array([b"a", b"b"]))
        fh.create_dataset("meta/names", data=np.array([[b"x", b"y"]]))
    return path, X


def _vime(**kw):
    return VIMESelf(hidden=(16, 8), batch_size=16, epochs=3, lr=1e-3, val_fraction=0.2, seed=3, progress=False, **kw)


# -- reading -----------------------------------------------------------------------------------------------------------
def test_hdf5_both_orientations_read_the_same_rows(tmp_path, h5):
    path, X = h5
    src = StreamingMatrix(path, "data/expression", orientation="genes_x_samples", chunk_rows=25)
    assert src.shape == X.shape and len(src) == 90
    assert src.chunk_bounds == [(0, 25), (25, 50), (50, 75), (75, 90)]
    np.testing.assert_array_equal(src.to_numpy(), X)
    np.testing.assert_array_equal(src.read(20, 31), X[20:31])
    rows = [88, 3, 26, 27, 3]
    np.testing.assert_array_equal(src.take(rows), X[rows])
    other = tmp_path / "s.h5"
    with h5py.File(other, "w") as fh:
        fh.create_dataset("X", data=X.astype(np.float64))
    alone = StreamingMatrix(other, chunk_rows=40)  # the only 2-D dataset is found by itself
    assert alone.dataset == "X"
    np.testing.assert_array_equal(alone.take(rows), X[rows])
    assert sum(block.shape[0] for _, block in alone.iter_chunks()) == 90


def test_parquet_by_row_groups_and_by_columns(tmp_path):
    X = _matrix(50, 6)
    frame = pd.DataFrame(X, columns=[f"g{j}" for j in range(6)])
    path = tmp_path / "m.parquet"
    frame.assign(sample=[f"s{i}" for i in range(50)]).to_parquet(path, row_group_size=16)
    with pytest.raises(OmicsInputError, match=r"^columns: 'sample' .* not numbers"):
        StreamingMatrix(path)
    src = StreamingMatrix(path, columns=[f"g{j}" for j in range(6)])
    assert src.chunk_bounds == [(0, 16), (16, 32), (32, 48), (48, 50)]
    np.testing.assert_array_equal(src.read(10, 40), X[10:40])
    np.testing.assert_array_equal(src.take([49, 0, 17]), X[[49, 0, 17]])
    wide = tmp_path / "w.parquet"
    pd.DataFrame(X.T, columns=[f"s{i}" for i in range(50)]).to_parquet(wide)
    by_column = StreamingMatrix(wide, orientation="genes_x_samples", chunk_rows=7)
    assert by_column.shape == (50, 6)
    np.testing.assert_array_equal(by_column.take([5, 44]), X[[5, 44]])


def test_chunk_cache_reads_each_chunk_once_per_pass(h5):
    path, X = h5
    src = StreamingMatrix(path, "data/expression", orientation="genes_x_samples", chunk_rows=25)
    train = np.arange(0, 90, 2)
    cache = src.cache(train)
    gen = torch.Generator().manual_seed(0)
    seen = []
    for idx in src.epoch_batches(train, 8, gen):
        np.testing.assert_array_equal(cache.rows(idx.numpy()), X[train[idx.numpy()]])
        seen.extend(idx.tolist())
    assert sorted(seen) == list(range(len(train)))
    assert cache.reads == 4  # sequential by chunk: every chunk read once


def test_chunk_order_is_seeded_shuffled_and_chunkwise(h5):
    path, _ = h5
    src = StreamingMatrix(path, "data/expression", orientation="genes_x_samples", chunk_rows=10)
    train = np.arange(90)

    def order(seed):
        return torch.cat(list(src.epoch_batches(train, 7, torch.Generator().manual_seed(seed)))).numpy()

    first = order(1)
    np.testing.assert_array_equal(first, order(1))
    assert not np.array_equal(first, order(2))
    chunks = first // 10
    assert (np.diff(chunks) != 0).sum() == 8  # nine chunks, each visited in one stretch
    assert list(dict.fromkeys(chunks.tolist())) != list(range(9))  # chunk order shuffled
    assert not np.array_equal(first[:10], np.sort(first[:10]))  # within a chunk too


def test_one_chunk_and_global_orders_are_the_in_memory_loops(h5):
    path, _ = h5
    for chunk_rows, shuffle in ((500, "chunks"), (10, "global")):
        src = StreamingMatrix(path, "data/expression", orientation="genes_x_samples", chunk_rows=chunk_rows,
                              shuffle=shuffle)
        for n in (90, 81):  # 81 = 5 * 16 + 1: the one-sample last batch is dropped as in the loop
            mine = list(src.epoch_batches(np.arange(n), 16, torch.Generator().manual_seed(4)))
            loop = list(iterate_minibatches(n, 16, torch.Generator().manual_seed(4), drop_last=n % 16 == 1))
            assert len(mine) == len(loop)
            for a, b in zip(mine, loop):
                torch.testing.assert_close(a, b, rtol=0, atol=0)


# -- the loop's batches= hook ------------------------------------------------------------------------------------------
def test_fit_loop_batches_hook_sets_the_order_and_default_is_unchanged():
    X = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    y = X.sum(1, keepdim=True)

    def run(batches=None):
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 1)
        seen = []

        def step(idx, gen):
            seen.append(idx.tolist())
            return {"loss": ((net(X[idx]) - y[idx]) ** 2).mean()}

        fit_loop(step, [net], 20, epochs=2, batch_size=8, seed=5, progress=False, batches=batches)
        return seen, net.weight.detach().clone()

    default, w0 = run()
    same, w1 = run(lambda g: iterate_minibatches(20, 8, g))
    assert default == same and torch.equal(w0, w1)
    fixed, _ = run(lambda g: [torch.arange(0, 10), torch.arange(10, 20)])
    assert fixed == [list(range(10)), list(range(10, 20))] * 2
    with pytest.raises(OmicsInputError, match="batches must be a callable"):
        fit_loop(lambda i, g: {"loss": X.sum()}, [torch.nn.Linear(3, 1)], 20, epochs=1, batch_size=8,
                 progress=False, batches=[1])
    with pytest.raises(OmicsInputError, match="were empty"):
        run(lambda g: [])


# -- VIME from disk ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_rows, shuffle", [(1000, "chunks"), (13, "global")])
def test_vime_from_disk_equals_in_memory_with_the_same_order(h5, chunk_rows, shuffle):
    path, X = h5
    src = StreamingMatrix(path, "data/expression", orientation="genes_x_samples", chunk_rows=chunk_rows,
                          shuffle=shuffle)
    disk, memory = _vime().fit(src), _vime().fit(X)
    for (name, a), (_, b) in zip(disk.encoder_.state_dict().items(), memory.encoder_.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    for a, b in zip(disk.modules_.parameters(), memory.modules_.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    pd.testing.assert_frame_equal(disk.history_, memory.history_)
    np.testing.assert_array_equal(disk.transform(X), memory.transform(X))


def test_vime_chunk_order_trains_deterministically_and_differs_from_global(h5):
    path, X = h5
    src = StreamingMatrix(path, "data/expression", orientation="genes_x_samples", chunk_rows=13)
    a, b = _vime().fit(src), _vime().fit(src)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert not np.array_equal(a.transform(X), _vime().fit(X).transform(X))
    assert np.isfinite(a.history_["val_loss"]).all()


def test_reference_and_validation_are_capped(h5):
    path, X = h5
    src = StreamingMatrix(path, "data/expression", orientation="genes_x_samples", chunk_rows=13,
                          reference_rows=10, max_val_rows=5)
    model = _vime().fit(src)
    assert model.history_["val_loss"].notna().all() and len(model.validation_indices_) == 18


# -- bad input ---------------------------------------------------------------------------------------------------------
def test_bad_input_one_line_naming_the_parameter(tmp_path, h5):
    path, _ = h5
    cases = [
        (dict(path=tmp_path / "nope.h5"), r"^path='.*nope.h5' does not exist"),
        (dict(path=path, dataset="data/expr"), r"^dataset='data/expr' is not a dataset .* data/expression"),
        (dict(path=path), r"^dataset=None but m.h5 has 2 2-D datasets"),
        (dict(path=path, dataset="meta/names"), r"^dataset='meta/names' holds \|S1 values, not numbers"),
        (dict(path=path, dataset="data/expression", orientation="cols"), r"^orientation='cols' is unknown"),
        (dict(path=path, dataset="data/expression", shuffle="rows"), r"^shuffle='rows' is unknown"),
        (dict(path=path, dataset="data/expression", chunk_rows=0), r"^chunk_rows=0"),
    ]
    text = tmp_path / "m.txt"
    text.write_text("a,b\n1,2\n")
    cases.append((dict(path=text), r"^path='.*m.txt' is neither HDF5 nor parquet"))
    for kwargs, pattern in cases:
        with pytest.raises(OmicsInputError, match=pattern) as err:
            StreamingMatrix(**kwargs)
        assert "\n" not in str(err.value)
    bad = tmp_path / "nan.h5"
    X = _matrix(30, 4)
    X[17, 2] = np.nan
    with h5py.File(bad, "w") as fh:
        fh.create_dataset("X", data=X)
    with pytest.raises(OmicsInputError, match=r"sample 17 has NaN"):
        _vime().fit(StreamingMatrix(bad, chunk_rows=8))


def test_write_hdf5_matrix_is_seeded(tmp_path):
    a = write_hdf5_matrix(tmp_path / "a.h5", 30, 5, block_rows=7, progress=False)
    b = write_hdf5_matrix(tmp_path / "b.h5", 30, 5, orientation="genes_x_samples", block_rows=7, progress=False)
    x = StreamingMatrix(a).to_numpy()
    assert x.shape == (30, 5) and x.dtype == np.float32 and x.std() > 0.5
    np.testing.assert_array_equal(StreamingMatrix(b, orientation="genes_x_samples").to_numpy(), x)
    c = write_hdf5_matrix(tmp_path / "c.h5", 30, 5, block_rows=7, seed=1, progress=False)
    assert not np.array_equal(StreamingMatrix(c).to_numpy(), x)


# -- omicsnb bench streaming -------------------------------------------------------------------------------------------
def test_bench_streaming_interrupted_removes_its_scratch_folder(monkeypatch):
    from omicsnb import bench

    made = []

    def interrupted(code):
        made.append(re.search(r"StreamingMatrix\('([^']+)'", code).group(1))
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "_probe", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bench.bench_streaming(n_samples=40, n_genes=6, progress=False)
    assert made and made[0].endswith("matrix.h5")
    from pathlib import Path

    assert not Path(made[0]).parent.exists()


@pytest.mark.slow
def test_bench_streaming_small_meets_its_memory_goal(capsys):
    from pathlib import Path

    from omicsnb.cli import main

    assert main(["bench", "streaming", "--small"]) == 0
    out = capsys.readouterr().out
    assert "peak RSS streaming from disk" in out and "throughput disk / in memory" in out
    assert "(met)" in out.split("peak RSS streaming from disk")[1].splitlines()[0]
    scratch = [line for line in out.splitlines() if line.startswith("wrote ")][0].split(" to ")[1].split(" in ")[0]
    assert not (Path(__file__).resolve().parents[1] / scratch).exists()
