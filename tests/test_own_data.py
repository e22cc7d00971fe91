"""Every chapter on the reader's own data, through the CLI, as a reader would run it (slow: several minutes).

Real matrices that ship inside pip packages, written to files the way a user would have them: scanpy's
``pbmc68k_reduced`` (700 cells x 765 genes, ``bulk_labels``) for every chapter that takes ``data_path``, and
scikit-survival's GSE7390 for chapter 2. Chapters 1 and 2 also run on small files in each awkward shape of issue 9:
genes x samples with a separate labels file, scattered NaNs, two label columns, negative (centred) log values, a
class of one sample, and 40 samples. Each run must exit 0, render figures, show no error and no simulator-only
output, and leave the committed ``book/`` untouched (own-data runs go to ``_build/runs/<name>/``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from omicsnb.runner import BOOK_DIR, NOTEBOOK_DIR, REPO_ROOT, read_parameters

pytestmark = pytest.mark.slow

OMICSNB = Path(sys.executable).with_name("omicsnb")
RUNS = REPO_ROOT / "_build" / "runs"
SIMULATOR_ONLY = ("simulated cohort", "the simulator's truth", "class-signal genes", "cancer_type")


def _chapters_with_data_path() -> list[str]:
    return [p.stem for p in sorted(NOTEBOOK_DIR.glob("*.ipynb")) if "data_path" in read_parameters(p)]


def _book_state(notebook: str) -> dict[str, int | None]:
    """The committed output of ``notebook`` and its results table (other engineers may write other chapters)."""
    paths = (BOOK_DIR / f"{notebook}.ipynb", BOOK_DIR / "results" / f"{notebook}.json")
    return {str(p): (p.stat().st_mtime_ns if p.exists() else None) for p in paths}


def _run(notebook: str, name: str, params: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(OMICSNB), "run", notebook, "--profile", "quick", "--force", "--name", name]
    for key, value in params.items():
        command += ["-p", key, str(value)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)


def _outputs(nb) -> list[str]:
    """The text of every output except show_source listings (package code may name the simulator)."""
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output["text"])
            for kind in ("text/markdown", "text/plain", "text/html"):
                value = output.get("data", {}).get(kind)
                if value and not str(value).startswith("*Source:"):
                    texts.append(str(value))
    return texts


def _check_notebook(nb: nbformat.NotebookNode, notebook: str, name: str, label: str) -> None:
    """The executed notebook shows no error, draws at least one figure and no simulator-only output."""
    outputs = nb.cells
    assert not [o for c in outputs for o in c.get("outputs", []) if o.get("output_type") == "error"]
    figures = sum("image/png" in o.get("data", {}) for c in outputs for o in c.get("outputs", []))
    assert figures >= 1, f"{notebook} rendered no figure"
    text = "\n".join(_outputs(nb))
    for phrase in SIMULATOR_ONLY:
        if phrase == "cancer_type" and label == "cancer_type":
            continue
        assert phrase not in text, f"{notebook} on {name} shows simulator-only output: {phrase!r}"


def _check_run(notebook: str, name: str, params: dict[str, str], label: str) -> nbformat.NotebookNode:
    before = _book_state(notebook)
    try:
        result = _run(notebook, name, params)
        assert result.returncode == 0, f"{notebook} on {name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        output = RUNS / name / "book" / f"{notebook}.ipynb"
        assert output.exists(), f"no output at {output}"
        nb = nbformat.read(output, as_version=4)
    finally:
        shutil.rmtree(RUNS / name, ignore_errors=True)
    assert _book_state(notebook) == before, "the committed book/ changed"
    _check_notebook(nb, notebook, name, label)
    return nb


# ----------------------------------------------------------------------------------------------------------------------
# Files as a user would have them
# ----------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from omicsnb.data import load_gse7390, load_pbmc68k_reduced

    folder = tmp_path_factory.mktemp("own_data")
    pbmc = load_pbmc68k_reduced()
    table = pd.concat([pbmc.y, pbmc.meta[["phase"]], pbmc.X], axis=1)  # cell ID, label, a text column, genes
    table.index.name = "cell"
    table.to_csv(folder / "pbmc.csv")
    order = np.random.default_rng(0).permutation(len(table))
    table.iloc[np.sort(order[:350])].to_csv(folder / "pbmc_target.csv")
    table.iloc[np.sort(order[350:])].to_csv(folder / "pbmc_source.csv")

    gse = load_gse7390()
    grade = gse.y.astype("string").map(lambda g: f"grade {g}", na_action="ignore").rename("grade")
    pd.concat([grade, gse.X], axis=1).to_csv(folder / "gse7390.csv")  # two patients have no grade

    # the issue's shapes, cut from pbmc (real values): 4 classes, 120 cells, the 200 most variable genes
    classes = pbmc.y.value_counts().index[:4]
    cells = np.concatenate([np.flatnonzero(pbmc.y.to_numpy() == c)[:30] for c in classes])
    genes = pbmc.X.iloc[cells].var().sort_values(ascending=False).index[:200]
    X, y = pbmc.X.iloc[cells][genes], pbmc.y.iloc[cells]
    small = pd.concat([y, X], axis=1)
    small.index.name = "cell"
    X.T.rename_axis("gene").to_csv(folder / "genes_by_samples.csv")
    y.rename_axis("cell").reset_index().to_csv(folder / "labels.csv", index=False)
    gappy = X.copy()
    rng = np.random.default_rng(1)
    holes = rng.random(gappy.shape) < 0.009
    holes[np.arange(len(gappy)), rng.integers(0, gappy.shape[1], len(gappy))] = True  # every sample has a gap
    pd.concat([y, gappy.mask(holes)], axis=1).rename_axis("cell").to_csv(folder / "scattered_nan.csv")
    two = small.copy()
    two.insert(1, "phase", pbmc.meta["phase"].iloc[cells].astype(str).to_numpy())
    two.to_csv(folder / "two_label_columns.csv")
    centred = pd.concat([y, X - X.mean()], axis=1).rename_axis("cell")
    centred.to_csv(folder / "negative_log.csv")
    single = small.copy()
    single.iloc[0, 0] = "a class of one"
    single.to_csv(folder / "class_of_one.csv")
    forty = pd.concat([small[small["bulk_labels"] == c].iloc[:10] for c in classes])
    forty.to_csv(folder / "forty_samples.csv")
    return folder


SHAPES = {
    "genes_by_samples": lambda f: {"data_path": f / "genes_by_samples.csv", "labels_path": f / "labels.csv"},
    "scattered_nan": lambda f: {"data_path": f / "scattered_nan.csv", "missing": "impute"},
    "two_label_columns": lambda f: {"data_path": f / "two_label_columns.csv"},
    "negative_log": lambda f: {"data_path": f / "negative_log.csv"},
    "class_of_one": lambda f: {"data_path": f / "class_of_one.csv"},
    "forty_samples": lambda f: {"data_path": f / "forty_samples.csv"},
}


# ----------------------------------------------------------------------------------------------------------------------
# The whole book on pbmc68k_reduced, as running.md tells a reader to build it
# ----------------------------------------------------------------------------------------------------------------------
PBMC_RUN = "test-own-pbmc-book"


@pytest.fixture(scope="module")
def pbmc_book(tmp_path_factory):
    """``omicsnb example pbmc`` then ``omicsnb build --profile quick --data-profile pbmc.yml``: every chapter that
    takes ``data_path`` on the real matrix, and the HTML book of them rendered with warnings as errors. Yields
    ``(completed build process, run folder, committed book state before the build)``."""
    folder = tmp_path_factory.mktemp("pbmc_example")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    written = subprocess.run([str(OMICSNB), "example", "pbmc", "--out", str(folder)], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert written.returncode == 0, written.stderr
    chapters = _chapters_with_data_path()
    before = {n: _book_state(n) for n in chapters}
    shutil.rmtree(RUNS / PBMC_RUN, ignore_errors=True)  # a clean start, whatever an earlier session left there
    command = [str(OMICSNB), "build", "--profile", "quick", "--data-profile", str(folder / "pbmc.yml"), "--name",
               PBMC_RUN, "--force", "--only", *chapters]
    built = None
    try:
        built = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1500)
        yield built, RUNS / PBMC_RUN, before
    finally:
        if built is not None and built.returncode == 0:  # a failed build stays in _build/runs/ for inspection
            shutil.rmtree(RUNS / PBMC_RUN, ignore_errors=True)


def test_the_whole_book_renders_on_pbmc68k_reduced_with_warnings_as_errors(pbmc_book):
    built, root, before = pbmc_book
    assert built.returncode == 0, f"the pbmc book failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    html = root / "_build" / "html"
    assert (html / "index.html").exists()
    for notebook in _chapters_with_data_path():
        assert (html / "book" / f"{notebook}.html").exists(), f"{notebook} was not rendered"
    assert {n: _book_state(n) for n in before} == before, "the committed book/ changed"


@pytest.mark.parametrize("notebook", _chapters_with_data_path())
def test_every_chapter_on_pbmc68k_reduced(pbmc_book, notebook):
    built, root, _ = pbmc_book
    output = root / "book" / f"{notebook}.ipynb"
    assert output.exists(), f"{notebook}: no output at {output}\n{built.stdout[-2000:]}\n{built.stderr[-2000:]}"
    nb = nbformat.read(output, as_version=4)
    _check_notebook(nb, notebook, "pbmc68k_reduced", "bulk_labels")
    if notebook == "01_data":
        text = "\n".join(_outputs(nb))
        assert "10 classes in 'bulk_labels'" in text and "pbmc.csv" in text


@pytest.mark.parametrize("notebook", ["02_baseline", "08_imputation"])
def test_gse7390_on_chapters_2_and_8(files, notebook):
    nb = _check_run(notebook, f"test-own-gse7390-{notebook}",
                    {"data_path": files / "gse7390.csv", "label_column": "grade"}, "grade")
    if notebook == "02_baseline":
        assert "dropped 2 samples with no 'grade' label" in "\n".join(_outputs(nb))


# Every shape through chapter 1 (the loader and the contract); chapter 2 (splits, fractions, training) on the two that
# stress sizes and layout. All twelve combinations pass too, but cost CI minutes: `pytest tests/test_own_data.py -m slow`.
SHAPE_CASES = [(shape, "01_data") for shape in SHAPES] + [("forty_samples", "02_baseline"),
                                                          ("genes_by_samples", "02_baseline")]


@pytest.mark.parametrize(("shape", "notebook"), SHAPE_CASES)
def test_issue_shapes(files, notebook, shape):
    params = {"label_column": "bulk_labels", **SHAPES[shape](files)}
    nb = _check_run(notebook, f"test-own-{shape}-{notebook}", params, "bulk_labels")
    text = "\n".join(_outputs(nb))
    if shape == "class_of_one":
        assert "dropped 1 classes with fewer than min_class_size=5 samples: a class of one (1)" in text
    if shape == "scattered_nan":
        assert "filled each gap with its gene's mean" in text


def test_negative_values_as_counts_fail_with_one_line_naming_the_parameter(files):
    result = _run("02_baseline", "test-own-negative-counts",
                  {"data_path": files / "negative_log.csv", "label_column": "bulk_labels", "data_kind": "counts"})
    shutil.rmtree(RUNS / "test-own-negative-counts", ignore_errors=True)
    assert result.returncode != 0
    assert "pass -p data_kind log" in result.stdout + result.stderr


def test_gene_set_chapter_without_gene_sets_fails_with_one_line_naming_the_parameter(files):
    result = _run("09_pathway_ssl", "test-own-no-gmt", {"data_path": files / "pbmc.csv", "label_column": "bulk_labels"})
    shutil.rmtree(RUNS / "test-own-no-gmt", ignore_errors=True)
    assert result.returncode != 0
    assert "pass -p gmt_path" in result.stderr and "Traceback" not in result.stderr
