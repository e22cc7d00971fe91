"""Tests for omicsnb.pathways: batched and cached ssGSEA against gseapy, the numpy engine, noisy sets, truth checks."""

import numpy as np
import pandas as pd
import pytest

from omicsnb import pathways
from omicsnb.validation import OmicsInputError

gseapy = pytest.importorskip("gseapy")


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(3)
    genes = [f"G{i:03d}" for i in range(300)]
    X = pd.DataFrame(rng.normal(size=(23, 300)), columns=genes, index=[f"s{i}" for i in range(23)])
    sets = {f"P{k}": list(rng.choice(genes, size, replace=False)) for k, size in enumerate((8, 15, 30, 60, 12))}
    return X, sets


def plain_gseapy(X, sets, value="NES"):
    res = gseapy.ssgsea(X.T, sets, outdir=None, min_size=1, max_size=1000, threads=1, no_plot=True)
    return res.res2d.pivot(index="Name", columns="Term", values=value).astype(float).reindex(
        index=X.index, columns=list(sets))


def hand_es(values, members, weight=0.25):
    """ssGSEA of one sample by walking the ranked list gene by gene (ranks scaled as gseapy's 'rank' norm)."""
    n = len(values)
    metric = pd.Series(values).rank(method="average").to_numpy() * 10000 / n
    order = np.argsort(metric, kind="stable")[::-1]  # decreasing; tied genes: the last listed first
    hit_total = sum(abs(metric[j]) ** weight for j in members)
    running_hit = running_miss = es = 0.0
    for j in order:
        if j in members:
            running_hit += abs(metric[j]) ** weight / hit_total
        else:
            running_miss += 1 / (n - len(members))
        es += running_hit - running_miss
    return es


def test_numpy_es_equals_a_walk_down_the_ranked_list():
    values = np.array([0.3, 2.0, -1.0, 0.3, 5.0, 0.0, 1.1])  # one tie
    X = pd.DataFrame([values], columns=[f"g{i}" for i in range(7)])
    es = pathways.ssgsea_es_numpy(X, {"A": ["g1", "g3", "g6"], "B": ["g0", "g2"]})
    assert es.loc[0, "A"] == pytest.approx(hand_es(values, {1, 3, 6}), abs=1e-9)
    assert es.loc[0, "B"] == pytest.approx(hand_es(values, {0, 2}), abs=1e-9)


@pytest.mark.parametrize("engine", ["gseapy", "numpy"])
def test_batched_scores_equal_unbatched_gseapy(small, engine):
    X, sets = small
    reference = plain_gseapy(X, sets)
    batched = pathways.ssgsea_scores(X, sets, engine=engine, batch_size=5, min_size=1, progress=False)
    assert batched.shape == reference.shape
    np.testing.assert_allclose(batched.to_numpy(), reference.to_numpy(), atol=1e-6, rtol=0)


def test_naive_per_batch_nes_would_not_match(small):
    """gseapy normalises by the range of the whole run: NES of a batch on its own differ (why we renormalise)."""
    X, sets = small
    alone = plain_gseapy(X.iloc[:5], sets)
    whole = plain_gseapy(X, sets).iloc[:5]
    assert np.abs(alone.to_numpy() - whole.to_numpy()).max() > 1e-3


def test_numpy_engine_matches_gseapy_es_with_ties(small):
    X, sets = small
    rounded = X.round(0)  # a handful of distinct values per sample: many ties
    reference = plain_gseapy(rounded, sets, value="ES")
    ours = pathways.ssgsea_es_numpy(rounded, pathways.prepare_gene_sets(sets, X.columns, min_size=1))
    np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy(), rtol=1e-6, atol=1e-6)


def test_cache_returns_identical_scores_and_reruns_nothing(small, tmp_path, monkeypatch):
    X, sets = small
    calls = []
    original = pathways._score_batch

    def counting(*args, **kwargs):
        calls.append(len(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(pathways, "_score_batch", counting)
    first = pathways.ssgsea_scores(X, sets, batch_size=10, min_size=1, cache_dir=tmp_path, progress=False)
    assert calls == [10, 10, 3]
    second = pathways.ssgsea_scores(X, sets, batch_size=10, min_size=1, cache_dir=tmp_path, progress=False)
    assert calls == [10, 10, 3]  # nothing recomputed
    pd.testing.assert_frame_equal(first, second)
    assert first.attrs == {"batches_computed": 3, "batches_cached": 0}
    assert second.attrs == {"batches_computed": 0, "batches_cached": 3}
    changed = dict(sets, P0=sets["P0"][:-1])  # other gene sets: another key
    pathways.ssgsea_scores(X, changed, batch_size=10, min_size=1, cache_dir=tmp_path, progress=False)
    assert len(calls) == 6
    X2 = X.copy()
    X2.iloc[0, 0] += 1.0  # other data in the first batch only
    pathways.ssgsea_scores(X2, sets, batch_size=10, min_size=1, cache_dir=tmp_path, progress=False)
    assert len(calls) == 7


def test_prepare_gene_sets_filters_by_overlap_size():
    sets = {"a": ["x", "y", "z", "nope"], "b": ["x"], "c": ["q"]}
    kept = pathways.prepare_gene_sets(sets, ["z", "y", "x"], min_size=2)
    assert kept == {"a": ["z", "y", "x"]}
    with pytest.raises(OmicsInputError, match="min_size"):
        pathways.prepare_gene_sets({"c": ["q"]}, ["x", "y"], min_size=1)


def test_bad_inputs_raise_one_line_errors(small):
    X, sets = small
    with pytest.raises(OmicsInputError, match="engine"):
        pathways.ssgsea_scores(X, sets, engine="fast", progress=False)
    dup = X.rename(columns={"G001": "G000"})
    with pytest.raises(OmicsInputError, match="duplicated"):
        pathways.ssgsea_scores(dup, sets, min_size=1, progress=False)
    with pytest.raises(OmicsInputError, match="DataFrame"):
        pathways.ssgsea_scores(X.to_numpy(), sets, progress=False)
    nan = X.copy()
    nan.iloc[0, 0] = np.nan
    with pytest.raises(OmicsInputError, match="NaN"):
        pathways.ssgsea_scores(nan, sets, min_size=1, progress=False)


def test_noisy_gene_sets_drop_and_add_the_requested_shares():
    universe = [f"g{i}" for i in range(100)]
    sets = {"A": universe[:20], "B": universe[50:60]}
    noisy = pathways.noisy_gene_sets(sets, universe, drop=0.25, add=0.5, seed=1)
    assert len(set(noisy["A"]) & set(sets["A"])) == 15 and len(set(noisy["A"]) - set(sets["A"])) == 10
    assert len(set(noisy["B"]) & set(sets["B"])) == 8 and len(set(noisy["B"]) - set(sets["B"])) == 5
    assert noisy == pathways.noisy_gene_sets(sets, universe, drop=0.25, add=0.5, seed=1)
    assert pathways.noisy_gene_sets(sets, universe, drop=0.0, add=0.0) == sets
    with pytest.raises(OmicsInputError, match="drop"):
        pathways.noisy_gene_sets(sets, universe, drop=1.0)


def test_score_truth_correlation_matches_pandas():
    rng = np.random.default_rng(0)
    truth = pd.DataFrame(rng.normal(size=(30, 2)), columns=["A", "B"])
    scores = pd.DataFrame({"A": 2 * truth["A"] + 1, "B": -truth["B"], "C": rng.normal(size=30)})
    table = pathways.score_truth_correlation(scores, truth).set_index("gene_set")["r"]
    assert list(table.index) == ["A", "B"]
    assert table["A"] == pytest.approx(1.0) and table["B"] == pytest.approx(-1.0)


def test_rank_metric_equals_scipy_average_and_ordinal_ranks():
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    for values in (rng.normal(size=(4, 50)), rng.integers(0, 4, size=(4, 50)).astype(float), np.zeros((2, 5))):
        metric, q = pathways._rank_metric(values)
        np.testing.assert_array_equal(metric, rankdata(values, method="average", axis=1) * (10000 / values.shape[1]))
        np.testing.assert_array_equal(q, rankdata(values, method="ordinal", axis=1))


def test_bench_reports_every_engine_and_agrees_with_gseapy(capsys):
    table = pathways.bench_ssgsea(n_samples=6, n_genes=400, n_sets=6, batch_size=4)
    assert len(table) == 3 and (table["max_abs_diff"] < 1e-6).all()
    assert np.allclose(table["tcga_cpu_s_extrapolated"], table["cpu_s"] * pathways.TCGA_SCALE["n_samples"] / 6)
    assert "speed-up" in capsys.readouterr().out
