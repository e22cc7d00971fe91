"""The interpretable autoencoder: proximal operators against hand computations, and the estimator on a toy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from omicsnb.models.pathway_ae import (
    PathwayAutoencoder,
    group_soft_threshold,
    masked_soft_threshold,
    penalty_masks,
    proximal_step,
    proximal_step_per_term,
    soft_threshold,
)
from omicsnb.validation import OmicsInputError


def test_soft_threshold_by_hand():
    w = torch.tensor([-3.0, -0.5, 0.0, 0.2, 2.0])
    assert torch.equal(soft_threshold(w, 1.0), torch.tensor([-2.0, 0.0, 0.0, 0.0, 1.0]))


def test_masked_soft_threshold_leaves_members_alone():
    w = torch.tensor([2.0, 2.0, -0.5, -0.5])
    penalised = torch.tensor([True, False, True, False])
    assert torch.equal(masked_soft_threshold(w, 1.0, penalised), torch.tensor([1.0, 2.0, 0.0, -0.5]))


def test_group_soft_threshold_by_hand_and_to_exact_zero():
    W = torch.tensor([[3.0, 0.3, 0.0], [4.0, 0.4, 0.0]])  # column norms 5, 0.5 and 0
    out = group_soft_threshold(W, 1.0)
    # column 0 scaled by 1 - 1/5 = 0.8; column 1 has norm 0.5 <= 1 -> exactly zero; a zero column stays zero
    assert torch.allclose(out[:, 0], torch.tensor([2.4, 3.2]))
    assert torch.equal(out[:, 1], torch.zeros(2)) and torch.equal(out[:, 2], torch.zeros(2))
    assert torch.isfinite(out).all()


def test_composition_matches_hand_computation_and_the_per_term_loop():
    membership = np.array([[True, False], [False, False], [True, False]])  # 3 genes, 2 sets
    W = torch.tensor([[1.0, 0.9, -2.0, 0.1],
                      [0.6, -0.2, 0.5, 0.3],
                      [-1.2, 0.4, 0.0, -0.4]])  # annotated, annotated, sparse, dense
    l1 = penalty_masks(membership, n_sparse=1, n_dense=1, lambda1=1.0, lambda2=2.0)
    out = proximal_step(W, l1, lambda3=1.0, step_size=0.5)
    # L1 step (threshold 0.5): annotated column 0 shrinks only gene 1 (0.6 -> 0.1); column 1 has no members, so all
    # genes shrink: (0.4, 0, 0); sparse column 2, threshold 1: (-1, 0, 0); dense column 3 untouched.
    after_l1 = torch.tensor([[1.0, 0.4, -1.0, 0.1], [0.1, 0.0, 0.0, 0.3], [-1.2, 0.0, 0.0, -0.4]])
    norms = after_l1.norm(dim=0)
    expected = after_l1 * torch.clamp(1 - 0.5 / norms, min=0)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(out[:, 1], torch.zeros(3))  # norm 0.4 <= 0.5: the term is switched off
    loop = proximal_step_per_term(W, membership, ["annotated", "annotated", "sparse", "dense"], 1.0, 2.0, 1.0, 0.5)
    assert torch.allclose(out, loop, atol=1e-6)


def _toy(seed=0, n=600):
    """Two programmes on disjoint gene blocks plus noise; the annotation of set A misses 2 of its genes and lists 2
    genes that are not in it; set C describes nothing."""
    rng = np.random.default_rng(seed)
    genes = [f"g{j}" for j in range(30)]
    activity = rng.normal(size=(n, 2))
    W = np.zeros((30, 2))
    W[0:10, 0] = 1.0
    W[10:20, 1] = 1.0
    X = activity @ W.T + 0.1 * rng.normal(size=(n, 30))
    sets = pd.DataFrame(False, index=genes, columns=["A", "B", "C"])
    sets.loc[[f"g{j}" for j in range(2, 10)] + ["g25", "g26"], "A"] = True
    sets.loc[[f"g{j}" for j in range(10, 20)], "B"] = True
    sets.loc[[f"g{j}" for j in range(20, 30)], "C"] = True
    return pd.DataFrame(X.astype(np.float32), columns=genes), sets


def test_estimator_switches_off_the_empty_term_and_corrects_the_annotation():
    X, sets = _toy()
    model = PathwayAutoencoder(hidden=(32,), dropout=0.0, lambda0=0.01, lambda1=1.0, lambda3=0.5, lr=1e-2,
                               batch_size=64, epochs=40, progress=False).fit(X, sets)
    assert model.active_terms_ == ["A", "B"] and model.term_genes_["C"] == []  # the empty set is switched off
    assert {"g0", "g1"} <= set(model.term_genes_["A"])  # missing members added (non-zero despite their L1 penalty)
    used = set(model.used_genes("A"))
    assert {f"g{j}" for j in range(10)} == used  # wrong members keep only a small loading: not used
    assert set(model.term_genes_["B"]) == {f"g{j}" for j in range(10, 20)}  # a right set stays exactly as annotated
    changes = model.membership_changes().set_index("term")
    assert changes.loc["A", ["added", "dropped"]].tolist() == [2, 2]
    assert changes.loc["C", "active"] == False  # noqa: E712
    assert model.transform(X).shape == (len(X), 3)
    assert list(model.history_.columns[:4]) == ["epoch", "loss", "reconstruction", "activity_penalty"]
    assert model.history_["active_terms"].iloc[-1] == len(model.active_terms_)


def test_same_seed_same_decoder_and_bad_membership_is_one_line():
    X, sets = _toy(n=200)
    a = PathwayAutoencoder(hidden=(16,), epochs=3, progress=False).fit(X, sets)
    b = PathwayAutoencoder(hidden=(16,), epochs=3, progress=False).fit(X, sets)
    assert np.array_equal(a.W_, b.W_)
    with pytest.raises(OmicsInputError, match="membership must be genes x sets"):
        PathwayAutoencoder(epochs=1, progress=False).fit(X.to_numpy(), np.ones((5, 2), bool))
    with pytest.raises(OmicsInputError, match="lambda1"):
        PathwayAutoencoder(lambda1=-1.0, progress=False).fit(X, sets)
