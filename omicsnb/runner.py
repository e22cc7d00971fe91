"""Run the book: profiles, parameter checks, papermill execution, fingerprints and the Jupyter Book build.

The book's notebooks live in ``notebooks/`` with their outputs stripped. Each has one cell tagged ``parameters`` whose
values are the *book* profile. A profile (``profiles/<name>.yml``) maps notebook names to parameter overrides:

- ``quick``: seconds per notebook, for tests and CI;
- ``book``: the rendered book (the parameters-cell defaults);
- ``paper``: the seeds' full sizes and hyperparameters, for a GPU machine.

:func:`run_notebook` checks every parameter name and type *before* anything runs (papermill would accept anything),
executes the notebook with papermill into a temporary file, strips papermill's timing noise, hides the injected
parameters cell, and moves the result into place only on success. A fingerprint of the notebook source, the
parameters, the ``omicsnb`` sources and the dependency lock lets unchanged notebooks be skipped.

Introduced in the book's front matter, *How to run this book*.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from omicsnb.validation import OmicsInputError

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PROFILE_DIR = REPO_ROOT / "profiles"
BOOK_DIR = REPO_ROOT / "book"
LOCK_FILE = REPO_ROOT / "requirements-lock.txt"
BOOK_FILES = ("_config.yml", "_toc.yml")
RESULTS_ENV = "OMICSNB_RESULTS_DIR"
NOTEBOOK_ENV = "OMICSNB_NOTEBOOK"


class OmicsRunError(RuntimeError):
    """A notebook failed while executing; the message says which cell and where the failed copy was kept."""


@dataclass(frozen=True)
class Parameter:
    """One entry of a notebook's ``parameters`` cell."""

    name: str
    default: Any
    help: str

    @property
    def type_name(self) -> str:
        return "any" if self.default is None else type(self.default).__name__


@dataclass(frozen=True)
class NotebookSpec:
    """A source notebook: its name, path, one-line description and parameters."""

    name: str
    path: Path
    description: str
    parameters: dict[str, Parameter]


@dataclass
class RunRecord:
    """What one call of :func:`run_notebook` did."""

    name: str
    profile: str
    output: Path
    skipped: bool
    wall_time_s: float
    fingerprint: str
    parameters: dict[str, Any] = field(default_factory=dict)


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def read_parameters(path: Path) -> dict[str, Parameter]:
    """Parse the cell tagged ``parameters``: one ``name = literal  # help`` line per parameter."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise OmicsInputError(f"{path.name} has {len(cells)} cells tagged 'parameters'; tag exactly one cell")
    params: dict[str, Parameter] = {}
    for line in cells[0].source.splitlines():
        code, _, comment = line.partition("#")
        if not code.strip():
            continue
        try:
            node = ast.parse(code.strip()).body[0]
            if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                raise SyntaxError
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            default = ast.literal_eval(node.value)
        except (SyntaxError, ValueError, IndexError):
            raise OmicsInputError(
                f"{path.name}: parameters line {line.strip()!r} is not 'name = literal  # help'; keep one literal per line"
            ) from None
        params[target.id] = Parameter(target.id, default, comment.strip())
    return params


def discover_notebooks() -> dict[str, NotebookSpec]:
    """All source notebooks in ``notebooks/``, in book order (file name order)."""
    specs = {}
    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        description = nb.metadata.get("omicsnb", {}).get("description", "")
        specs[path.stem] = NotebookSpec(path.stem, path, description, read_parameters(path))
    return specs


def get_notebook(name: str, specs: dict[str, NotebookSpec] | None = None) -> NotebookSpec:
    specs = discover_notebooks() if specs is None else specs
    if name not in specs:
        raise OmicsInputError(
            f"unknown notebook '{name}'; {_did_you_mean(name, specs)}run `omicsnb list` (available: {', '.join(specs)})"
        )
    return specs[name]


def _type_ok(value, default) -> bool:
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return False
        return not default or all(_type_ok(v, default[0]) for v in value)
    return isinstance(value, type(default))


def validate_parameters(spec: NotebookSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Check names and types against the parameters cell; return the full effective parameter set."""
    effective = {name: p.default for name, p in spec.parameters.items()}
    for name, value in values.items():
        if name not in spec.parameters:
            raise OmicsInputError(
                f"unknown parameter '{name}' for notebook {spec.name}; {_did_you_mean(name, spec.parameters)}"
                f"valid names: {', '.join(spec.parameters)}"
            )
        param = spec.parameters[name]
        if not _type_ok(value, param.default):
            raise OmicsInputError(
                f"parameter '{name}' of {spec.name} expects {param.type_name} (default {param.default!r}); "
                f"got {value!r} ({type(value).__name__})"
            )
        effective[name] = list(value) if isinstance(value, tuple) else value
    return effective


def parse_cli_value(spec: NotebookSpec, name: str, raw: str):
    """Turn a ``-p NAME VALUE`` string into a value of the parameter's type (YAML syntax; strings stay strings)."""
    if name in spec.parameters and isinstance(spec.parameters[name].default, str):
        return raw
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        raise OmicsInputError(f"cannot read value {raw!r} for parameter '{name}'; use YAML syntax, e.g. 0.1, true, [1, 2]") from None


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yml"))


def load_profile(profile: str, specs: dict[str, NotebookSpec] | None = None) -> dict[str, dict[str, Any]]:
    """Read ``profiles/<profile>.yml`` and check every notebook name and parameter in it."""
    specs = discover_notebooks() if specs is None else specs
    path = PROFILE_DIR / f"{profile}.yml"
    if not path.exists():
        raise OmicsInputError(
            f"unknown profile '{profile}'; {_did_you_mean(profile, list_profiles())}choose one of: {', '.join(list_profiles())}"
        )
    data = yaml.safe_load(path.read_text()) or {}
    notebooks = data.get("notebooks") or {}
    for name, values in notebooks.items():
        spec = get_notebook(name, specs)
        validate_parameters(spec, values or {})
    return {name: dict(notebooks.get(name) or {}) for name in specs}


def default_out_dir(profile: str) -> Path:
    """Where a profile's executed notebooks go: ``book/`` for the book profile, a scratch folder otherwise."""
    return BOOK_DIR if profile == "book" else REPO_ROOT / "_build" / "profiles" / profile / "book"


def _package_digest() -> hashlib._Hash:
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "omicsnb").rglob("*.py")):
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    if LOCK_FILE.exists():
        digest.update(LOCK_FILE.read_bytes())
    return digest


def fingerprint(spec: NotebookSpec, parameters: dict[str, Any]) -> str:
    """Hash of the notebook's cell sources, the effective parameters, the ``omicsnb`` sources and the lock file."""
    digest = _package_digest()
    nb = nbformat.read(spec.path, as_version=4)
    for cell in nb.cells:
        digest.update(cell.cell_type.encode())
        digest.update(cell.source.encode())
        digest.update(json.dumps(cell.metadata.get("tags", [])).encode())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _stored_fingerprint(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        return nbformat.read(path, as_version=4).metadata.get("omicsnb", {}).get("fingerprint")
    except Exception:  # an unreadable old output is simply re-run
        return None


def clean_output(nb, *, fingerprint_: str, profile: str, parameters: dict, wall_time_s: float):
    """Strip papermill's metadata noise, hide the injected-parameters cell and stamp the run."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            cell.metadata["tags"] = [*tags, "hide-cell"]
    nb.metadata["omicsnb"] = {
        **nb.metadata.get("omicsnb", {}),
        "fingerprint": fingerprint_,
        "profile": profile,
        "parameters": parameters,
        "wall_time_s": round(wall_time_s, 1),
    }
    return nb


def run_notebook(
    name: str,
    *,
    profile: str = "book",
    overrides: dict[str, Any] | None = None,
    out_dir: Path | str | None = None,
    force: bool = False,
    kernel_name: str = "python3",
    quiet: bool = False,
) -> RunRecord:
    """Execute one notebook at a profile (plus overrides) into ``out_dir`` and write its results table.

    The output is ``out_dir/NAME.ipynb``; the headline numbers the notebook records go to
    ``out_dir/results/NAME.json``. Nothing in ``out_dir`` changes unless the run succeeds.
    """
    import papermill as pm

    specs = discover_notebooks()
    spec = get_notebook(name, specs)
    values = {**load_profile(profile, specs)[name], **(overrides or {})}
    parameters = validate_parameters(spec, values)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(profile)
    out_dir = out_dir.resolve()
    if out_dir == NOTEBOOK_DIR.resolve():
        raise OmicsInputError("--out points at notebooks/, the stripped sources; choose another folder (default: book/)")
    output = out_dir / f"{name}.ipynb"
    fp = fingerprint(spec, parameters)
    if not force and _stored_fingerprint(output) == fp:
        if not quiet:
            print(f"[omicsnb] {name}: unchanged (fingerprint {fp}), skipped")
        return RunRecord(name, profile, output, True, 0.0, fp, parameters)

    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out_dir))
    tmp_output = work / f"{name}.ipynb"
    env_before = {k: os.environ.get(k) for k in (RESULTS_ENV, NOTEBOOK_ENV)}
    os.environ[RESULTS_ENV] = str(work / "results")
    os.environ[NOTEBOOK_ENV] = name
    if not quiet:
        print(f"[omicsnb] {name}: running at profile '{profile}' ...", flush=True)
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(spec.path),
            str(tmp_output),
            parameters=parameters,
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=os.getcwd(),
        )
    except Exception as exc:
        failed = out_dir / ".failed"
        failed.mkdir(exist_ok=True)
        kept = failed / f"{name}.ipynb"
        if tmp_output.exists():
            shutil.move(str(tmp_output), kept)
        shutil.rmtree(work, ignore_errors=True)
        first = str(exc).strip().splitlines()
        reason = next((line for line in reversed(first) if line.strip()), type(exc).__name__)
        raise OmicsRunError(f"{name} failed ({reason[:300]}); the failed notebook is kept at {kept}") from exc
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    wall = time.perf_counter() - start
    nb = nbformat.read(tmp_output, as_version=4)
    clean_output(nb, fingerprint_=fp, profile=profile, parameters=parameters, wall_time_s=wall)
    nbformat.write(nb, tmp_output)
    _install_results(work / "results" / f"{name}.json", out_dir / "results" / f"{name}.json", name, profile, parameters)
    os.replace(tmp_output, output)
    shutil.rmtree(work, ignore_errors=True)
    if not quiet:
        print(f"[omicsnb] {name}: done in {wall:.1f} s -> {output}", flush=True)
    return RunRecord(name, profile, output, False, wall, fp, parameters)


def _install_results(produced: Path, target: Path, name: str, profile: str, parameters: dict) -> None:
    tables = json.loads(produced.read_text()) if produced.exists() else {}
    payload = {"notebook": name, "profile": profile, "parameters": parameters, "tables": tables}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, target)


def _stage_book(root: Path) -> None:
    """Copy the book's configuration and prose pages into ``root`` so that a scratch build mirrors the real one."""
    root.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        shutil.copy2(REPO_ROOT / name, root / name)
    for path in BOOK_DIR.rglob("*"):
        rel = path.relative_to(BOOK_DIR)
        if path.is_dir() or path.suffix == ".ipynb" or rel.parts[0] in ("results", "_build") or rel.name.startswith("."):
            continue
        (root / "book" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, root / "book" / rel)


def jupyter_book_build(root: Path) -> None:
    """``jupyter-book build`` with execution off, warnings as errors and nitpicky references."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "--warningiserror", "--nitpick", "--keep-going"]
    print("[omicsnb] " + " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=root)
    if result.returncode != 0:
        raise OmicsRunError(f"jupyter-book build failed (exit {result.returncode}); see {root / '_build' / 'html' / 'reports'}")


def build_book(
    *,
    profile: str = "book",
    out_root: Path | str | None = None,
    only: list[str] | None = None,
    force: bool = False,
    html: bool = True,
) -> list[RunRecord]:
    """Run every notebook (or ``only`` these) at a profile, then render the HTML book.

    The book profile writes into the repository's ``book/`` and builds ``_build/html``. Any other profile, or an
    explicit ``out_root``, stages a copy of the book under a scratch folder so that ``book/`` is never touched.
    """
    from tqdm import tqdm

    specs = discover_notebooks()
    names = list(specs) if not only else [get_notebook(n, specs).name for n in only]
    load_profile(profile, specs)  # reject a bad profile before anything runs
    if out_root is None and profile == "book":
        root = REPO_ROOT
    else:
        root = Path(out_root) if out_root is not None else REPO_ROOT / "_build" / "profiles" / profile
        root = root.resolve()
        if root == REPO_ROOT:
            raise OmicsInputError(f"--out {root} would overwrite the book profile's notebooks; pick a scratch folder")
        _stage_book(root)
    records = []
    bar = tqdm(names, desc=f"notebooks ({profile})", unit="nb")
    for name in bar:
        bar.set_postfix_str(name)
        records.append(run_notebook(name, profile=profile, out_dir=root / "book", force=force))
    bar.close()
    _write_run_log(root / "book" / "results" / "_runs.json", records)
    for rec in records:
        state = "skipped (unchanged)" if rec.skipped else f"{rec.wall_time_s:7.1f} s"
        print(f"[omicsnb]   {rec.name:<28} {state}")
    if html:
        jupyter_book_build(root)
    return records


def _write_run_log(path: Path, records: list[RunRecord]) -> None:
    log = json.loads(path.read_text()) if path.exists() else {}
    for rec in records:
        if not rec.skipped:
            log[rec.name] = {"profile": rec.profile, "wall_time_s": round(rec.wall_time_s, 1), "fingerprint": rec.fingerprint}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(log.items())), indent=1) + "\n")
