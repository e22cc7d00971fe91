"""Tests for omicsnb.protocol: pretrain each method, then sweep frozen/unfrozen fine-tuning against a baseline."""

from __future__ import annotations

import numpy as np
import pytest

from omicsnb.protocol import BASELINE, METHODS, finetune_sweep, make_pretrainer, pretrain
from omicsnb.validation import OmicsInputError

TINY = {"hidden": (16, 16), "epochs": 2, "batch_size": 32, "val_fraction": 0.0}


def toy(n=120, d=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(["A", "B", "C"], n // 3))
    X = rng.standard_normal((n, d)).astype(np.float32)
    X[:, :3] += 2.0 * (y[:, None] == np.array(["A", "B", "C"]))
    return X, y


def test_pretrain_builds_each_method_with_shared_and_specific_settings():
    X, _ = toy()
    fitted = pretrain(["VIME", "SCARF"], X, shared=TINY, per_method={"SCARF": {"corruption_rate": 0.5}},
                      progress=False)
    assert set(fitted) == {"VIME", "SCARF"}
    assert isinstance(fitted["VIME"], METHODS["VIME"]) and fitted["SCARF"].corruption_rate == 0.5
    assert all(len(m.history_) == 2 and m.encoder.out_dim == 16 for m in fitted.values())


def test_finetune_sweep_runs_baseline_and_both_modes_on_the_same_subsets():
    X, y = toy()
    fitted = pretrain(["BYOL"], X, shared={**TINY, "projector_dims": (32, 8)}, progress=False)
    df = finetune_sweep(fitted, X[:60], y[:60], X[60:], y[60:], hidden=(16, 16), dropout=0.1,
                        fractions=[0.5, 1.0], repeats=2, finetune={"max_epochs": 3, "patience": 3}, progress=False)
    assert set(df["model"]) == {BASELINE, "BYOL (unfrozen)", "BYOL (frozen)"}
    assert len(df) == 3 * 2 * 2
    assert set(df.loc[df["model"] == BASELINE, "mode"]) == {"scratch"}
    sizes = df.pivot_table(index=["fraction", "repeat"], columns="model", values="n_train")
    assert (sizes.nunique(axis=1) == 1).all()
    assert df["accuracy"].between(0, 1).all()


def test_protocol_rejects_unknown_names():
    with pytest.raises(OmicsInputError, match="unknown method 'SimCLR'; pass one of VIME, SCARF, BYOL"):
        make_pretrainer("SimCLR")
    with pytest.raises(OmicsInputError, match="VIME: .*unexpected keyword argument 'tau'"):
        make_pretrainer("VIME", tau=0.9)
    with pytest.raises(OmicsInputError, match=r"per_method names \['BYOL'\], which are not in methods"):
        pretrain(["VIME"], np.zeros((10, 3)), per_method={"BYOL": {}})
    with pytest.raises(OmicsInputError, match=r"unknown mode\(s\) \['linear'\]"):
        finetune_sweep({}, None, None, None, None, hidden=(4,), dropout=0.0, modes=["linear"], fractions=[1.0])
