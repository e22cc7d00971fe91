"""The static import closure behind a notebook's fingerprint (omicsnb.codedeps)."""

from __future__ import annotations

from pathlib import Path

from omicsnb.codedeps import code_cells_imports, notebook_modules


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "omicsnb"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""top"""\n')
    (pkg / "validation.py").write_text("X = 1\n")
    (pkg / "data" / "__init__.py").write_text("from omicsnb.data.loaders import load\n")
    (pkg / "data" / "loaders.py").write_text("from omicsnb.validation import X\ndef load():\n    return X\n")
    (pkg / "models.py").write_text("def fit():\n    from omicsnb import plotting  # an import inside a function\n")
    (pkg / "plotting.py").write_text("Y = 2\n")
    (pkg / "runner.py").write_text("import omicsnb.models\n")
    return pkg


def test_closure_follows_subpackages_parents_and_imports_inside_functions(tmp_path):
    pkg = _package(tmp_path)
    mods = notebook_modules(["%matplotlib inline\nfrom omicsnb import data\n", "import numpy as np"], pkg)
    assert set(mods) == {"omicsnb", "omicsnb.data", "omicsnb.data.loaders", "omicsnb.validation"}
    mods = notebook_modules(["from omicsnb.models import fit\nfit()"], pkg)
    assert set(mods) == {"omicsnb", "omicsnb.models", "omicsnb.plotting"}  # not runner.py, which nothing imports


def test_cells_that_do_not_parse_are_skipped():
    assert code_cells_imports(["def broken(:\n", "!pip install x\nimport omicsnb.book"]) == {"omicsnb.book"}
