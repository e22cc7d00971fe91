"""SEFS: copula gates, the two phases, the stochastic-gates ablation, scoring, and the selection tasks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from omicsnb.data.synthetic import block_copies, gene_module_task, two_moons_task
from omicsnb.models.sefs import (
    SEFS,
    copula_uniforms,
    correlation_cholesky,
    gate_and_fill,
    hard_gates,
    relaxed_gates,
    sample_gates,
    selection_scores,
    standard_normal_cdf,
    stochastic_gates,
)
from omicsnb.validation import OmicsInputError

FAST = dict(hidden=16, z_dim=4, epochs_ss=2, batch_size_ss=64, epochs=5, progress=False)


def _chol(r: float) -> torch.Tensor:
    return torch.linalg.cholesky(torch.tensor([[1.0, r], [r, 1.0]]))


# --- gates -------------------------------------------------------------------------------------------------------------
def test_normal_cdf_matches_hand_values():
    g = torch.tensor([0.0, 1.0, -1.96])
    assert torch.allclose(standard_normal_cdf(g), torch.tensor([0.5, 0.841345, 0.024998]), atol=1e-5)


def test_relaxed_gate_is_inside_unit_interval_and_tends_to_hard_gate():
    gen = torch.Generator().manual_seed(0)
    pi = torch.tensor([0.1, 0.5, 0.9])
    u = copula_uniforms(5000, 3, None, gen)
    soft = relaxed_gates(torch.logit(pi), u, 1.0)
    assert bool(((soft > 0) & (soft < 1)).all())
    hard = hard_gates(pi, u)
    gaps = [float((relaxed_gates(torch.logit(pi), u, t) - hard).abs().mean()) for t in (1.0, 0.3, 0.1, 0.01, 0.001)]
    assert all(b < a for a, b in zip(gaps, gaps[1:]))  # strictly closer as the temperature falls
    assert gaps[-1] < 1e-2 and gaps[0] > 0.1


def test_relaxed_gate_hand_value():
    # logit(0.8) + log(0.3) - log(0.7) = 1.386294 - 0.847298 = 0.538997 -> sigmoid = 0.631584
    out = relaxed_gates(torch.logit(torch.tensor([0.8])), torch.tensor([0.3]), 1.0)
    assert out.item() == pytest.approx(0.631584, abs=1e-5)
    out = relaxed_gates(torch.logit(torch.tensor([0.8])), torch.tensor([0.3]), 0.5)  # logit doubled
    assert out.item() == pytest.approx(1 / (1 + math.exp(-2 * 0.538997)), abs=1e-5)


@pytest.mark.parametrize("relaxed", [False, True])
def test_copula_gate_marginals_equal_pi(relaxed):
    pi = torch.tensor([0.1, 0.3, 0.5, 0.8, 0.95])
    R = torch.full((5, 5), 0.7) + 0.3 * torch.eye(5)
    gates = sample_gates(pi, 40_000, chol=torch.linalg.cholesky(R), relaxed=relaxed, temperature=0.01 if relaxed else 1.0,
                         generator=torch.Generator().manual_seed(1))
    assert torch.allclose(gates.mean(0), pi, atol=0.01)


def test_gate_correlation_rises_with_R():
    pi = torch.tensor([0.5, 0.3])
    corrs = []
    for r in (-0.5, 0.0, 0.5, 0.9, 0.99):
        g = sample_gates(pi, 40_000, chol=_chol(r), generator=torch.Generator().manual_seed(2)).numpy()
        corrs.append(np.corrcoef(g.T)[0, 1])
    assert all(b > a + 0.03 for a, b in zip(corrs, corrs[1:]))
    # Bernoulli(0.5) and Bernoulli(0.3) can correlate at most sqrt(0.3 * 0.5 / (0.7 * 0.5)) = 0.655
    assert abs(corrs[1]) < 0.02 and corrs[0] < -0.25 and 0.6 < corrs[-1] <= 0.655


def test_copula_uniforms_are_one_batched_draw():
    # the batch is exactly Phi(eps @ L^T) for one (n, p) normal draw: no per-sample loop, no per-sample state
    L = _chol(0.6)
    u = copula_uniforms(7, 2, L, torch.Generator().manual_seed(3))
    eps = torch.randn(7, 2, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(u, standard_normal_cdf(eps @ L.T).clamp(1e-6, 1 - 1e-6))


def test_correlation_cholesky_reproduces_R_and_shrinks_singular_R():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 1))
    X = np.hstack([z, z + 0.5 * rng.normal(size=(500, 1)), rng.normal(size=(500, 1))])
    L = correlation_cholesky(X).double()
    assert torch.allclose(L @ L.T, torch.as_tensor(np.corrcoef(X.T)), atol=1e-5)
    copies = np.hstack([z, z, np.ones((500, 1))])  # exact copy (singular) and a constant column
    L = correlation_cholesky(copies)
    R = (L @ L.T).numpy()
    assert np.allclose(np.diag(R), 1, atol=1e-5) and R[0, 1] > 0.99 and abs(R[0, 2]) < 1e-6


def test_ss_target_equals_kept():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(64, 6, generator=gen)
    x_bar = x.mean(0)
    m = sample_gates(torch.full((6,), 0.5), 64, chol=None, generator=gen)
    x_tilde, target = gate_and_fill(x, m, x_bar)
    assert torch.equal(target, (x == x_tilde).float())
    assert torch.equal(x_tilde[m == 0], x_bar.expand_as(x)[m == 0])


def test_bad_inputs_give_one_line_errors():
    with pytest.raises(OmicsInputError, match="pi must be"):
        sample_gates([0.0, 0.5], 3)
    with pytest.raises(OmicsInputError, match="temperature"):
        sample_gates([0.5], 3, temperature=0)
    with pytest.raises(OmicsInputError, match="X_unlabeled"):
        SEFS(**FAST).fit(np.zeros((4, 3)), [0, 1, 0, 1])
    with pytest.raises(OmicsInputError, match="lam"):
        SEFS(lam=-1, **FAST).fit(np.zeros((4, 3)), [0, 1, 0, 1], np.zeros((9, 3)))
    with pytest.raises(OmicsInputError, match="stochastic_gates fixes copula"):
        stochastic_gates(copula=True)


# --- the estimator -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moons():
    return two_moons_task(n_unlabeled=300, n_valid=50, n_test=200, seed=0)


def test_selection_phase_changes_only_last_encoder_layer_predictor_and_pi(moons):
    pre = SEFS(seed=0, **FAST).fit(moons.X_labeled, moons.y_labeled, moons.X_unlabeled)
    before = {k: v.clone() for k, v in pre.pretrained_encoder_.state_dict().items()}
    model = SEFS(encoder_from=pre, seed=1, **FAST).fit(moons.X_labeled, moons.y_labeled)
    after = model.encoder_.state_dict()
    last = max(int(k.split(".")[0]) for k in before)
    for key, value in before.items():
        same = torch.equal(value, after[key])
        assert same == (int(key.split(".")[0]) != last), key
    assert not np.allclose(model.feature_importances_, 0.5)  # pi moved
    assert torch.equal(pre.pretrained_encoder_.state_dict()[f"{last}.weight"], before[f"{last}.weight"])  # copied
    # the pretrained model's own selection phase also changed only its last encoder layer
    own = pre.encoder_.state_dict()
    assert all(torch.equal(v, own[k]) != k.startswith(str(last)) for k, v in before.items())
    scratch = SEFS(self_supervision=False, seed=1, **FAST).fit(moons.X_labeled, moons.y_labeled, moons.X_unlabeled)
    assert all(p.requires_grad for p in scratch.encoder_.parameters())
    assert scratch.history_ss_ is None and list(scratch.history_.columns[:4]) == ["epoch", "loss", "cross_entropy",
                                                                                   "mean_pi"]


def test_fit_is_deterministic_and_interface(moons):
    a = SEFS(seed=3, **FAST).fit(moons.X_labeled, moons.y_labeled, moons.X_unlabeled)
    b = SEFS(seed=3, **FAST).fit(moons.X_labeled, moons.y_labeled, moons.X_unlabeled)
    assert np.array_equal(a.feature_importances_, b.feature_importances_)
    assert a.selected_.dtype == bool and a.selected_.shape == (100,)
    assert np.array_equal(a.selected_, a.feature_importances_ > 0.5)
    proba = a.predict_proba(moons.X_test)
    assert proba.shape == (200, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert a.transform(moons.X_test).shape == (200, int(a.selected_.sum()))
    assert set(a.predict(moons.X_test)) <= {0, 1}
    assert {"feature_mse", "gate_bce", "val_loss"} <= set(a.history_ss_.columns)


def test_stochastic_gates_is_sefs_with_both_switches_off():
    model = stochastic_gates(lam=0.5, seed=2)
    assert type(model) is SEFS
    params = model.get_params()
    assert params["self_supervision"] is False and params["copula"] is False and params["lam"] == 0.5
    assert {k: v for k, v in params.items() if k not in ("self_supervision", "copula", "lam", "seed")} == {
        k: v for k, v in SEFS().get_params().items() if k not in ("self_supervision", "copula", "lam", "seed")}


def test_pi_rises_above_half_exactly_for_the_relevant_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 8)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = SEFS(self_supervision=False, copula=False, hidden=16, z_dim=4, lr=3e-2, epochs=60, batch_size=64,
                 lam=1.0, seed=0, progress=False).fit(X, y, X)
    assert np.flatnonzero(model.selected_).tolist() == [0, 1], model.feature_importances_.round(2)
    assert (model.predict(X) == y).mean() > 0.9


# --- scoring and tasks -------------------------------------------------------------------------------------------------
def test_selection_scores_by_hand():
    importance = np.array([0.9, 0.2, 0.7, 0.6, 0.1])
    relevant = np.array([True, True, False, False, False])
    s = selection_scores(importance, relevant, blocks=[0, 0, 1, 1, 2])
    # selected: 0, 2, 3 -> TP 1 of 2 relevant, 2 false of 3 selected; block 0 is hit
    assert s["n_selected"] == 3 and s["tpr"] == 0.5 and s["fdr"] == pytest.approx(2 / 3) and s["block_tpr"] == 1.0
    # ranking pairs (relevant, irrelevant): 0.9 beats all 3; 0.2 beats only 0.1 -> 4 / 6
    assert s["auroc"] == pytest.approx(4 / 6)
    assert selection_scores(importance, relevant, threshold=0.95)["fdr"] == 0.0
    with pytest.raises(OmicsInputError):
        selection_scores(importance, np.ones(5, bool))


def test_two_moons_task_matches_the_reference_generator():
    task = two_moons_task(seed=5)
    assert task.X_labeled.shape == (20, 100) and task.X_unlabeled.shape == (2000, 100)
    assert np.bincount(task.y_labeled).tolist() == [10, 10]
    assert np.flatnonzero(task.relevant).tolist() == list(range(20))
    X = task.X_unlabeled
    base_sd = X[:, [0, 20]].std(0)  # a moon coordinate and an N(0, 1) nuisance
    r_expected = base_sd / np.sqrt(base_sd**2 + 0.3**2)
    r = [np.corrcoef(X[:, 0], X[:, 5])[0, 1], np.corrcoef(X[:, 20], X[:, 27])[0, 1]]
    assert np.allclose(r, r_expected, atol=0.03)
    assert abs(np.corrcoef(X[:, 0], X[:, 30])[0, 1]) < 0.1
    again = two_moons_task(seed=5)
    assert np.array_equal(task.X_test, again.X_test)
    assert not np.array_equal(two_moons_task(seed=6).X_valid, task.X_test)


def test_block_copies_keeps_the_original_column():
    X = np.arange(6, dtype=float).reshape(3, 2)
    out = block_copies(X, np.random.default_rng(0), block_size=3, block_noise=0.5)
    assert out.shape == (3, 6) and np.array_equal(out[:, [0, 3]], X)
    assert np.array_equal(block_copies(X, np.random.default_rng(0), block_size=3, block_noise=0.0), np.repeat(X, 3, 1))


def test_gene_module_task_truth():
    task = gene_module_task(n_unlabeled=400, n_valid=50, n_test=100, n_modules=4, genes_per_module=5, seed=1)
    assert task.X_labeled.shape == (20, 20) and np.flatnonzero(task.relevant).tolist() == list(range(10))
    C = np.corrcoef(task.X_unlabeled.T)
    within = np.mean([C[i, j] for i in range(20) for j in range(20) if i != j and i // 5 == j // 5])
    across = np.mean([abs(C[i, j]) for i in range(20) for j in range(20) if i // 5 != j // 5])
    assert within > 0.3 and within > across + 0.2


def test_pbmc_t_cell_task():
    pytest.importorskip("scanpy")
    from omicsnb.data.synthetic import T_CELL_MARKERS, pbmc_t_cell_task

    task = pbmc_t_cell_task(seed=0)
    assert task.X_labeled.shape == (20, 765) and int(task.relevant.sum()) == len(T_CELL_MARKERS)
    assert len(task.X_test) == 210 and len(task.X_unlabeled) + len(task.X_valid) + 20 + 210 == 700
    cd3d = task.feature_names.index("CD3D")
    X = np.vstack([task.X_valid, task.X_test])
    y = np.concatenate([task.y_valid, task.y_test])
    assert X[y == 1, cd3d].mean() > X[y == 0, cd3d].mean() + 1  # the marker marks T cells
    with pytest.raises(OmicsInputError, match="not genes"):
        pbmc_t_cell_task(markers=("NOT_A_GENE",))


def test_compare_selectors_runs_every_method_and_reuses_pretraining(moons):
    from omicsnb.models.sefs import SELECTORS, compare_selectors

    table, imps, pre = compare_selectors(moons, params=FAST, ks=(2, 100), seed=0)
    assert table["method"].tolist() == list(SELECTORS) and set(imps) == set(SELECTORS)
    assert {"tpr", "fdr", "auroc", "block_tpr", "acc@2", "acc@100"} <= set(table.columns)
    assert set(pre) == {True, False} and all(m.history_ss_ is not None for m in pre.values())
    again, _, pre2 = compare_selectors(moons, methods=("SEFS",), params=FAST, pretrained=pre, seed=0)
    assert pre2[True] is pre[True]  # reused, not retrained
    assert np.isclose(again["auroc"].iloc[0], table["auroc"].iloc[0])
    with pytest.raises(OmicsInputError, match="unknown selector"):
        compare_selectors(moons, methods=("lasso",))


def test_loop_copula_reference_draws_the_same_distribution():
    from omicsnb.models.sefs_bench import loop_copula_uniforms

    L = _chol(0.8)
    loop = loop_copula_uniforms(4000, 2, L, torch.Generator().manual_seed(0)).numpy()
    vec = copula_uniforms(4000, 2, L, torch.Generator().manual_seed(1)).numpy()
    assert loop.shape == vec.shape == (4000, 2)
    assert abs(np.corrcoef(loop.T)[0, 1] - np.corrcoef(vec.T)[0, 1]) < 0.05
    assert np.allclose(loop.mean(0), 0.5, atol=0.02)
