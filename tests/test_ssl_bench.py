"""Tests for omicsnb.models.ssl_bench: the pretraining throughput table (shape and arithmetic, not speed)."""

import pytest

from omicsnb.models.ssl_bench import TARGET_SAMPLES_PER_S, bench_pretraining
from omicsnb.validation import OmicsInputError


def test_bench_pretraining_reports_every_method_against_the_reference():
    methods = ("VIME", "SCARF", "BYOL (heads 512)")  # the seed's 4096-wide BYOL heads take seconds even here
    table = bench_pretraining(n=64, d=8, batch_size=16, threads=1, methods=methods, verbose=False)
    assert table["method"].tolist() == ["reference (plain AE)", *methods]
    assert (table["seconds"] > 0).all()
    assert table["samples_per_s"].tolist() == pytest.approx((64 / table["seconds"]).tolist())
    assert table["vs_reference"].iloc[0] == 1.0
    assert table["meets_target"].tolist() == (table["samples_per_s"] >= TARGET_SAMPLES_PER_S).tolist()


def test_bench_pretraining_rejects_bad_sizes():
    with pytest.raises(OmicsInputError, match="batch_size"):
        bench_pretraining(n=64, d=8, batch_size=1, verbose=False)
