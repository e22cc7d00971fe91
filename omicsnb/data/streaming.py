"""Out-of-core expression matrices: read an HDF5 or parquet matrix chunk by chunk, for pretraining from disk.

ARCHS4 holds tens of thousands of samples by ~20,000 genes: 4 GB as float32, more than a laptop wants to hold next to
a network and its optimiser. :class:`StreamingMatrix` opens such a file without loading it and hands out rows a
*chunk* (a block of consecutive samples) at a time, so memory stays constant in the number of samples:

- HDF5: a 2-D numeric dataset, samples x genes or genes x samples (ARCHS4 stores ``data/expression`` as genes x
  samples; pass ``orientation="genes_x_samples"``);
- parquet: one column per gene (``samples_x_genes``) or one column per sample (``genes_x_samples``). Chunks follow
  the file's row groups when rows are samples, so write it with row groups of a few thousand rows.

It plugs into the book's one training loop, :func:`~omicsnb.training.fit_loop`, without a second loop: the source
supplies the epoch's batch order (:meth:`StreamingMatrix.epoch_batches`, the loop's ``batches=`` hook) and a
:class:`ChunkCache` reads the rows of each batch, holding the last ``cache_chunks`` chunks. The order shuffles the
chunks, then the samples inside each chunk, from the loop's seeded generator: seeded, deterministic, and sequential on
disk. ``shuffle="global"`` draws the in-memory loop's order instead (a fresh permutation of every sample; random
reads, slow on a large file): the weights then equal those of in-memory training exactly, which the tests check.

``VIMESelf().fit(StreamingMatrix("archs4.h5", "data/expression", orientation="genes_x_samples"))`` pretrains from
disk (so do SCARF and BYOL); see :meth:`~omicsnb.models.ssl.SSLPretrainer.fit`. ``omicsnb bench streaming``
measures its peak memory and its throughput against the in-memory loop. Introduced in the page *Running at scale*.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from omicsnb.validation import OmicsInputError, check_int

__all__ = ["ChunkCache", "StreamingMatrix", "write_hdf5_matrix"]

ORIENTATIONS = ("samples_x_genes", "genes_x_samples")
SHUFFLES = ("chunks", "global")
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
_PARQUET_SUFFIXES = (".parquet", ".pq")


class StreamingMatrix:
    """A samples x features matrix on disk (HDF5 or parquet), read in chunks of consecutive samples.

    Parameters
    ----------
    path
        The file: ``.h5``/``.hdf5`` (or any HDF5 file) or ``.parquet``.
    dataset
        HDF5 only: the 2-D dataset's name, e.g. ``"data/expression"`` (ARCHS4). ``None``: the file's only 2-D
        dataset.
    orientation
        ``"samples_x_genes"`` (rows are samples, the default) or ``"genes_x_samples"`` (columns are samples, as in
        ARCHS4's HDF5 files).
    chunk_rows
        Samples per chunk (HDF5, and parquet with one column per sample). With one column per gene, the parquet
        file's row groups are the chunks.
    columns
        Parquet only: the columns to read (default: all, which must then all be numeric).
    shuffle
        Batch order of :meth:`epoch_batches`: ``"chunks"`` (chunk order shuffled, then samples within a chunk) or
        ``"global"`` (a permutation of all samples, as the in-memory loop; random reads).
    reference_rows
        Training samples held in memory as the empirical marginals that VIME's corruption draws from (a seeded
        sample; every training sample when there are at most this many).
    max_val_rows
        At most this many validation samples are held in memory for the validation loss.
    cache_chunks
        Chunks a :class:`ChunkCache` keeps (a batch can straddle two).

    Attributes
    ----------
    shape, n_samples, n_features
        The matrix's shape as samples x features.

    Raises a one-line :class:`~omicsnb.validation.OmicsInputError` naming the parameter for a missing file, an
    unknown dataset or column, a matrix that is not 2-D, and a non-numeric one. Introduced in the page *Running at
    scale*.
    """

    def __init__(self, path, dataset: str | None = None, *, orientation: str = "samples_x_genes",
                 chunk_rows: int = 1024, columns: Sequence[str] | None = None, shuffle: str = "chunks",
                 reference_rows: int = 2048, max_val_rows: int = 2048, cache_chunks: int = 2):
        self.path = Path(path)
        if not self.path.is_file():
            raise OmicsInputError(f"path={str(path)!r} does not exist or is not a file; pass an HDF5 or parquet file")
        if orientation not in ORIENTATIONS:
            raise OmicsInputError(f"orientation={orientation!r} is unknown; pass one of: {', '.join(ORIENTATIONS)}")
        if shuffle not in SHUFFLES:
            raise OmicsInputError(f"shuffle={shuffle!r} is unknown; pass one of: {', '.join(SHUFFLES)}")
        check_int("chunk_rows", chunk_rows, 1)
        check_int("reference_rows", reference_rows, 1)
        check_int("max_val_rows", max_val_rows, 0)
        check_int("cache_chunks", cache_chunks, 1)
        self.chunk_rows, self.reference_rows = int(chunk_rows), int(reference_rows)
        self.max_val_rows, self.cache_chunks = int(max_val_rows), int(cache_chunks)
        self.orientation, self.shuffle, self.dataset = orientation, shuffle, dataset
        self._handle = None
        self.kind = self._detect_kind()
        if self.kind == "hdf5":
            if columns is not None:
                raise OmicsInputError("columns= applies to parquet files only; pass dataset= to pick an HDF5 matrix")
            self._open_hdf5()
        else:
            if dataset is not None:
                raise OmicsInputError("dataset= applies to HDF5 files only; pass columns= to pick parquet columns")
            self._open_parquet(columns)
        self.shape = (self.n_samples, self.n_features)
        if min(self.shape) < 1:
            raise OmicsInputError(f"path={str(path)!r} holds an empty matrix {self.shape}; pass a file with data")

    # -- opening -------------------------------------------------------------------------------------------------------
    def _detect_kind(self) -> str:
        suffix = self.path.suffix.lower()
        if suffix in _PARQUET_SUFFIXES:
            return "parquet"
        import h5py

        if suffix in _HDF5_SUFFIXES or h5py.is_hdf5(self.path):
            return "hdf5"
        with open(self.path, "rb") as fh:
            if fh.read(4) == b"PAR1":
                return "parquet"
        raise OmicsInputError(f"path={str(self.path)!r} is neither HDF5 nor parquet; pass an .h5 or .parquet file")

    def _h5(self):
        if self._handle is None:
            import h5py

            try:
                self._handle = h5py.File(self.path, "r")
            except OSError as err:
                raise OmicsInputError(f"path={str(self.path)!r} cannot be read as HDF5 ({err}); pass an HDF5 file") \
                    from None
        return self._handle

    def _open_hdf5(self) -> None:
        import h5py

        handle = self._h5()
        matrices = []
        handle.visititems(lambda name, obj: matrices.append(name)
                          if isinstance(obj, h5py.Dataset) and obj.ndim == 2 else None)
        if self.dataset is None:
            if len(matrices) != 1:
                listed = ", ".join(matrices) or "none"
                raise OmicsInputError(f"dataset=None but {self.path.name} has {len(matrices)} 2-D datasets ({listed}); "
                                      "pass dataset='<name>'")
            self.dataset = matrices[0]
        if self.dataset not in handle or not isinstance(handle[self.dataset], h5py.Dataset):
            listed = ", ".join(matrices) or "none"
            raise OmicsInputError(f"dataset={self.dataset!r} is not a dataset in {self.path.name}; its 2-D datasets: "
                                  f"{listed}")
        data = handle[self.dataset]
        if data.ndim != 2:
            raise OmicsInputError(f"dataset={self.dataset!r} has shape {data.shape}, not 2-D; pass a samples x genes "
                                  "matrix")
        if data.dtype.kind not in "biuf":
            raise OmicsInputError(f"dataset={self.dataset!r} holds {data.dtype} values, not numbers; pass a numeric "
                                  "matrix")
        rows, cols = data.shape
        self.n_samples, self.n_features = (rows, cols) if self.orientation == "samples_x_genes" else (cols, rows)
        self._bounds = _fixed_bounds(self.n_samples, self.chunk_rows)

    def _open_parquet(self, columns) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._handle = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as err:
            raise OmicsInputError(f"path={str(self.path)!r} cannot be read as parquet ({err}); pass a parquet file") \
                from None
        schema = self._handle.schema_arrow
        names = list(schema.names)
        if columns is not None:
            columns = [str(c) for c in columns]
            missing = [c for c in columns if c not in names]
            if missing or not columns:
                raise OmicsInputError(f"columns: {missing[:3] or '[]'} not in {self.path.name}; pass existing column "
                                      "names")
            names = columns
        for name in names:
            kind = schema.field(name).type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
                raise OmicsInputError(f"columns: {name!r} in {self.path.name} holds {kind}, not numbers; pass "
                                      "columns=[...] with the numeric columns only")
        self._columns = names
        n_rows = self._handle.metadata.num_rows
        if self.orientation == "samples_x_genes":
            self.n_samples, self.n_features = n_rows, len(names)
            sizes = [self._handle.metadata.row_group(g).num_rows for g in range(self._handle.num_row_groups)]
            edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
            self._bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
        else:
            self.n_samples, self.n_features = len(names), n_rows
            self._bounds = _fixed_bounds(self.n_samples, self.chunk_rows)

    def __getstate__(self):  # picklable (for an executor's workers): the file is reopened on first use
        state = self.__dict__.copy()
        if self.kind == "hdf5":
            state["_handle"] = None
        return state

    def close(self) -> None:
        """Close the file (it is reopened if the matrix is read again)."""
        if self.kind == "hdf5" and self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> StreamingMatrix:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        where = f", dataset={self.dataset!r}" if self.kind == "hdf5" else ""
        return (f"StreamingMatrix({str(self.path)!r}{where}, {self.n_samples} samples x {self.n_features} features, "
                f"{len(self._bounds)} chunks)")

    # -- reading -------------------------------------------------------------------------------------------------------
    @property
    def chunk_bounds(self) -> list[tuple[int, int]]:
        """``[(start, stop), ...]``: the samples of every chunk, in file order."""
        return list(self._bounds)

    def chunk_of(self, rows) -> np.ndarray:
        """The chunk number of each sample position in ``rows``."""
        starts = np.asarray([a for a, _ in self._bounds])
        return np.searchsorted(starts, np.asarray(rows), side="right") - 1

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` as a C-contiguous float32 array (samples x features)."""
        if not 0 <= start < stop <= self.n_samples:
            raise OmicsInputError(f"rows {start}:{stop} are outside 0:{self.n_samples}; pass a range inside the matrix")
        if self.kind == "hdf5":
            data = self._h5()[self.dataset]
            block = data[start:stop] if self.orientation == "samples_x_genes" else data[:, start:stop].T
        else:
            block = self._read_parquet(start, stop)
        block = np.ascontiguousarray(block, dtype=np.float32)
        if not np.isfinite(block).all():
            bad = int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0]) + start
            raise OmicsInputError(f"path={self.path.name!r}: sample {bad} has NaN or infinite values; impute or drop "
                                  "them before pretraining")
        return block

    def _read_parquet(self, start: int, stop: int) -> np.ndarray:
        if self.orientation == "genes_x_samples":
            table = self._handle.read(columns=self._columns[start:stop])
            return _table_to_array(table).T
        groups = [g for g, (a, b) in enumerate(self._bounds) if a < stop and b > start]
        table = self._handle.read_row_groups(groups, columns=self._columns)
        offset = self._bounds[groups[0]][0]
        return _table_to_array(table.slice(start - offset, stop - start))

    def iter_chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, block)`` for every chunk in file order; one chunk in memory at a time."""
        for start, stop in self._bounds:
            yield start, self.read(start, stop)

    def take(self, rows) -> np.ndarray:
        """The samples at positions ``rows`` (any order), reading each chunk that holds one of them once."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        out = np.empty((len(rows), self.n_features), dtype=np.float32)
        if len(rows) == 0:
            return out
        if rows.min() < 0 or rows.max() >= self.n_samples:
            raise OmicsInputError(f"rows must lie in 0:{self.n_samples}; got {rows.min()}..{rows.max()}")
        chunks = self.chunk_of(rows)
        for chunk in np.unique(chunks):
            where = np.flatnonzero(chunks == chunk)
            start, stop = self._bounds[chunk]
            out[where] = self.read(start, stop)[rows[where] - start]
        return out

    def to_numpy(self) -> np.ndarray:
        """The whole matrix in memory (small files, tests)."""
        return self.read(0, self.n_samples)

    # -- training ------------------------------------------------------------------------------------------------------
    def epoch_batches(self, train_rows, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        """One epoch's batches of positions into ``train_rows`` (sorted sample positions), for ``fit_loop(batches=)``.

        ``shuffle="chunks"``: the chunks holding training samples in an order drawn from ``generator``, and within
        each chunk its samples in a drawn order; consecutive batches then read consecutive stretches of the file.
        With a single chunk this is exactly the in-memory loop's permutation. ``shuffle="global"``: a permutation of
        all positions (the in-memory loop's order). As in the loop, a final batch of one sample is dropped.
        """
        train_rows = np.asarray(train_rows)
        n = len(train_rows)
        check_int("batch_size", batch_size, 1)
        chunks = self.chunk_of(train_rows)
        edges = np.flatnonzero(np.diff(chunks)) + 1
        starts, stops = np.concatenate([[0], edges]), np.concatenate([edges, [n]])
        if self.shuffle == "global" or len(starts) == 1:
            order = torch.randperm(n, generator=generator)
        else:
            parts = [starts[c] + torch.randperm(int(stops[c] - starts[c]), generator=generator)
                     for c in torch.randperm(len(starts), generator=generator).tolist()]
            order = torch.cat(parts)
        stop = n - 1 if n > 1 and n % batch_size == 1 else n
        for start in range(0, stop, batch_size):
            yield order[start : start + batch_size]

    def cache(self, train_rows) -> ChunkCache:
        """A :class:`ChunkCache` that reads rows by their position in ``train_rows``."""
        return ChunkCache(self, train_rows)


class ChunkCache:
    """Rows of a :class:`StreamingMatrix` by position, through the last ``source.cache_chunks`` chunks read.

    ``rows(positions)`` returns ``source`` samples ``train_rows[positions]`` as a float32 array, reading a chunk only
    when it is not cached. Introduced in the page *Running at scale*.
    """

    def __init__(self, source: StreamingMatrix, train_rows):
        self.source = source
        self.train_rows = np.asarray(train_rows, dtype=np.int64)
        self._chunk = source.chunk_of(self.train_rows)
        self._blocks: OrderedDict[int, np.ndarray] = OrderedDict()
        self.reads = 0

    def _block(self, chunk: int) -> np.ndarray:
        if chunk in self._blocks:
            self._blocks.move_to_end(chunk)
            return self._blocks[chunk]
        while len(self._blocks) >= self.source.cache_chunks:
            self._blocks.popitem(last=False)
        start, stop = self.source.chunk_bounds[chunk]
        self._blocks[chunk] = block = self.source.read(start, stop)
        self.reads += 1
        return block

    def rows(self, positions) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64)
        rows, chunks = self.train_rows[positions], self._chunk[positions]
        out = np.empty((len(positions), self.source.n_features), dtype=np.float32)
        for chunk in dict.fromkeys(chunks.tolist()):  # chunks in order of first use
            where = np.flatnonzero(chunks == chunk)
            out[where] = self._block(chunk)[rows[where] - self.source.chunk_bounds[chunk][0]]
        return out


def _fixed_bounds(n: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _table_to_array(table) -> np.ndarray:
    return np.column_stack([col.to_numpy(zero_copy_only=False) for col in table.columns]) if table.num_columns \
        else np.empty((table.num_rows, 0))


def write_hdf5_matrix(path, n_samples: int, n_features: int, *, dataset: str = "data/expression",
                      orientation: str = "samples_x_genes", block_rows: int = 1000, seed: int = 0,
                      progress: bool = True) -> Path:
    """Write a float32 test matrix (standard normal plus a few shared programmes) to HDF5, a block at a time.

    For benchmarks and tests: memory holds one block of ``block_rows`` samples, whatever ``n_samples``. The dataset
    is stored contiguously (no compression), as a fast local copy of ARCHS4 would be. Returns ``path``.
    Introduced in the page *Running at scale*.
    """
    import h5py
    from tqdm import tqdm

    check_int("n_samples", n_samples, 1)
    check_int("n_features", n_features, 1)
    if orientation not in ORIENTATIONS:
        raise OmicsInputError(f"orientation={orientation!r} is unknown; pass one of: {', '.join(ORIENTATIONS)}")
    rng = np.random.default_rng(seed)
    loadings = rng.standard_normal((8, n_features)).astype(np.float32)
    shape = (n_samples, n_features) if orientation == "samples_x_genes" else (n_features, n_samples)
    path = Path(path)
    with h5py.File(path, "w") as handle:
        data = handle.create_dataset(dataset, shape=shape, dtype="float32")
        for start in tqdm(range(0, n_samples, block_rows), desc="writing", leave=False, disable=not progress):
            stop = min(start + block_rows, n_samples)
            block = rng.standard_normal((stop - start, n_features), dtype=np.float32)
            block += rng.standard_normal((stop - start, 8), dtype=np.float32) @ loadings
            if orientation == "samples_x_genes":
                data[start:stop] = block
            else:
                data[:, start:stop] = block.T
    return path
