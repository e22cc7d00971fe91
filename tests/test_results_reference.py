"""The quick-profile results of every chapter match the committed references within per-metric tolerances.

The references are the results files that ``make regen-nbval`` writes next to the committed quick-profile notebooks
(``tests/nbval/results/<notebook>.json``). Numbers are compared within :data:`omicsnb.compare.TOLERANCES`, text and
verdicts exactly, so the check holds on any CPU (``ATEN_CPU_CAPABILITY=default``, ``avx2``, ``avx512``) while a real
change of results still fails. The fresh results come from the ``quick_results`` fixture: under ``make test`` the
tables recorded by the notebooks that nbval executed, otherwise a quick build of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omicsnb.compare import compare_results

REFERENCES = Path(__file__).parent / "nbval" / "results"


@pytest.mark.slow
def test_quick_results_match_the_committed_references(quick_results):
    produced = sorted(Path(quick_results).glob("[0-9]*.json"))
    assert produced, "the quick build recorded no results"
    problems, missing, notes = [], [], []
    for path in produced:
        reference = REFERENCES / path.name
        if not reference.exists():
            missing.append(path.name)
            continue
        actual = json.loads(path.read_text())
        if "tables" not in actual:  # recorded by a kernel under nbval: the bare tables, without the runner's envelope
            actual = {"tables": actual}
        problems += compare_results(actual, json.loads(reference.read_text()), name=path.stem, notes=notes)
    for note in notes:  # verdicts decided by CPU-dependent digits: shown in the test report, not failures
        print(f"[results] {note}")
    assert not missing, f"no committed reference for {missing}; run `make regen-nbval` and commit tests/nbval/results"
    assert not problems, f"{len(problems)} result(s) beyond tolerance:\n" + "\n".join(problems[:40])
