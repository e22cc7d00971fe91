"""The setup files agree with each other: conda users get the same pins as `make`."""

from __future__ import annotations

import re

import yaml

from omicsnb.runner import REPO_ROOT


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "requirements-lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_environment_yml_pins_match_the_lock_file():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    lock = _lock()
    for spec in pip:
        name, version = spec.split("==")
        assert lock[re.sub(r"[-_.]+", "-", name).lower()] == version, f"environment.yml pins {spec}, the lock differs"


def test_torch_and_jupyter_book_pins():
    lock = _lock()
    assert lock["torch"] == "2.13.0"  # the CPU wheel; any other version pulls gigabytes of CUDA
    assert lock["jupyter-book"].startswith("1.")  # 2.x drops _config.yml/_toc.yml


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in (REPO_ROOT / "README.md").read_text()
