"""Run the book: profiles, parameter checks, notebook execution, fingerprints, bookkeeping and the Jupyter Book build.

The book's notebooks live in ``notebooks/`` with their outputs stripped. Each has one cell tagged ``parameters`` whose
values are the *book* profile. A profile (``profiles/<name>.yml``) maps notebook names to parameter overrides:

- ``quick``: seconds per notebook, for tests and CI;
- ``book``: the rendered book (the parameters-cell defaults);
- ``paper``: the seeds' full sizes and hyperparameters, for a GPU machine.

:func:`run_notebook` checks every parameter name, type and input file, and that the output folders are writable,
*before* anything runs. It injects the parameters (papermill's parameteriser), executes the cells one by one in a
fresh kernel (nbclient) showing ``cell i/n`` and the elapsed time, cleans the result (no papermill timing noise, no
stderr, no progress-bar residue, no absolute machine paths), and moves it into place only on success. Scratch folders
live in ``_build/tmp/`` and failed copies in ``_build/failed/``; Ctrl-C or SIGTERM shuts the kernel down, removes the
scratch folder and leaves every output as it was, and the leftovers of a killed run are removed by the next one.

A fingerprint of the notebook source, the parameters, the content of every input file named by a parameter, the
``omicsnb`` code (docstrings and comments stripped) and the dependency lock lets unchanged notebooks be skipped;
:func:`stale_notebooks` (``omicsnb status``) says which committed notebooks are out of date and why. A run on the
reader's own data (an input-file parameter such as ``data_path``) never writes into ``book/``: it goes to
``_build/runs/<name>/``.

Introduced in the book's front matter, *How to run this book*.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from omicsnb.book import update_json, write_json_atomic
from omicsnb.codedeps import notebook_modules
from omicsnb.validation import OmicsInputError

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PROFILE_DIR = REPO_ROOT / "profiles"
BOOK_DIR = REPO_ROOT / "book"
BUILD_DIR = REPO_ROOT / "_build"
PACKAGE_DIR = REPO_ROOT / "omicsnb"
LOCK_FILE = REPO_ROOT / "requirements-lock.txt"
TOC_FILE = REPO_ROOT / "_toc.yml"
CONFIG_FILE = REPO_ROOT / "_config.yml"
NBVAL_DIR = REPO_ROOT / "tests" / "nbval"
RESULTS_ENV = "OMICSNB_RESULTS_DIR"
NOTEBOOK_ENV = "OMICSNB_NOTEBOOK"
RUN_LOG = "_runs.json"
OWNER_FILE = "owner.json"
# Parameters naming files the notebook *writes* are not inputs: their content is not fingerprinted, and they do not
# make a run an own-data run.
OUTPUT_PARAMETER = re.compile(r"(^|_)(out|output|save|write|export)(_|$)")


class OmicsRunError(RuntimeError):
    """A notebook failed while executing; the message says which cell and where the failed copy was kept."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; the message says what was (not) written."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


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


def _show(path: Path) -> str:
    """A path as the user should read it: relative to the repository or the current folder when inside them."""
    path = Path(path)
    for base in (Path.cwd(), REPO_ROOT):
        with contextlib.suppress(ValueError):
            return str(path.resolve().relative_to(base.resolve())) or "."
    return str(path)


# --------------------------------------------------------------------------------------------------------------------
# Notebooks, parameters and profiles
# --------------------------------------------------------------------------------------------------------------------


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


def shared_parameters(specs: dict[str, NotebookSpec], names: list[str], values: dict[str, Any], *, where: str = "-p"
                      ) -> dict[str, dict[str, Any]]:
    """Spread ``values`` over every chapter in ``names`` that has the parameter; a name no chapter has is an error.

    String values are read like ``-p KEY VALUE`` (YAML, except for string parameters); other values are kept.
    """
    per_notebook: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, value in values.items():
        owners = [name for name in names if key in specs[name].parameters]
        if not owners:
            known = sorted({p for name in names for p in specs[name].parameters})
            raise OmicsInputError(
                f"{where} {key}: no chapter in this build has a parameter '{key}'; {_did_you_mean(key, known)}"
                "see `omicsnb list`"
            )
        for name in owners:
            parsed = parse_cli_value(specs[name], key, value) if isinstance(value, str) else value
            validate_parameters(specs[name], {key: parsed})
            per_notebook[name][key] = parsed
    return per_notebook


def load_data_profile(path: Path | str, specs: dict[str, NotebookSpec], names: list[str]
                      ) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """Read a ``--data-profile`` YAML file: ``name`` (the run folder), ``parameters`` for every chapter that has
    them, and optional per-chapter ``notebooks`` overrides. Returns ``(name, overrides per chapter)``."""
    path = Path(path)
    if not path.is_file():
        raise OmicsInputError(f"--data-profile {path}: no such file; write a YAML file with 'parameters:' (see running.md)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise OmicsInputError(f"--data-profile {path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    allowed = ("name", "parameters", "notebooks")
    if not isinstance(data, dict) or any(k not in allowed for k in data):
        bad = next((k for k in data if k not in allowed), None) if isinstance(data, dict) else None
        hint = f"unknown key '{bad}'; {_did_you_mean(str(bad), allowed)}" if bad is not None else "it must be a mapping; "
        raise OmicsInputError(f"--data-profile {path}: {hint}use the keys {', '.join(allowed)}")
    overrides = shared_parameters(specs, names, dict(data.get("parameters") or {}), where=f"--data-profile {path.name}:")
    for name, values in (data.get("notebooks") or {}).items():
        spec = get_notebook(name, specs)
        validate_parameters(spec, values or {})
        if name in overrides:
            overrides[name].update(values or {})
    run_name = data.get("name")
    return (str(run_name) if run_name else None), overrides


def default_out_dir(profile: str) -> Path:
    """Where a profile's executed notebooks go: ``book/`` for the book profile, a scratch folder otherwise."""
    return BOOK_DIR if profile == "book" else BUILD_DIR / "profiles" / profile / "book"


# --------------------------------------------------------------------------------------------------------------------
# Input files, own-data runs and fingerprints
# --------------------------------------------------------------------------------------------------------------------


def input_files(parameters: dict[str, Any]) -> dict[str, Path]:
    """The input files (or folders) a parameter set names: every non-empty string parameter called ``*_path`` or
    ``*_file``, or whose value is an existing file, except output parameters (``imputed_output_path``, ...)."""
    files = {}
    for key, value in parameters.items():
        if not isinstance(value, str) or not value.strip() or OUTPUT_PARAMETER.search(key):
            continue
        try:
            path = Path(value).expanduser()
            is_file = path.is_file()
        except (OSError, ValueError):
            continue
        if key.endswith(("_path", "_file")) or is_file:
            files[key] = path
    return files


def own_data_files(spec: NotebookSpec, parameters: dict[str, Any]) -> dict[str, Path]:
    """Input files that differ from the parameters-cell defaults: a run with any of these is an own-data run."""
    defaults = {k: p.default for k, p in spec.parameters.items()}
    return {k: p for k, p in input_files(parameters).items() if parameters[k] != defaults.get(k)}


def _check_input_files(spec: NotebookSpec, files: dict[str, Path]) -> None:
    for key, path in files.items():
        if not path.exists():
            raise OmicsInputError(f"parameter '{key}' of {spec.name}: no file at {path}; give an existing file (or '' for none)")


def run_name_for(files: dict[str, Path], name: str | None = None) -> str:
    """The folder name of an own-data run under ``_build/runs/``: ``name`` if given, else the data file's stem."""
    if not name:
        path = files.get("data_path") or next(iter(files.values()), None)
        name = path.stem if path is not None else "own-data"
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    if not clean:
        raise OmicsInputError(f"--name {name!r} has no letters or digits; choose a folder name such as 'pbmc'")
    return clean


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_digest(source: str) -> str:
    """Hash of Python code that ignores docstrings, comments and formatting (the ``ast`` round trip drops them)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return _sha(source.encode())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return _sha(ast.unparse(tree).encode())


_CODE_CACHE: dict[tuple[str, int, int], str] = {}


def package_files_digests() -> dict[str, str]:
    """Per-file :func:`code_digest` of ``omicsnb/*.py`` (cached by modification time), keyed by relative path."""
    digests = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in _CODE_CACHE:
            _CODE_CACHE[key] = code_digest(path.read_text())
        digests[path.relative_to(PACKAGE_DIR).as_posix()] = _CODE_CACHE[key]
    return digests


def _file_digest(path: Path) -> str | None:
    """SHA-256 of a file's bytes, or of every file under a folder (with their relative names); None if absent."""
    if path.is_dir():
        digest = hashlib.sha256()
        for sub in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(sub.relative_to(path)).encode())
            digest.update((_file_digest(sub) or "").encode())
        return digest.hexdigest()
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def notebook_package_files(nb) -> dict[str, str]:
    """:func:`code_digest` of the ``omicsnb`` files a notebook's code can run (its static import closure, see
    :mod:`omicsnb.codedeps`), keyed by path relative to the package. A change elsewhere in the package (the runner, a
    benchmark, another chapter's model) does not make the notebook stale."""
    modules = notebook_modules([c.source for c in nb.cells if c.cell_type == "code"], PACKAGE_DIR)
    used = {path.relative_to(PACKAGE_DIR).as_posix() for path in modules.values()}
    return {rel: code for rel, code in package_files_digests().items() if rel in used}


def fingerprint_parts(spec: NotebookSpec, parameters: dict[str, Any]) -> dict[str, Any]:
    """What a run depends on, hashed part by part: notebook source, parameters, input files, the package code the
    notebook imports (directly or not), lock file."""
    source = hashlib.sha256()
    nb = nbformat.read(spec.path, as_version=4)
    for cell in nb.cells:
        source.update(cell.cell_type.encode())
        source.update(cell.source.encode())
        source.update(json.dumps(cell.metadata.get("tags", [])).encode())
    files = notebook_package_files(nb)
    return {
        "source": source.hexdigest(),
        "parameters": _sha(json.dumps(parameters, sort_keys=True).encode()),
        "data": {key: _file_digest(path) for key, path in sorted(input_files(parameters).items())},
        "package": _sha(json.dumps(files, sort_keys=True).encode()),
        "package_files": {rel: code[:12] for rel, code in files.items()},
        "lock": _file_digest(LOCK_FILE),
    }


def _combine(parts: dict[str, Any]) -> str:
    return _sha(json.dumps(parts, sort_keys=True).encode())[:16]


def fingerprint(spec: NotebookSpec, parameters: dict[str, Any]) -> str:
    """One short hash of :func:`fingerprint_parts`."""
    return _combine(fingerprint_parts(spec, parameters))


def _stored_meta(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return dict(nbformat.read(path, as_version=4).metadata.get("omicsnb", {}))
    except Exception:  # an unreadable old output is simply re-run
        return {}


def _stored_fingerprint(path: Path) -> str | None:
    return _stored_meta(path).get("fingerprint")


_PART_REASONS = {
    "source": "its source notebook changed",
    "package": "the omicsnb code changed",
    "lock": "requirements-lock.txt changed",
}


def stale_reasons(path: Path, specs: dict[str, NotebookSpec] | None = None) -> list[str]:
    """Why the executed notebook at ``path`` no longer matches the current code, profile, data, lock and source
    (empty when it is up to date)."""
    specs = discover_notebooks() if specs is None else specs
    if path.stem not in specs:
        return [f"there is no notebooks/{path.name} any more"]
    meta = _stored_meta(path)
    stored = meta.get("fingerprint_parts")
    if not stored or "fingerprint" not in meta:
        return ["it was written by an older runner (no fingerprint parts); rerun it"]
    spec = specs[path.stem]
    profile = meta.get("profile", "book")
    try:
        expected = validate_parameters(spec, load_profile(profile, specs)[spec.name])
    except OmicsInputError as exc:
        return [f"its profile '{profile}' cannot be read ({exc})"]
    reasons = []
    current = fingerprint_parts(spec, expected)
    for part, why in _PART_REASONS.items():
        if stored.get(part) != current[part]:
            if part == "package" and stored.get("package_files") is not None:
                now, then = current["package_files"], stored["package_files"]
                changed = sorted(rel for rel in set(now) | set(then) if now.get(rel) != then.get(rel))
                shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
                why = f"{why} ({shown})" if changed else why
            reasons.append(why)
    if stored.get("parameters") != current["parameters"]:
        ran = meta.get("parameters", {})
        diff = [f"{k}={ran.get(k)!r} (profile: {v!r})" for k, v in expected.items() if ran.get(k) != v]
        reasons.append(f"its parameters differ from profile '{profile}': " + (", ".join(diff) or "parameter set changed"))
    stored_data, current_data = stored.get("data", {}), current["data"]
    for key in sorted(set(stored_data) | set(current_data)):
        if stored_data.get(key) != current_data.get(key):
            where = expected.get(key) or meta.get("parameters", {}).get(key)
            state = "changed" if current_data.get(key) else "is missing"
            reasons.append(f"input file {key}={where!r} {state}")
    if not reasons and meta["fingerprint"] != _combine(current):
        reasons.append("its fingerprint does not match (rerun it)")
    return reasons


def stale_notebooks(folders: list[Path] | None = None) -> list[tuple[Path, list[str]]]:
    """Every committed executed notebook (``book/`` and ``tests/nbval/`` by default) with its stale reasons.

    In the default folders a source notebook without an executed copy is reported too (it was never run there).
    """
    specs = discover_notebooks()
    defaults = folders is None
    folders = [BOOK_DIR, NBVAL_DIR] if defaults else [Path(f) for f in folders]
    report = []
    for folder in folders:
        if not folder.is_dir():
            if defaults:
                continue
            raise OmicsInputError(f"status: no folder {folder}; name a folder of executed notebooks, e.g. book")
        executed = sorted(folder.glob("*.ipynb"))
        for path in executed:
            report.append((path, stale_reasons(path, specs)))
        if defaults:
            have = {p.stem for p in executed}
            report.extend((folder / f"{name}.ipynb", ["it has never been run into this folder"]) for name in specs if name not in have)
    return sorted(report, key=lambda item: str(item[0]))


# --------------------------------------------------------------------------------------------------------------------
# Cleaning an executed notebook
# --------------------------------------------------------------------------------------------------------------------

_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def machine_paths(extra: list[Path | str] = ()) -> list[tuple[str, str]]:
    """(absolute path, replacement) pairs to scrub from saved notebooks, most specific first.

    The repository and the current folder become relative paths, the home folder ``~``, temporary folders ``<tmp>``.
    """
    pairs: dict[str, str] = {}

    def add(path, replacement):
        for variant in {str(path), os.path.realpath(str(path))}:
            variant = variant.rstrip(os.sep)
            if variant:
                if replacement == ".":
                    pairs.setdefault(variant + os.sep, "")  # /repo/omicsnb/x.py -> omicsnb/x.py
                pairs.setdefault(variant, replacement)

    for path in extra:
        add(path, "<tmp>")
    add(REPO_ROOT, ".")
    add(Path.cwd(), ".")
    add(Path.home(), "~")
    add(tempfile.gettempdir(), "<tmp>")
    add("/tmp", "<tmp>")
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def _scrubber(pairs: list[tuple[str, str]]):
    if not pairs:
        return lambda text: text
    boundary = r"(?=$|[/\\\s'\"`)\]},:;>|])"
    pattern = re.compile("|".join(re.escape(p) + ("" if p.endswith(os.sep) else boundary) for p, _ in pairs))
    lookup = dict(pairs)

    def scrub(text: str) -> str:
        return pattern.sub(lambda match: lookup[match.group(0)], text)

    return scrub


def _scrub_json(value, scrub):
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrub_json(v, scrub) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_json(v, scrub) for k, v in value.items()}
    return value


def _last_carriage_return(text: str) -> str:
    """What a terminal would show of ``text``: every line keeps only what follows its last carriage return."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def clean_outputs(nb, *, extra_paths: list[Path | str] = ()):
    """Strip stderr streams, progress-bar residue (carriage returns, widget views) and absolute machine paths from
    the outputs, the injected parameters and the metadata of an executed notebook."""
    scrub = _scrubber(machine_paths(extra_paths))
    nb.metadata.pop("widgets", None)
    nb.metadata = nbformat.from_dict(_scrub_json(dict(nb.metadata), scrub))
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict(_scrub_json(dict(cell.metadata), scrub))
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = scrub(cell.source)
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream":
                if out.name == "stderr":
                    continue
                out.text = scrub(_last_carriage_return(out.text))
                if not out.text.strip():
                    continue
            elif out.output_type in ("display_data", "execute_result"):
                out.data.pop(_WIDGET_MIME, None)
                if not out.data:
                    continue
                for mime, value in list(out.data.items()):
                    if not mime.startswith("image/"):
                        out.data[mime] = _scrub_json(value, scrub)
            elif out.output_type == "error":
                out.evalue = scrub(out.evalue)
                out.traceback = [scrub(line) for line in out.traceback]
            kept.append(out)
        cell.outputs = kept
    return nb


def clean_output(nb, *, fingerprint_: str, profile: str, parameters: dict, wall_time_s: float, parts: dict | None = None,
                 extra_paths: list[Path | str] = ()):
    """Strip papermill's metadata noise, hide the injected-parameters cell, clean the outputs and stamp the run."""
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
        "fingerprint_parts": parts or {},
        "profile": profile,
        "parameters": parameters,
        "wall_time_s": round(wall_time_s, 1),
    }
    return clean_outputs(nb, extra_paths=extra_paths)


# --------------------------------------------------------------------------------------------------------------------
# Scratch folders, leftovers, writable outputs, atomic installs
# --------------------------------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def _owner_alive(folder: Path) -> bool:
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
        return owner.get("host") != os.uname().nodename or _pid_alive(int(owner["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return time.time() - folder.stat().st_mtime < 60  # being created right now, or long dead


def sweep_leftovers(out_dir: Path | None = None) -> list[Path]:
    """Remove what killed runs left behind: their ``_build/tmp`` folders, half-written JSON temporaries, and the
    hidden folders the old runner kept inside the output folder. Returns what was removed."""
    removed = []
    tmp_root = BUILD_DIR / "tmp"
    if tmp_root.is_dir():
        for folder in tmp_root.iterdir():
            if folder.is_dir() and not _owner_alive(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    if out_dir is not None and out_dir.is_dir():
        for path in [*out_dir.iterdir(), *((out_dir / "results").iterdir() if (out_dir / "results").is_dir() else [])]:
            match = re.match(r"^\..+\.(\d+)\.[^.]+\.tmp$", path.name)
            if match and path.is_file() and not _pid_alive(int(match.group(1))):
                path.unlink(missing_ok=True)
                removed.append(path)
            elif path.is_dir() and path.name.startswith(".") and (path.name == ".failed" or re.match(r"^\.\d\d_\w+-", path.name)):
                shutil.rmtree(path, ignore_errors=True)  # the old runner's scratch and failed copies, inside book/
                removed.append(path)
            elif path.is_file() and path.name.endswith(".json.tmp"):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def ensure_writable(folder: Path, what: str = "output folder") -> None:
    """Prove that ``folder`` can be written (or, if it does not exist yet, created) without creating anything that
    stays behind, or refuse in one line."""
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        if not probe.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{_show(probe)} is a file")
        with tempfile.TemporaryFile(dir=probe, prefix=".omicsnb-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OmicsInputError(
            f"cannot write to the {what} {_show(folder)} ({reason}); make it writable or choose another folder with --out"
        ) from None


def _make_work_dir(name: str) -> Path:
    root = BUILD_DIR / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    (work / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "started": time.time()}))
    return work


def _install(src: Path, dst: Path) -> None:
    """Move ``src`` onto ``dst`` atomically, also across file systems (through a temporary name next to ``dst``)."""
    try:
        os.replace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.{os.getpid()}.", suffix=".tmp")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        finally:
            Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Inside the block SIGTERM raises KeyboardInterrupt, like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _sigint_ignored():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM while outputs are being moved into place; they are delivered when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)


# --------------------------------------------------------------------------------------------------------------------
# Executing a notebook
# --------------------------------------------------------------------------------------------------------------------


PROGRESS_LOG_EVERY_S = 60.0


class _CellProgress:
    """Where a run is: ``[omicsnb] NAME: cell i/n, 01:23 elapsed``.

    ``mode`` "bar": one line redrawn in place every second (an interactive stderr); "log": the same line printed
    once a minute (a log file or CI, where redrawing would leave hundreds of lines); "off": nothing.
    """

    def __init__(self, name: str, total: int, mode: str):
        from tqdm import tqdm

        self.mode, self.name, self.total, self.k = mode, name, total, 0
        self.start = time.perf_counter()
        self.bar = tqdm(
            total=total, desc=f"[omicsnb] {name}", bar_format="{desc}: cell {n_fmt}/{total_fmt}, {elapsed} elapsed",
            leave=False, disable=mode != "bar", file=sys.stderr, mininterval=0.5,
        )
        self._stop = threading.Event()
        self._thread = None
        if mode != "off":
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _tick(self):
        every = 1.0 if self.mode == "bar" else PROGRESS_LOG_EVERY_S
        while not self._stop.wait(every):
            with contextlib.suppress(Exception):
                if self.mode == "bar":
                    self.bar.refresh()
                else:
                    elapsed = time.strftime("%M:%S", time.gmtime(time.perf_counter() - self.start))
                    print(f"[omicsnb] {self.name}: cell {self.k}/{self.total}, {elapsed} elapsed", file=sys.stderr, flush=True)

    def cell(self, k: int) -> None:
        self.k = k
        self.bar.n = k
        self.bar.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.bar.close()


def _kernel_manager(kernel_name: str):
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(kernel_name=kernel_name)
    # With CurveZMQ keys the kernel's channels are encrypted, so ipykernel has no reason to warn that it is
    # "running over TCP without encryption" (kernelapp.init_sockets); without curve support, talk over IPC sockets.
    if zmq.has("curve") and km.has_trait("curve_secretkey"):  # jupyter_client hands them to the kernel
        km.curve_publickey, km.curve_secretkey = zmq.curve_keypair()
    return km


def _cancel_pending_tasks() -> None:
    """After an interrupt: cancel the cell that was waiting for the kernel, and keep the abandoned tasks of this
    event loop from printing "Task exception was never retrieved" tracebacks when they are collected."""
    import asyncio

    from jupyter_core.utils import ensure_event_loop

    with contextlib.suppress(BaseException):
        loop = ensure_event_loop()
        loop.set_exception_handler(lambda loop, context: None)
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))


def _execute(nb, *, name: str, kernel_name: str, cwd: str, env: dict, work: Path, progress: str):
    """Run every code cell of ``nb`` in a fresh kernel, in order; the kernel is always shut down afterwards."""
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    km = _kernel_manager(kernel_name)
    if not getattr(km, "curve_secretkey", None):
        km.transport, km.ip = "ipc", str(work / "kernel")
    client = NotebookClient(nb, km=km, kernel_name=kernel_name, timeout=None, allow_errors=False,
                            resources={"metadata": {"path": cwd}})
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    bar = _CellProgress(name, len(code), progress)
    try:
        with client.setup_kernel(cleanup_kc=True, env=env, cwd=cwd):
            try:
                async def kernel_info():
                    reply = await client.async_wait_for_reply(client.kc.kernel_info())
                    if reply and "language_info" in reply["content"]:
                        nb.metadata["language_info"] = reply["content"]["language_info"]

                run_sync(kernel_info)()
                for k, index in enumerate(code, 1):
                    bar.cell(k)
                    client.execute_cell(nb.cells[index], index, execution_count=k)
            except BaseException:
                client.shutdown_kernel = "immediate"
                if not isinstance(sys.exc_info()[1], Exception):
                    _cancel_pending_tasks()
                raise
    finally:
        bar.close()
    return nb


def _failure_reason(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}".strip().splitlines()[0][:300]
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def run_notebook(
    name: str,
    *,
    profile: str = "book",
    overrides: dict[str, Any] | None = None,
    out_dir: Path | str | None = None,
    force: bool = False,
    kernel_name: str = "python3",
    quiet: bool = False,
    run_name: str | None = None,
    progress: bool | None = None,
) -> RunRecord:
    """Execute one notebook at a profile (plus overrides) into ``out_dir`` and write its results table.

    The output is ``out_dir/NAME.ipynb``; the headline numbers the notebook records go to
    ``out_dir/results/NAME.json`` and the wall time to ``out_dir/results/_runs.json``. Nothing in ``out_dir``
    changes unless the run succeeds. A run on the reader's own data (an input-file parameter such as ``data_path``)
    defaults to ``_build/runs/<run_name or the data file's stem>/book/`` and is never written into ``book/``.
    ``progress`` shows ``cell i/n`` and the elapsed time: True, one line redrawn in place; None (default), that on a
    terminal and otherwise the same line once a minute; False, nothing.
    """
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    specs = discover_notebooks()
    spec = get_notebook(name, specs)
    values = {**load_profile(profile, specs)[name], **(overrides or {})}
    parameters = validate_parameters(spec, values)
    own = own_data_files(spec, parameters)
    _check_input_files(spec, own)
    if out_dir is None:
        out_dir = BUILD_DIR / "runs" / run_name_for(own, run_name) / "book" if own else default_out_dir(profile)
    out_dir = Path(out_dir).resolve()
    if out_dir == NOTEBOOK_DIR.resolve():
        raise OmicsInputError("--out points at notebooks/, the stripped sources; choose another folder (default: book/)")
    if own and out_dir == BOOK_DIR.resolve():
        raise OmicsInputError(
            f"{name} runs on your own data ({', '.join(own)}), which never goes into book/; drop --out to use "
            "_build/runs/<name>/ or choose another folder"
        )
    output = out_dir / f"{name}.ipynb"
    parts = fingerprint_parts(spec, parameters)
    fp = _combine(parts)
    if not force and _stored_fingerprint(output) == fp:
        if not quiet:
            print(f"[omicsnb] {name}: skipped (unchanged; --force reruns it)", flush=True)
        return RunRecord(name, profile, output, True, 0.0, fp, parameters)

    ensure_writable(out_dir)
    ensure_writable(out_dir / "results", "results folder")
    removed = sweep_leftovers(out_dir)
    if removed and not quiet:
        print(f"[omicsnb] removed {len(removed)} leftover(s) of interrupted runs: {', '.join(_show(p) for p in removed)}")
    if quiet or progress is False:
        show_progress = "off"
    else:
        show_progress = "bar" if progress or sys.stderr.isatty() else "log"
    work = _make_work_dir(name)
    committed = False
    try:
        with _sigterm_as_interrupt():
            nb = parameterize_notebook(load_notebook_node(str(spec.path)), parameters, kernel_name=kernel_name)
            # figures must reach the notebook: a non-interactive MPLBACKEND in the caller's environment (make exports
            # Agg for the tests) would make plt.show() draw nothing, so the kernel always gets the inline backend
            env = {**os.environ, RESULTS_ENV: str(work / "results"), NOTEBOOK_ENV: name,
                   "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
            if not quiet:
                print(f"[omicsnb] {name}: running at profile '{profile}' -> {_show(output)}", flush=True)
            start = time.perf_counter()
            try:
                _execute(nb, name=name, kernel_name=kernel_name, cwd=os.getcwd(), env=env, work=work, progress=show_progress)
            except Exception as exc:
                failed = BUILD_DIR / "failed"
                failed.mkdir(parents=True, exist_ok=True)
                kept = failed / f"{name}.ipynb"
                with contextlib.suppress(Exception):  # kept as it ran (stderr included): it is for debugging
                    nbformat.write(nb, kept)
                raise OmicsRunError(f"{name} failed ({_failure_reason(exc)}); the failed notebook is kept at {_show(kept)}") from None
            wall = time.perf_counter() - start
            clean_output(nb, fingerprint_=fp, profile=profile, parameters=parameters, wall_time_s=wall, parts=parts,
                         extra_paths=[work])
            from . import course  # the hidden install cell a notebook opened in Colab needs (never executed here)

            course.add_install_cell(nb, *course.repository(CONFIG_FILE))
            tmp_output = work / f"{name}.ipynb"
            nbformat.write(nb, tmp_output)
            record = RunRecord(name, profile, output, False, wall, fp, parameters)
            with _signals_held():
                out_dir.mkdir(parents=True, exist_ok=True)
                _install_results(work / "results" / f"{name}.json", out_dir / "results" / f"{name}.json", name, profile, parameters)
                _install(tmp_output, output)
                log_runs(out_dir / "results" / RUN_LOG, [record], quiet=quiet)
                committed = True
    except KeyboardInterrupt:
        with _sigint_ignored():  # a second Ctrl-C must not interrupt the clean-up
            shutil.rmtree(work, ignore_errors=True)
        if committed:
            raise RunInterrupted(f"{name} was written to {_show(output)} just before the interrupt") from None
        raise RunInterrupted(f"{name} not written; nothing changed") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not quiet:
        print(f"[omicsnb] {name}: done in {wall:.1f} s -> {_show(output)}", flush=True)
    return record


def _install_results(produced: Path, target: Path, name: str, profile: str, parameters: dict) -> None:
    tables = json.loads(produced.read_text()) if produced.exists() else {}
    payload = {"notebook": name, "profile": profile, "parameters": parameters, "tables": tables}
    payload = _scrub_json(payload, _scrubber(machine_paths()))
    write_json_atomic(target, payload)


def _rebuild_run_log(book_dir: Path) -> dict:
    log = {}
    for path in sorted(book_dir.glob("*.ipynb")):
        meta = _stored_meta(path)
        if "fingerprint" in meta:
            log[path.stem] = {"profile": meta.get("profile"), "wall_time_s": meta.get("wall_time_s"),
                              "fingerprint": meta["fingerprint"]}
    return log


def log_runs(path: Path, records: list[RunRecord], *, quiet: bool = False) -> dict:
    """Add the wall times of ``records`` to ``path`` (``_runs.json``) under a file lock, atomically.

    A corrupt log is rebuilt from the executed notebooks next to its folder (each carries its own wall time), and
    the rebuild is reported on stderr.
    """
    path = Path(path)

    def rebuild():
        print(f"[omicsnb] {_show(path)} was not valid JSON; rebuilt it from the notebooks in {_show(path.parent.parent)}",
              file=sys.stderr, flush=True)
        return _rebuild_run_log(path.parent.parent)

    def change(log):
        for rec in records:
            if not rec.skipped:
                log[rec.name] = {"profile": rec.profile, "wall_time_s": round(rec.wall_time_s, 1), "fingerprint": rec.fingerprint}
        return dict(sorted(log.items()))

    return update_json(path, change, rebuild=rebuild)


# --------------------------------------------------------------------------------------------------------------------
# Building the book
# --------------------------------------------------------------------------------------------------------------------


def _chapter_files(specs) -> set[str]:
    return {f"book/{name}" for name in specs}


def filtered_toc(names: list[str], specs: dict[str, NotebookSpec]) -> dict:
    """The repository's ``_toc.yml`` keeping only the chapters in ``names`` (and every prose page)."""
    toc = yaml.safe_load(TOC_FILE.read_text())
    chapters, keep = _chapter_files(specs), {f"book/{n}" for n in names}

    def entries(items):
        kept = []
        for entry in items or []:
            if entry.get("file") in chapters and entry["file"] not in keep:
                continue
            entry = dict(entry)
            if "sections" in entry:
                entry["sections"] = entries(entry["sections"])
                if not entry["sections"]:
                    entry.pop("sections")
            kept.append(entry)
        return kept

    if "parts" in toc:
        parts = []
        for part in toc["parts"]:
            part = dict(part)
            part["chapters"] = entries(part.get("chapters"))
            if part["chapters"]:
                parts.append(part)
        toc["parts"] = parts
    for key in ("chapters", "sections"):
        if key in toc:
            toc[key] = entries(toc[key])
    return toc


def _notebook_title(spec: NotebookSpec) -> str:
    nb = nbformat.read(spec.path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return spec.name


def _unlink_missing_docs(text: str, missing: dict[str, str]) -> str:
    """Turn ``{doc}`` references to chapters left out of this build into their titles in italics (a reference to a
    page that is not built would fail ``-W``)."""

    def replace(match):
        inner = match.group(1)
        label, _, target = inner.partition("<")
        target = (target.rstrip(">") if target else inner).strip()
        stem = Path(target).name
        if stem not in missing:
            return match.group(0)
        return f"*{label.strip() if _ else missing[stem]}*"

    return re.sub(r"\{doc\}`([^`]+)`", replace, text)


def _stage_book(root: Path, names: list[str], specs: dict[str, NotebookSpec]) -> None:
    """Copy the book's configuration and prose pages into ``root`` with a table of contents of just ``names``."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CONFIG_FILE, root / CONFIG_FILE.name)
    toc = yaml.safe_dump(filtered_toc(names, specs), sort_keys=False)
    write_text_atomic(root / TOC_FILE.name, toc)
    missing = {n: _notebook_title(specs[n]) for n in specs if n not in names}
    for path in BOOK_DIR.rglob("*"):
        rel = path.relative_to(BOOK_DIR)
        hidden = any(part.startswith(".") for part in rel.parts)
        if path.is_dir() or path.suffix == ".ipynb" or rel.parts[0] in ("results", "_build") or hidden:
            continue
        target = root / "book" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".md" and missing:
            target.write_text(_unlink_missing_docs(path.read_text(), missing))
        else:
            shutil.copy2(path, target)


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def jupyter_book_build(root: Path) -> None:
    """``jupyter-book build`` with execution off, warnings as errors and nitpicky references.

    Every page is rewritten (``--all``): an incremental Sphinx build that finds an environment from an earlier build
    but no search index (a half-removed ``_build``, an interrupted build) warns "search index couldn't be loaded",
    which ``-W`` turns into a failed build. The notebooks themselves are not re-executed (execution is off).
    """
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "--all", "--warningiserror", "--nitpick",
           "--keep-going"]
    print("[omicsnb] " + " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=root)
    if result.returncode != 0:
        raise OmicsRunError(f"jupyter-book build failed (exit {result.returncode}); see {root / '_build' / 'html' / 'reports'}")


def _run_one_in_worker(name: str, kwargs: dict, threads: int, module_paths: dict[str, Path]):
    """One notebook of a parallel build, in a worker process: ``(name, record, None)`` or ``(name, None, error)``."""
    globals().update(module_paths)  # the folders the parent points the runner at (tests point them at a tmp book)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)  # the kernel inherits them
    try:
        return name, run_notebook(name, quiet=True, progress=False, **kwargs), None
    except KeyboardInterrupt:
        return name, None, "interrupted"
    except Exception as exc:  # noqa: BLE001 - reported with the others at the end of the build
        return name, None, f"{type(exc).__name__}: {exc}" if not isinstance(exc, (OmicsRunError, OmicsInputError)) else str(exc)


def _run_parallel(names: list[str], jobs: int, *, profile: str, overrides: dict, out_dir: Path, force: bool,
                  run_name: str | None) -> list[RunRecord]:
    """Run independent notebooks in ``jobs`` worker processes, each kernel with ``cores // jobs`` threads.

    Prints one line per finished notebook; a failure does not stop the others. Every failure is listed at the end
    and raised as one :class:`OmicsRunError` (so the HTML is not built); the notebooks that succeeded are kept.
    Outputs are the same as a serial build's: each notebook runs exactly as :func:`run_notebook` would run it.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // jobs)
    paths = {k: v for k, v in globals().items() if k.isupper() and isinstance(v, Path)}
    print(f"[omicsnb] running {len(names)} notebook(s) in {min(jobs, len(names))} processes, {threads} thread(s) each",
          flush=True)
    done: dict[str, RunRecord] = {}
    failures: list[tuple[str, str]] = []
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(names)) or 1, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(_run_one_in_worker, name, dict(profile=profile, overrides=overrides[name], out_dir=out_dir,
                                                              force=force, run_name=run_name), threads, paths)
                   for name in names]
        for k, future in enumerate(as_completed(futures), 1):
            name, record, error = future.result()
            if error is None:
                done[name] = record
                state = "skipped (unchanged)" if record.skipped else f"done in {record.wall_time_s:.1f} s"
            else:
                failures.append((name, error))
                state = "FAILED"
            print(f"[omicsnb] ({k}/{len(names)}) {name}: {state}", flush=True)
    except KeyboardInterrupt:
        for process in list(getattr(pool, "_processes", {}).values()):  # each running notebook stops cleanly on SIGTERM
            with contextlib.suppress(Exception):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        kept = ", ".join(done) or "nothing"
        raise RunInterrupted(f"parallel build stopped; finished notebooks kept: {kept}; the HTML was not built") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failures:
        for name, error in failures:
            print(f"[omicsnb] failed: {name}: {error}", flush=True)
        ok = ", ".join(n for n in names if n in done) or "none"
        raise OmicsRunError(f"{len(failures)} of {len(names)} notebook(s) failed ({', '.join(n for n, _ in failures)}); "
                            f"the others were written ({ok}); the HTML was not built")
    return [done[name] for name in names]


def build_book(
    *,
    profile: str = "book",
    out_root: Path | str | None = None,
    only: list[str] | None = None,
    force: bool = False,
    html: bool = True,
    params: dict[str, Any] | None = None,
    data_profile: Path | str | None = None,
    run_name: str | None = None,
    progress: bool | None = None,
    student: bool = False,
    jobs: int = 1,
) -> list[RunRecord]:
    """Run every notebook (or ``only`` these) at a profile, then render the HTML book.

    ``params`` (``-p``) and ``data_profile`` (``--data-profile``) apply to every chapter that has the parameter. The
    book profile writes into the repository's ``book/`` and builds ``_build/html``. Any other profile, or an explicit
    ``out_root``, stages a copy of the book under a scratch folder, with a table of contents of just the chapters
    built. A build on the reader's own data goes to ``_build/runs/<name>/``; ``book/`` is never touched.
    ``student`` renders, instead of the book, its student edition (solutions removed, see ``omicsnb.course``) from a
    copy in ``<root>/_build/student``.
    ``jobs`` > 1 runs the notebooks in that many worker processes (see :func:`_run_parallel`).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise OmicsInputError(f"--jobs {jobs!r} must be a whole number of at least 1 (1 runs the notebooks one by one)")
    specs = discover_notebooks()
    names = list(specs) if not only else [n for n in specs if n in {get_notebook(o, specs).name for o in only}]
    base = load_profile(profile, specs)  # reject a bad profile before anything runs
    overrides: dict[str, dict[str, Any]] = {name: {} for name in names}
    if data_profile is not None:
        profile_name, from_file = load_data_profile(data_profile, specs, names)
        run_name = run_name or profile_name
        for name in names:
            overrides[name].update(from_file[name])
    for name, values in shared_parameters(specs, names, dict(params or {})).items():
        overrides[name].update(values)
    own: dict[str, Path] = {}
    for name in names:  # every chapter's parameters and input files are checked before the first one runs
        parameters = validate_parameters(specs[name], {**base[name], **overrides[name]})
        files = own_data_files(specs[name], parameters)
        _check_input_files(specs[name], files)
        own.update(files)
    if out_root is None and profile == "book" and not own:
        root = REPO_ROOT
    else:
        if out_root is not None:
            root = Path(out_root)
        elif own:
            root = BUILD_DIR / "runs" / run_name_for(own, run_name)
        else:
            root = BUILD_DIR / "profiles" / profile
        root = root.resolve()
        if root == REPO_ROOT:
            raise OmicsInputError(f"--out {root} would overwrite the book profile's notebooks; pick a scratch folder")
    for folder, what in ((root, "build folder"), (root / "book", "output folder"), (root / "book" / "results", "results folder")):
        ensure_writable(folder, what)
    if root != REPO_ROOT:
        _stage_book(root, names, specs)
    records = []
    if jobs > 1:
        records = _run_parallel(names, jobs, profile=profile, overrides=overrides, out_dir=root / "book", force=force,
                                run_name=run_name)
    for i, name in enumerate(names if jobs <= 1 else [], 1):
        print(f"[omicsnb] ({i}/{len(names)}) {name}", flush=True)
        try:
            records.append(run_notebook(name, profile=profile, overrides=overrides[name], out_dir=root / "book", force=force,
                                        run_name=run_name, progress=progress))
        except RunInterrupted as exc:
            done = [r.name for r in records if not r.skipped]
            if done and exc.message.endswith("nothing changed"):
                written = ", ".join(done)
                raise RunInterrupted(f"{name} not written; {written} ran before it and {'is' if len(done) == 1 else 'are'} "
                                     "kept; the HTML was not built") from None
            raise RunInterrupted(exc.message + ("; the HTML was not built" if html else "")) from None
    print(f"[omicsnb] {len(records)} notebook(s) at profile '{profile}' in {_show(root / 'book')}:")
    for rec in records:
        state = "skipped (unchanged)" if rec.skipped else f"ran in {rec.wall_time_s:.1f} s"
        print(f"[omicsnb]   {rec.name:<28} {state}")
    if any(rec.skipped for rec in records) and not force:
        print("[omicsnb] skipped notebooks match their fingerprint; --force (make book FORCE=1) reruns them")
    from . import whatworks

    print(f"[omicsnb] wrote {_show(whatworks.write_page(root))} from the chapters' claims tables", flush=True)
    from . import course

    course.write_timings(root / "book" / "instructors.md", REPO_ROOT, root)  # the instructors' timing table
    if student:
        student_root = root / "_build" / "student"
        removed = course.make_student_book(root, student_root)
        print(f"[omicsnb] student edition in {_show(student_root)}: {sum(removed.values())} solution(s) removed "
              f"from {sum(1 for n in removed.values() if n)} file(s)", flush=True)
        root = student_root
    if html:
        jupyter_book_build(root)
    return records
