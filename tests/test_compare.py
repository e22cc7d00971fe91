"""Results are compared within tolerances, verdicts and text exactly (omicsnb.compare)."""

from __future__ import annotations

import math

import pytest

from omicsnb import compare
from omicsnb.compare import Tolerance, compare_results


def _results(rows, table="t"):
    return {"tables": {table: rows}}


def test_tolerance_is_absolute_plus_relative():
    tol = Tolerance(atol=0.01, rtol=0.1)
    assert tol.accepts(1.105, 1.0) and not tol.accepts(1.12, 1.0)
    assert tol.accepts(math.nan, math.nan) and not tol.accepts(0.0, math.nan)
    assert tol.accepts(math.inf, math.inf) and not tol.accepts(1e9, math.inf)


def test_numbers_within_the_column_tolerance_pass_and_beyond_fail(monkeypatch):
    monkeypatch.setattr(compare, "TOLERANCES", [("accuracy", Tolerance(0.02, 0.0))])
    ref = _results([{"model": "MLP", "accuracy": 0.30}])
    assert compare_results(_results([{"model": "MLP", "accuracy": 0.29}]), ref) == []
    problems = compare_results(_results([{"model": "MLP", "accuracy": 0.25}]), ref)
    assert len(problems) == 1 and "accuracy" in problems[0]


def test_untolerated_integers_verdicts_and_booleans_are_exact():
    ref = _results([{"verdict": "holds", "holds here": True, "n": 5}])
    assert compare_results(_results([{"verdict": "holds", "holds here": True, "n": 5}]), ref) == []
    assert len(compare_results(_results([{"verdict": "inconclusive", "holds here": True, "n": 5}]), ref)) == 1
    assert len(compare_results(_results([{"verdict": "holds", "holds here": False, "n": 5}]), ref)) == 1
    assert len(compare_results(_results([{"verdict": "holds", "holds here": True, "n": 6}]), ref)) == 1


def test_numbers_inside_text_get_the_tolerance_and_the_words_are_exact(monkeypatch):
    monkeypatch.setattr(compare, "TOLERANCES", [("here", Tolerance(0.02, 0.0))])
    ref = _results([{"here": "0.30 vs 0.28"}])
    assert compare_results(_results([{"here": "0.29 vs 0.28"}]), ref) == []
    assert len(compare_results(_results([{"here": "0.20 vs 0.28"}]), ref)) == 1
    assert len(compare_results(_results([{"here": "0.30 versus 0.28"}]), ref)) == 1


def test_shape_changes_are_reported():
    ref = {"tables": {"a": [{"x": 1.0}], "b": [{"x": 1.0}]}}
    problems = compare_results({"tables": {"a": [{"x": 1.0}, {"x": 2.0}], "c": []}}, ref, name="nb")
    assert any("missing ['b']" in p and "unexpected ['c']" in p for p in problems)
    assert any("2 rows vs reference 1" in p for p in problems)
    assert compare_results(_results([{"y": 1.0}]), _results([{"x": 1.0}]))[0].endswith("vs reference ['x']")


def test_machine_measurements_are_skipped():
    ref = _results([{"method": "VAE", "seconds": 1.0, "ratio_to_vae": 1.0}])
    assert compare_results(_results([{"method": "VAE", "seconds": 9.0, "ratio_to_vae": 3.0}]), ref) == []
    # a column in seconds (`loop_s`), and a speed claim measured "on this machine" (numbers and verdict)
    assert compare_results(_results([{"loop_s": 0.1}]), _results([{"loop_s": 0.05}])) == []
    claim = {"claim": "VAE is faster", "data": "50 samples, this machine", "estimate": 1.03, "ci_low": 0.95,
             "ci_high": 1.1, "threshold": 0.0, "direction": "greater", "verdict": "holds"}
    slower = {**claim, "estimate": -0.2, "ci_low": -0.5, "ci_high": 0.1, "verdict": "inconclusive"}
    assert compare_results({"tables": {"claims": [slower]}}, {"tables": {"claims": [claim]}}) == []
    reworded = {**slower, "claim": "VAE is slower"}
    assert compare_results({"tables": {"claims": [reworded]}}, {"tables": {"claims": [claim]}})
    # an ordinary claim row is still compared
    ordinary = {**claim, "data": "simulated"}
    assert compare_results({"tables": {"claims": [{**slower, "data": "simulated"}]}}, {"tables": {"claims": [ordinary]}})


@pytest.mark.parametrize(
    ("column", "atol"),
    [("runs.accuracy", 0.05), ("aupc.AUPC vs baseline", 0.02), ("x.rmse", 0.01), ("prs.test_r2", 0.01),
     ("claims.estimate", 0.03), ("frozen.k-means NMI", 0.06), ("summary.sd", 0.03), ("claims.ci_low", 0.03)],
)
def test_every_metric_family_has_a_stated_tolerance(column, atol):
    assert compare.tolerance_for(column).atol == atol


def test_the_measured_cross_cpu_drift_is_inside_the_tolerances():
    # the largest differences seen between ATEN_CPU_CAPABILITY=default and avx512 (quick profile, chapters 1-8)
    for column, reference, actual in [("runs.accuracy", 0.50, 0.5075), ("summary.sd", 0.02, 0.0253),
                                      ("aupc.AUPC", 0.01, 0.012), ("frozen.k-means NMI", 0.3, 0.322),
                                      ("sensitivity.final validation loss", 1.64, 1.642)]:
        assert compare.tolerance_for(column).accepts(actual, reference), column


def test_a_verdict_may_change_only_at_the_boundary():
    base = {"claim": "c", "estimate": -0.007, "ci_low": -0.009, "ci_high": -0.0048, "threshold": 0.0,
            "direction": "less", "verdict": "holds", "n": 2}
    moved = {**base, "ci_high": 0.001, "verdict": "inconclusive"}
    notes = []
    assert compare_results(_results([moved], "claims"), _results([base], "claims"), notes=notes) == []
    assert len(notes) == 1 and "at the boundary" in notes[0]
    far = {**base, "ci_low": -0.5, "ci_high": -0.3, "estimate": -0.4}
    assert len(compare_results(_results([{**far, "verdict": "inconclusive"}], "claims"), _results([far], "claims"))) == 1
    within = {**base, "direction": "within", "threshold": 0.02, "ci_low": -0.019, "ci_high": 0.01}
    assert compare.borderline(within) and not compare.borderline({**within, "ci_low": -0.1, "ci_high": -0.09})


def test_interval_bounds_get_half_the_reference_width_on_top_of_their_column_tolerance():
    reference = {"claim": "c", "estimate": 0.0, "ci_low": -0.2, "ci_high": 0.2, "threshold": 0.0,
                 "direction": "greater", "verdict": "inconclusive"}
    # ci_low: atol 0.03 + 0.5 * 0.4 = 0.23, plus rtol 0.05 * |-0.2| = 0.01 -> 0.24
    assert compare.interval_tolerance("ci_low", reference).accepts(-0.439, -0.2)
    assert not compare.interval_tolerance("ci_low", reference).accepts(-0.441, -0.2)
    assert compare.interval_tolerance("estimate", reference) == compare.tolerance_for("claims.estimate")
    table = {"tables": {"claims": [reference]}}
    moved = {"tables": {"claims": [{**reference, "ci_low": -0.43, "ci_high": 0.41}]}}
    assert compare.compare_results(moved, table) == []
    too_far = {"tables": {"claims": [{**reference, "ci_low": -0.5}]}}
    assert len(compare.compare_results(too_far, table)) == 1
    # the table form of chapter 5 ("95% CI low/high") is widened the same way; the estimate is not
    row = {"model": "VIME", "AUPC": 0.1, "95% CI low": -0.5, "95% CI high": 0.7}
    aupc = {"tables": {"aupc": [row]}}
    assert compare.compare_results({"tables": {"aupc": [{**row, "95% CI low": -0.2}]}}, aupc) == []
    assert compare.compare_results({"tables": {"aupc": [{**row, "AUPC": 0.2}]}}, aupc) != []
