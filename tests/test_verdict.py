"""The verdict helper: estimate, 95% interval and a three-way verdict, on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from omicsnb.evaluate import VERDICT_COLUMNS, claims_table, mean_interval, verdict
from omicsnb.validation import OmicsInputError


def test_t_interval_matches_a_hand_computation():
    # mean 2, sd 1, n 3: half-width = t(0.975, df=2) * 1 / sqrt(3); with two degrees of freedom the t quantile has the
    # closed form (2p - 1) / sqrt(2 p (1 - p))
    estimate, low, high, n = mean_interval([1.0, 2.0, 3.0])
    p = 0.975
    half = (2 * p - 1) / math.sqrt(2 * p * (1 - p)) / math.sqrt(3)
    assert (estimate, n) == (2.0, 3)
    assert low == pytest.approx(2.0 - half, abs=1e-12) and high == pytest.approx(2.0 + half, abs=1e-12)


def test_bootstrap_interval_is_close_to_t_for_a_large_normal_sample():
    x = np.random.default_rng(0).normal(1.0, 2.0, size=2000)
    _, t_low, t_high, _ = mean_interval(x)
    _, b_low, b_high, _ = mean_interval(x, method="bootstrap", n_boot=2000)
    assert b_low == pytest.approx(t_low, abs=0.02) and b_high == pytest.approx(t_high, abs=0.02)


def test_nan_repeats_are_dropped_and_one_value_gives_an_infinite_interval():
    assert mean_interval([0.5, np.nan, 0.7])[3] == 2
    estimate, low, high, n = mean_interval([0.3])
    assert (estimate, low, high, n) == (0.3, -math.inf, math.inf, 1)
    assert verdict([0.3], claim="one repeat")["verdict"] == "inconclusive"


@pytest.mark.parametrize(
    ("values", "direction", "threshold", "expected"),
    [
        ([0.10, 0.12, 0.11, 0.09, 0.10], "greater", 0.0, "holds"),
        ([-0.10, -0.12, -0.11, -0.09, -0.10], "greater", 0.0, "does not hold"),
        ([0.05, -0.04, 0.06, -0.05, 0.01], "greater", 0.0, "inconclusive"),
        ([-0.10, -0.12, -0.11, -0.09, -0.10], "less", 0.0, "holds"),
        ([0.10, 0.12, 0.11, 0.09, 0.10], "less", 0.0, "does not hold"),
        ([0.001, -0.002, 0.0015, 0.0, -0.001], "within", 0.02, "holds"),
        ([0.10, 0.12, 0.11, 0.09, 0.10], "within", 0.02, "does not hold"),
        ([0.01, 0.03, 0.02, 0.00, 0.025], "within", 0.02, "inconclusive"),
        ([0.30, 0.31, 0.32, 0.30, 0.31], "greater", 0.25, "holds"),
    ],
)
def test_three_way_verdicts_on_known_cases(values, direction, threshold, expected):
    row = verdict(values, claim="c", direction=direction, threshold=threshold)
    assert row["verdict"] == expected
    assert row["ci_low"] <= row["estimate"] <= row["ci_high"]


def test_paired_baseline_tests_the_differences_not_the_levels():
    base = np.array([0.50, 0.70, 0.60, 0.80, 0.55])
    better = base + np.array([0.010, 0.012, 0.011, 0.009, 0.010])
    # the levels overlap widely, but every pair improves by about 0.01
    row = verdict(better, baseline=base, claim="better than baseline")
    assert row["verdict"] == "holds" and row["estimate"] == pytest.approx(0.0104)
    assert "paired" in row["method"]
    with pytest.raises(OmicsInputError, match="paired repeats of equal length"):
        verdict(better, baseline=base[:3], claim="x")


def test_identical_repeats_give_a_point_interval():
    row = verdict([0.2] * 5, claim="c", threshold=0.1)
    assert row["ci_low"] == row["ci_high"] == 0.2 and row["verdict"] == "holds"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "above"}, "direction='above' is unknown"),
        ({"direction": "within", "threshold": 0.0}, "must be > 0 for direction='within'"),
        ({"claim": "  "}, "claim must be a non-empty sentence"),
        ({"method": "exact"}, "method='exact' is unknown"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs, message):
    args = {"claim": "c", **kwargs}
    with pytest.raises(OmicsInputError, match=message):
        verdict([0.1, 0.2, 0.3], **args)


def test_claims_table_orders_columns_and_rejects_unknown_words():
    rows = [verdict([0.1, 0.2, 0.15], claim="a", source="Dradjat et al.", data="simulator (linear)"),
            verdict([0.0, 0.01, -0.01], claim="b", direction="within", threshold=0.05)]
    table = claims_table(rows)
    assert list(table.columns[: len(VERDICT_COLUMNS)]) == VERDICT_COLUMNS and len(table) == 2
    with pytest.raises(OmicsInputError, match="unknown verdict"):
        claims_table([{**rows[0], "verdict": "True"}])
    with pytest.raises(OmicsInputError, match="no claims"):
        claims_table([])
