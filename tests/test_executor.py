"""omicsnb.executor: spec parsing, task-order results, identical sweeps on serial / processes / Dask, and faults
(a worker killed mid-sweep, a task that raises) on a 2-worker LocalCluster.

The tests that start worker processes are marked ``slow`` (they run in ``make test``, not ``make unit``)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from omicsnb.evaluate import label_fraction_sweep
from omicsnb.executor import Executor, TaskError, describe_task
from omicsnb.validation import OmicsInputError


def _square_plus(task, shared):
    return task["x"] ** 2 + shared["offset"]


def _fail_at(task, shared):
    if task["repeat"] == shared["bad_repeat"] and task["fraction"] == shared["bad_fraction"]:
        raise ValueError("boom\nsecond line")
    return task["repeat"] * 10 + task["fraction"]


def _die_once(task, shared):
    """Kills its own worker process the first time the marked cell runs (a marker file records that it did)."""
    marker = os.path.join(shared["folder"], "killed")
    if task["repeat"] == 2 and not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        os._exit(1)
    return (task["repeat"], os.getpid())


def _cells(n=6):
    return [{"method": "m", "fraction": f, "repeat": r, "seed": r} for f in (0.5, 1.0) for r in range(n // 2)]


def _toy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 8)).astype("float32")
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X[:80], y[:80], X[80:], y[80:]


def _make_mlp(seed):
    from omicsnb.models.mlp import MLPClassifier

    return MLPClassifier(hidden=(8,), max_epochs=3, batch_size=16, seed=seed, progress=False)


# ---------------------------------------------------------------------------------------------------------------------
def test_describe_task_names_the_cell():
    assert describe_task({"method": "VIME", "fraction": 0.1, "repeat": 2, "seed": 7, "index": [1]}) == \
        "method=VIME, fraction=0.1, repeat=2"


@pytest.mark.parametrize("spec, match", [
    ("gpu", "is unknown"), ("", "is not a spec"), ("dask://host:8786", "with its protocol"),
    ("processes?workers=zero", "not an integer"), ("dask://local?workers=0", "at least 1"),
])
def test_bad_spec_is_one_line(spec, match):
    with pytest.raises(OmicsInputError, match=match) as info:
        Executor(spec)
    assert "\n" not in str(info.value)


def test_spec_parsing():
    assert Executor("processes?workers=3").workers == 3
    ex = Executor("dask://local?workers=2")
    assert (ex.kind, ex.address, ex.workers) == ("dask", None, 2)
    remote = Executor("dask://tcp://10.0.0.1:8786")
    assert (remote.kind, remote.address) == ("dask", "tcp://10.0.0.1:8786")


def test_environment_variable_chooses_the_default_backend(monkeypatch):
    from omicsnb.executor import get_executor

    monkeypatch.setenv("OMICSNB_EXECUTOR", "processes?workers=3")
    ex, owned = get_executor(None)
    assert (ex.kind, ex.workers, owned) == ("processes", 3, True)
    monkeypatch.delenv("OMICSNB_EXECUTOR")
    assert get_executor(None)[0].kind == "serial"
    assert get_executor(ex) == (ex, False)


def test_serial_map_keeps_order_and_shared():
    out = Executor(progress=False).map(_square_plus, [{"x": i} for i in range(5)], shared={"offset": 1})
    assert out == [1, 2, 5, 10, 17]


def test_serial_failure_names_cell_and_keeps_results():
    with pytest.raises(TaskError) as info:
        Executor(progress=False).map(_fail_at, _cells(), shared={"bad_repeat": 1, "bad_fraction": 1.0})
    err = info.value
    assert "method=m, fraction=1, repeat=1" in str(err) and "ValueError: boom" in str(err)
    assert "\n" not in str(err)
    assert err.results == [0.5, 10.5, 20.5, 1.0, None, 21.0]


@pytest.mark.slow  # worker processes: 10-40 s each on the shared, loaded 2-core machine
def test_processes_map_equals_serial():
    tasks = [{"x": i} for i in range(4)]
    with Executor("processes?workers=2", progress=False) as ex:
        assert ex.map(_square_plus, tasks, shared={"offset": 3}) == [3, 4, 7, 12]


@pytest.mark.slow  # worker processes: 10-40 s each on the shared, loaded 2-core machine
def test_processes_failure_keeps_results():
    with Executor("processes?workers=2", progress=False) as ex, pytest.raises(TaskError, match="repeat=0") as info:
        ex.map(_fail_at, _cells(4), shared={"bad_repeat": 0, "bad_fraction": 0.5})
    assert info.value.results == [None, 10.5, 1.0, 11.0]


@pytest.mark.slow  # worker processes: 10-40 s each on the shared, loaded 2-core machine
def test_processes_worker_crash_is_retried(tmp_path):
    with Executor("processes?workers=2", progress=False) as ex:
        out = ex.map(_die_once, _cells(6), shared={"folder": str(tmp_path)})
    assert [r for r, _ in out] == [0, 1, 2, 0, 1, 2]
    assert (tmp_path / "killed").exists()


@pytest.mark.slow  # worker processes: 10-40 s each on the shared, loaded 2-core machine
def test_sweep_identical_on_serial_and_processes():
    X, y, Xt, yt = _toy()
    kwargs = dict(fractions=(0.5, 1.0), repeats=2, seed=3, name="mlp", progress=False)
    serial = label_fraction_sweep(_make_mlp, X, y, Xt, yt, **kwargs)
    parallel = label_fraction_sweep(_make_mlp, X, y, Xt, yt, executor="processes?workers=2", **kwargs)
    pd.testing.assert_frame_equal(serial, parallel)


# ---------------------------------------------------------------------------------------------------------------------
# Dask: one 2-worker LocalCluster for the module (starting one costs seconds on a loaded machine)
@pytest.fixture(scope="module")
def dask_executor():
    pytest.importorskip("dask.distributed")
    with Executor("dask://local?workers=2", progress=False) as ex:
        assert ex.client is not None  # start the cluster once
        yield ex


@pytest.mark.slow  # worker processes: 10-40 s each on the shared, loaded 2-core machine
def test_dask_sweep_identical_to_serial(dask_executor):
    X, y, Xt, yt = _toy()
    kwargs = dict(fractions=(0.5, 1.0), repeats=2, seed=3, name="mlp", progress=False)
    serial = label_fraction_sweep(_make_mlp, X, y, Xt, yt, **kwargs)
    dask = label_fraction_sweep(_make_mlp, X, y, Xt, yt, executor=dask_executor, **kwargs)
    pd.testing.assert_frame_equal(serial, dask)


@pytest.mark.slow  # worker processes: 10-40 s each on the shared, loaded 2-core machine
def test_dask_task_that_raises_names_cell_and_keeps_results(dask_executor):
    with pytest.raises(TaskError) as info:
        dask_executor.map(_fail_at, _cells(), shared={"bad_repeat": 2, "bad_fraction": 0.5})
    message = str(info.value)
    assert "method=m, fraction=0.5, repeat=2" in message and "\n" not in message
    assert info.value.results == [0.5, 10.5, None, 1.0, 11.0, 21.0]


@pytest.mark.slow  # worker processes: 10-40 s each on the shared, loaded 2-core machine
def test_dask_worker_killed_mid_sweep_is_retried(dask_executor, tmp_path):
    out = dask_executor.map(_die_once, _cells(6), shared={"folder": str(tmp_path)})
    assert [r for r, _ in out] == [0, 1, 2, 0, 1, 2]  # every cell present, in order
    assert (tmp_path / "killed").read_text()  # a worker really died mid-sweep (it may have finished cells before)


# ---------------------------------------------------------------------------------------------------------------------
# omicsnb build --jobs N, on tiny notebooks (the runner tests' throwaway book)
@pytest.fixture
def tiny_book(tmp_path, monkeypatch):
    import yaml
    from test_runner import _write_notebook  # tests/ is on sys.path (pytest rootdir mode)

    from omicsnb import runner

    nbdir, profdir = tmp_path / "notebooks", tmp_path / "profiles"
    nbdir.mkdir()
    profdir.mkdir()
    for name in ("01_a", "02_b", "03_c"):
        _write_notebook(nbdir / f"{name}.ipynb")
    quick = {"01_a": {"n": 2}, "02_b": {"n": 5}, "03_c": {"n": 7}}
    (profdir / "quick.yml").write_text(yaml.safe_dump({"notebooks": quick}))
    (profdir / "book.yml").write_text(yaml.safe_dump({"notebooks": {k: {} for k in quick}}))
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "core.py").write_text('"""A stand-in package."""\n\nANSWER = 42\n')
    for attr, value in {"NOTEBOOK_DIR": nbdir, "PROFILE_DIR": profdir, "BOOK_DIR": tmp_path / "book",
                        "BUILD_DIR": tmp_path / "_build", "NBVAL_DIR": tmp_path / "nbval", "PACKAGE_DIR": package}.items():
        monkeypatch.setattr(runner, attr, value)
    return tmp_path


def test_build_jobs_must_be_positive(tiny_book):
    from omicsnb import runner

    with pytest.raises(OmicsInputError, match="--jobs 0 must be"):
        runner.build_book(profile="quick", out_root=tiny_book / "x", html=False, jobs=0)


@pytest.mark.slow  # starts a kernel per notebook, twice
def test_build_jobs_equals_serial_and_keeps_the_others_on_failure(tiny_book, capsys):
    from omicsnb import runner

    serial = runner.build_book(profile="quick", out_root=tiny_book / "serial", html=False)
    parallel = runner.build_book(profile="quick", out_root=tiny_book / "parallel", html=False, jobs=2)
    out = capsys.readouterr().out
    assert [r.fingerprint for r in serial] == [r.fingerprint for r in parallel]
    for name in ("01_a", "02_b", "03_c"):
        a = json.loads((tiny_book / "serial" / "book" / "results" / f"{name}.json").read_text())
        b = json.loads((tiny_book / "parallel" / "book" / "results" / f"{name}.json").read_text())
        assert a == b
    assert sum(f"/3) {n}: done in" in out for n in ("01_a", "02_b", "03_c")) == 3  # one line per notebook
    runs = json.loads((tiny_book / "parallel" / "book" / "results" / "_runs.json").read_text())
    assert {"01_a", "02_b", "03_c"} <= set(json.dumps(runs).replace('"', " ").split())

    with pytest.raises(runner.OmicsRunError, match=r"1 of 3 notebook\(s\) failed \(02_b\)") as info:
        _build_with_one_failure(runner, tiny_book)
    assert "01_a, 03_c" in str(info.value)
    out = capsys.readouterr().out
    assert "failed: 02_b" in out and "boom on purpose" in out
    assert (tiny_book / "failing" / "book" / "01_a.ipynb").exists() and (tiny_book / "failing" / "book" / "03_c.ipynb").exists()
    assert not (tiny_book / "failing" / "book" / "02_b.ipynb").exists()


def _build_with_one_failure(runner, root):
    """A build in which only 02_b fails (its profile block sets fail=True)."""
    import yaml

    profile = runner.PROFILE_DIR / "quick.yml"
    data = yaml.safe_load(profile.read_text())
    data["notebooks"]["02_b"]["fail"] = True
    profile.write_text(yaml.safe_dump(data))
    return runner.build_book(profile="quick", out_root=root / "failing", html=False, jobs=2)


def test_makespan_deals_longest_first():
    from omicsnb.sweep_bench import makespan

    # 5, 4, 3, 3, 1 on 2 workers: 5 | 4 | 3 -> worker 2 (7) | 3 -> worker 1 (8) | 1 -> worker 2 (8)
    assert makespan([3, 1, 5, 3, 4], 2) == 8
    assert makespan([3, 1, 5], 1) == 9
    assert makespan([3, 1, 5], 16) == 5


def test_timed_subset_spreads_the_timed_fractions():
    from omicsnb.sweep_bench import timed_subset

    assert timed_subset([0.1, 0.2, 0.3], None) == [0, 1, 2]
    assert timed_subset([0.1, 0.2, 0.3], 5) == [0, 1, 2]
    assert timed_subset(list(range(99)), 6) == [0, 20, 39, 59, 78, 98]  # both ends, evenly spread


def test_bench_sweep_projects_from_timed_tasks(monkeypatch, capsys):
    """The projection arithmetic on fake task times: interpolation, serial sum, makespan, the GPU line."""
    from omicsnb import sweep_bench

    settings = {"fractions": [0.1, 0.2, 0.3, 0.4, 0.5], "repeats": 2, "methods": ["VIME"], "modes": ["frozen"],
                "n_hvg": 10, "finetune_batch_size": 8}
    monkeypatch.setattr(sweep_bench, "chapter_settings", lambda profile: settings)
    monkeypatch.setattr(sweep_bench, "_sweep_inputs", lambda s, max_timed: (
        [{"fraction": s["fractions"][i], "index": []} for i in sweep_bench.timed_subset(s["fractions"], max_timed)],
        {}))
    monkeypatch.setattr(sweep_bench, "_timed_cell", lambda task, shared: {
        "seconds": 10 * task["fraction"], "accuracy": 1.0, "steps": int(100 * task["fraction"])})
    result = sweep_bench.bench_sweep("book", validate=False, max_timed=3, cluster_workers=(4,), gpu_step_ms=2.0)
    # timed 0.1, 0.3, 0.5 -> 1, 3, 5 s; interpolated 0.2, 0.4 -> 2, 4 s; 2 models x 2 repeats = 4 tasks per fraction
    assert result["timed_s"] == pytest.approx({0.1: 1.0, 0.3: 3.0, 0.5: 5.0})
    assert result["n_tasks"] == 20 and result["serial_s"] == pytest.approx(4 * 15)
    assert result["projected_4_s"] == pytest.approx(15)  # each worker one task of every fraction
    assert result["steps"] == pytest.approx(4 * 150) and result["projected_gpu_s"] == pytest.approx(1.2)
    assert "3 of 5 fractions timed" in capsys.readouterr().out


def test_bench_sweep_settings_follow_the_profiles():
    from omicsnb.sweep_bench import chapter_settings

    quick, book, paper = (chapter_settings(p) for p in ("quick", "book", "paper"))
    assert len(quick["fractions"]) < len(book["fractions"]) < len(paper["fractions"])  # the profile blocks were applied
    assert quick["n_samples"] < book["n_samples"] < paper["n_samples"]
    assert set(book) == set(paper) and "finetune_batch_size" in book


def test_cli_build_jobs_and_bench_sweep_are_wired(monkeypatch):
    from omicsnb import bench, cli, runner

    seen = {}
    monkeypatch.setattr(runner, "build_book", lambda **kw: seen.update(kw))
    assert cli.main(["build", "--profile", "quick", "--jobs", "3", "--no-html"]) == 0
    assert seen["jobs"] == 3
    with pytest.raises(OmicsInputError, match="sweep"):
        bench.main("no-such-benchmark")


@pytest.mark.slow  # worker processes
def test_pretrain_identical_serial_and_processes():
    from omicsnb.protocol import pretrain

    X = np.random.default_rng(0).normal(size=(120, 12)).astype("float32")
    settings = dict(shared={"hidden": (8,), "epochs": 2, "batch_size": 32}, progress=False, seed=1)
    serial = pretrain(["VIME", "SCARF"], X, **settings)
    parallel = pretrain(["VIME", "SCARF"], X, executor="processes?workers=2", **settings)
    for method in serial:
        np.testing.assert_array_equal(np.asarray(serial[method].transform(X)), np.asarray(parallel[method].transform(X)))


@pytest.mark.slow  # worker processes
def test_imputation_trials_identical_serial_and_processes():
    """evaluate_imputers' (scenario, trial) cells through the executor: the same rows on both backends."""
    from omicsnb.impute.baselines import IterativeSVDImputer, MeanImputer
    from omicsnb.impute.experiment import evaluate_imputers

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(60, 3)) @ rng.normal(size=(3, 10)) + 0.1 * rng.normal(size=(60, 10))).astype("float64")
    methods = {"mean": MeanImputer().fit(X[:40]), "svd": IterativeSVDImputer(rank=3).fit(X[:40])}
    scenarios = {"mcar": {"scenario": "mcar", "rate": 0.2}, "low": {"scenario": "mnar_low"}}
    settings = dict(trials=3, seed=4, progress=False, extra=lambda t, i, m: {"n_masked": float(m.sum())}, extra_trials=2)
    serial = evaluate_imputers(methods, X[40:], scenarios, **settings)
    parallel = evaluate_imputers(methods, X[40:], scenarios, executor="processes?workers=2", **settings)
    assert len(serial) == 2 * 3 * 2 and serial["n_masked"].isna().sum() == 4  # extra on the first two trials only
    pd.testing.assert_frame_equal(serial.drop(columns="seconds"), parallel.drop(columns="seconds"))
    assert list(serial["trial"][:6]) == [0, 0, 1, 1, 2, 2] and list(serial["scenario"][:6]) == ["mcar"] * 6
