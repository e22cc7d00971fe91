"""Which ``omicsnb`` modules a notebook's code can run: the static import closure behind its fingerprint.

A chapter's executed notebook is stale when code it ran has changed, not when any file of the package has (a new
benchmark or a runner fix does not change a chapter's numbers). :func:`notebook_modules` reads the notebook's code
cells, collects every ``import omicsnb...`` / ``from omicsnb... import ...`` (including ``from omicsnb import data``,
which names a subpackage), and follows the package's own imports transitively -- top-level ones and those inside
functions alike -- together with every parent package's ``__init__``. The result is a superset of what a run can
execute, found without running anything, so the same answer comes out in ``omicsnb status`` and in the runner.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "omicsnb"


def _module_file(package_dir: Path, module: str) -> Path | None:
    """The file of a dotted ``omicsnb`` module name (a package's ``__init__.py``), or None if there is none."""
    parts = module.split(".")[1:]
    base = package_dir.joinpath(*parts) if parts else package_dir
    if base.with_suffix(".py").is_file() and parts:
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imports(tree: ast.AST, current: str | None = None) -> set[str]:
    """Dotted ``omicsnb`` module names imported anywhere in ``tree``; ``from X import name`` adds ``X.name`` too
    (kept only when that is a module). Relative imports are resolved against ``current``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level and current:
                base = current.split(".")[: -node.level] if node.level else current.split(".")
                module = ".".join(base + ([module] if module else []))
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _with_parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def import_closure(roots: set[str], package_dir: Path) -> dict[str, Path]:
    """Every ``omicsnb`` module reachable from ``roots`` through imports, with its file."""
    seen: dict[str, Path] = {}
    todo = [m for root in roots for m in _with_parents(root)]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_file(package_dir, module)
        if path is None:  # "from omicsnb.data import load_or_simulate" names a function, not a module
            continue
        seen[module] = path
        is_package = path.name == "__init__.py"
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:
            continue
        current = module if is_package else module  # relative imports resolve from the module's package
        for name in _imports(tree, current + ".__init__" if is_package else current):
            todo.extend(_with_parents(name))
    return seen


def code_cells_imports(sources: list[str]) -> set[str]:
    """``omicsnb`` modules imported by notebook code cells (IPython magics and shell lines are skipped)."""
    found: set[str] = set()
    for source in sources:
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        found |= _imports(tree)
    return found


def notebook_modules(sources: list[str], package_dir: Path) -> dict[str, Path]:
    """The ``omicsnb`` modules (name -> file) that code cells ``sources`` import, directly or indirectly."""
    return import_closure(code_cells_imports(sources) | {PACKAGE}, package_dir)
