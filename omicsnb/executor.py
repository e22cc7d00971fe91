"""One executor for the book's sweeps: serial, local processes, or a Dask cluster.

A sweep is a list of independent *tasks*, each a small dict that names its cell (``method``, ``fraction``,
``repeat`` ...) and carries its own ``seed``, plus *shared* inputs every task reads (the cohort, the model factory).
:meth:`Executor.map` runs ``fn(task, shared)`` for every task and returns the results in task order, whatever the
backend, so a sweep gives the same numbers serially, on local processes and on a cluster:

- ``"serial"`` (default): a plain loop in this process.
- ``"processes"`` or ``"processes?workers=4&threads=1"``: local worker processes (forkserver, one torch thread
  each unless ``threads`` says otherwise); ``shared`` is pickled once per
  worker, tasks carry only their dicts. A crashed worker process is replaced and its unfinished tasks resubmitted.
- ``"dask://local?workers=2"``: a ``dask.distributed.LocalCluster`` started for this executor, or
  ``"dask://tcp://host:8786"``: an existing scheduler (for example one started by ``dask-jobqueue`` on SLURM/PBS).
  ``shared`` is scattered once (broadcast to every worker); a task whose worker dies is rerun elsewhere by the
  scheduler.

A task that raises does not lose the others: the remaining tasks finish and :class:`TaskError` is raised with a
one-line message naming the failed cell, the completed results attached (``err.results``, ``None`` where a task
failed). See the book page *Running at scale*.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tqdm import tqdm  # text bars: work in terminals and notebooks without ipywidgets

from omicsnb.validation import OmicsInputError

__all__ = ["Executor", "TaskError", "describe_task", "get_executor"]

#: Keys that name a task's cell, in the order :func:`describe_task` prints them.
CELL_KEYS = ("name", "method", "model", "mode", "fraction", "repeat", "depth", "width", "size", "trial")


def describe_task(task: Mapping[str, Any]) -> str:
    """The cell a task stands for, e.g. ``"model=VIME (frozen), fraction=0.1, repeat=2"``."""
    parts = [f"{key}={task[key]:g}" if isinstance(task[key], float) else f"{key}={task[key]}"
             for key in CELL_KEYS if key in task]
    return ", ".join(parts) or repr(dict(task))[:80]


class TaskError(RuntimeError):
    """Raised by :meth:`Executor.map` when tasks failed; ``results`` keeps every completed result.

    Attributes
    ----------
    results
        One entry per task, in task order: the result, or ``None`` for a failed task.
    failures
        ``[(task index, cell description, exception), ...]``.
    """

    def __init__(self, failures: list[tuple[int, str, BaseException]], results: list[Any]):
        self.failures, self.results = failures, results
        index, cell, err = failures[0]
        detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
        more = f" (and {len(failures) - 1} more failed task(s))" if len(failures) > 1 else ""
        done = sum(r is not None for r in results)
        super().__init__(f"task failed at {cell}: {type(err).__name__}: {detail}{more}; "
                         f"{done} of {len(results)} results kept in err.results")


def _parse_spec(spec: str) -> tuple[str, str | None, dict[str, str]]:
    """``(kind, address, options)`` from an executor spec string."""
    if not isinstance(spec, str) or not spec.strip():
        raise OmicsInputError(f"executor={spec!r} is not a spec; pass 'serial', 'processes?workers=N', "
                              "'dask://local?workers=N' or 'dask://tcp://host:8786'")
    spec = spec.strip()
    if spec == "serial":
        return "serial", None, {}
    if spec.startswith("processes"):
        rest = spec[len("processes"):]
        if rest and not rest.startswith("?"):
            raise OmicsInputError(f"executor={spec!r}: write options as 'processes?workers=N'")
        options = {k: v[-1] for k, v in parse_qs(rest[1:]).items()}
        return "processes", None, options
    if spec.startswith("dask://"):
        target = spec[len("dask://"):]
        if target.startswith("local"):
            parts = urlsplit("dask://" + target)
            options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            return "dask", None, options
        if "://" not in target:
            raise OmicsInputError(f"executor={spec!r}: give the scheduler address with its protocol, "
                                  "e.g. 'dask://tcp://host:8786'")
        return "dask", target, {}
    raise OmicsInputError(f"executor={spec!r} is unknown; pass 'serial', 'processes?workers=N', "
                          "'dask://local?workers=N' or 'dask://tcp://host:8786'")


def _int_option(options: Mapping[str, str], key: str, default: int) -> int:
    value = options.get(key, default)
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise OmicsInputError(f"executor option {key}={value!r} is not an integer; e.g. ?{key}=2") from None
    if value < 1:
        raise OmicsInputError(f"executor option {key}={value} must be at least 1")
    return value


# Worker-process state of the "processes" backend: the shared inputs, unpickled once per worker.
_WORKER_STATE: dict[str, Any] = {}


def _init_worker(payload: bytes, threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a hard dependency of the package
        pass
    import cloudpickle  # noqa: F401  (unpickling closures made by cloudpickle needs it importable)

    fn, shared = pickle.loads(payload)
    _WORKER_STATE.update(fn=fn, shared=shared)


def _run_in_worker(task: Mapping[str, Any]) -> Any:
    return _WORKER_STATE["fn"](task, _WORKER_STATE["shared"])


def _run_dask_task(fn: Callable, task: Mapping[str, Any], **shared) -> Any:
    return fn(task, shared)


class Executor:
    """Runs independent, seeded tasks serially, on local processes or on a Dask cluster.

    Parameters
    ----------
    spec
        ``"serial"`` (default), ``"processes"``/``"processes?workers=N"``, ``"dask://local?workers=N"`` or
        ``"dask://<scheduler address>"``; or a ``dask.distributed.Client`` to use as it is.
    workers
        Worker count for ``processes`` and ``dask://local`` when the spec does not give one (default: CPU cores).
    retries
        How many times the processes backend replaces crashed workers and resubmits their tasks. Dask reruns a task
        whose worker died by itself (``distributed.scheduler.allowed-failures``). A task that *raises* is never
        retried: the same seed would raise again.
    progress
        A tqdm bar (``leave=False``) over finished tasks.

    Use it as a context manager, or call :meth:`close`, so that a local cluster or process pool is shut down.
    """

    def __init__(self, spec: Any = "serial", *, workers: int | None = None, retries: int = 2, progress: bool = True):
        self.progress, self.retries = bool(progress), int(retries)
        self._client = self._cluster = None
        self._own_client = False
        if spec is None:
            spec = "serial"
        if not isinstance(spec, str) and type(spec).__name__ == "Client":
            self.kind, self.address, self._client = "dask", getattr(spec.scheduler, "address", None), spec
            self.workers = len(spec.scheduler_info().get("workers", {})) or 1
            self.spec = f"dask://{self.address}"
            return
        self.kind, self.address, options = _parse_spec(spec)
        self.spec = spec
        self.workers = _int_option(options, "workers", workers or os.cpu_count() or 1)
        # one thread per worker unless asked (?threads=T): on a busy machine more threads per task are often slower
        self.threads = _int_option(options, "threads", 1)

    # ---------------------------------------------------------------------------------------------------------------
    @property
    def client(self):
        """The ``dask.distributed.Client`` (started on first use for ``dask://local``)."""
        if self.kind != "dask":
            raise OmicsInputError(f"executor {self.spec!r} has no Dask client; use executor='dask://local?workers=2'")
        if self._client is None:
            from dask.distributed import Client, LocalCluster

            if self.address is None:
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.address)
            self._own_client = True
        return self._client

    def close(self) -> None:
        """Shut down a client and local cluster this executor started (not one it was given)."""
        if self._own_client and self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        self._own_client = False

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Executor({self.spec!r}, workers={self.workers if self.kind != 'serial' else 1})"

    # ---------------------------------------------------------------------------------------------------------------
    def map(self, fn: Callable[[Mapping[str, Any], Mapping[str, Any]], Any], tasks: Sequence[Mapping[str, Any]], *,
            shared: Mapping[str, Any] | None = None, desc: str = "tasks") -> list[Any]:
        """``[fn(task, shared) for task in tasks]`` on this backend, in task order.

        ``fn`` must be picklable by cloudpickle (a module-level function is best); ``shared`` is sent to each worker
        once, each task dict on its own, so keep big arrays in ``shared`` and only indices and seeds in tasks.
        Raises :class:`TaskError` (with the completed results attached) if any task raised.
        """
        if not callable(fn):
            raise OmicsInputError("fn must be a callable fn(task, shared); pass a module-level function")
        tasks = [dict(t) for t in tasks]
        shared = dict(shared or {})
        if self.kind == "serial":
            return self._map_serial(fn, tasks, shared, desc)
        if self.kind == "processes":
            return self._map_processes(fn, tasks, shared, desc)
        return self._map_dask(fn, tasks, shared, desc)

    def _bar(self, total: int, desc: str):
        return tqdm(total=total, desc=f"{desc} [{self.kind}]", leave=False, disable=not self.progress)

    @staticmethod
    def _finish(tasks, results, failures):
        if failures:
            failures.sort(key=lambda f: f[0])
            raise TaskError(failures, results) from failures[0][2]
        return results

    def _map_serial(self, fn, tasks, shared, desc):
        results: list[Any] = [None] * len(tasks)
        failures = []
        with self._bar(len(tasks), desc) as bar:
            for i, task in enumerate(tasks):
                try:
                    results[i] = fn(task, shared)
                except Exception as err:  # noqa: BLE001 - reported with its cell, the others go on
                    failures.append((i, describe_task(task), err))
                bar.update()
        return self._finish(tasks, results, failures)

    def _map_processes(self, fn, tasks, shared, desc):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        import cloudpickle

        payload = cloudpickle.dumps((fn, shared))
        results: list[Any] = [None] * len(tasks)
        failures: list[tuple[int, str, BaseException]] = []
        todo = list(range(len(tasks)))
        # forkserver: one clean server process (torch imported once) forks the workers, fast and thread-safe
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["omicsnb.evaluate"])
        with self._bar(len(tasks), desc) as bar:
            for _attempt in range(self.retries + 1):
                broken = []
                with ProcessPoolExecutor(max_workers=min(self.workers, len(todo)) or 1, mp_context=context,
                                         initializer=_init_worker, initargs=(payload, self.threads)) as pool:
                    futures = {pool.submit(_run_in_worker, tasks[i]): i for i in todo}
                    for future in as_completed(futures):
                        i = futures[future]
                        try:
                            results[i] = future.result()
                        except BrokenProcessPool:
                            broken.append(i)
                            continue
                        except Exception as err:  # noqa: BLE001
                            failures.append((i, describe_task(tasks[i]), err))
                        bar.update()
                todo = sorted(broken)
                if not todo:
                    break
            for i in todo:  # still failing after every retry
                failures.append((i, describe_task(tasks[i]),
                                 RuntimeError(f"worker process died {self.retries + 1} times")))
        return self._finish(tasks, results, failures)

    def _map_dask(self, fn, tasks, shared, desc):
        from dask.distributed import as_completed

        client = self.client
        # one item per key: scatter() would split a dict or list value into many futures
        scattered = {key: client.scatter([value], broadcast=True, hash=True)[0] for key, value in shared.items()}
        futures = {client.submit(_run_dask_task, fn, task, pure=False, retries=0, **scattered): i
                   for i, task in enumerate(tasks)}
        results: list[Any] = [None] * len(tasks)
        failures = []
        with self._bar(len(tasks), desc) as bar:
            for future in as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except Exception as err:  # noqa: BLE001
                    failures.append((i, describe_task(tasks[i]), err))
                bar.update()
        for future in futures:
            future.release()
        return self._finish(tasks, results, failures)


#: Environment variable giving the executor spec of sweeps that are not given one (``executor=None``), so a chapter
#: runs on a cluster without a change to its notebook: ``OMICSNB_EXECUTOR=dask://tcp://host:8786 omicsnb run ...``.
#: Results do not depend on it, so it is not part of a notebook's fingerprint.
EXECUTOR_ENV = "OMICSNB_EXECUTOR"


def get_executor(executor: Any = None, *, progress: bool = True) -> tuple[Executor, bool]:
    """``(executor, owned)``: ``executor`` itself if it is an :class:`Executor`, else a new one from a spec
    (``None``: the ``OMICSNB_EXECUTOR`` environment variable, else serial); ``owned`` says whether the caller must
    :meth:`~Executor.close` it."""
    if isinstance(executor, Executor):
        return executor, False
    if executor is None:
        executor = os.environ.get(EXECUTOR_ENV, "").strip() or "serial"
    return Executor(executor, progress=progress), True
