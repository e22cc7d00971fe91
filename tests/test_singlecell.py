"""Simulated stimulation cells: the interferon-like programme is active only when stimulated, identity programmes
only in their cell type, and the annotation given to a model is a corrupted copy of the truth plus decoys."""

from __future__ import annotations

import numpy as np
import pytest

from omicsnb.data import singlecell
from omicsnb.validation import OmicsInputError


@pytest.fixture(scope="module")
def sim():
    return singlecell.simulate_stimulation(n_cells=300, n_genes=200, n_cell_types=3, n_shared=2, seed=1)


def test_shapes_counts_and_kinds(sim):
    assert sim.counts.shape == (300, 200) and sim.counts.to_numpy().dtype.kind == "i"
    assert (sim.counts.to_numpy() >= 0).all()
    assert list(sim.membership.columns) == list(sim.activities.columns)
    assert list(sim.kinds.values()).count("cell type") == 3 and sim.kinds[singlecell.IFN] == "stimulation"


def test_interferon_only_when_stimulated_and_identity_only_in_its_type(sim):
    stim = (sim.obs["condition"] == "stimulated").to_numpy()
    ifn = sim.activities[singlecell.IFN].to_numpy()
    assert (ifn[~stim] == 0).all() and ifn[stim].mean() > 1.0
    for k in range(3):
        identity = sim.activities[f"TYPE_{k + 1}_IDENTITY"].to_numpy()
        other = (sim.obs["cell_type"] != f"type_{k + 1}").to_numpy()
        assert (identity[other] == 0).all() and identity[~other].mean() > 0.5


def test_interferon_genes_go_up_in_stimulated_cells(sim):
    stim = (sim.obs["condition"] == "stimulated").to_numpy()
    members = sim.membership[singlecell.IFN].to_numpy()
    log = np.log1p(sim.counts.to_numpy())
    up = log[stim][:, members].mean() - log[~stim][:, members].mean()
    rest = log[stim][:, ~members].mean() - log[~stim][:, ~members].mean()
    assert up > 0.2 and abs(rest) < up / 3


def test_annotation_corrupts_the_truth_and_adds_decoys(sim):
    sets = singlecell.annotation(sim, drop=0.2, add=0.2, n_decoys=3, decoy_size=15, seed=0)
    assert sum(name.startswith("DECOY") for name in sets) == 3
    truth = sim.true_sets[singlecell.IFN]
    given = set(sets[singlecell.IFN])
    assert len(given - set(truth)) == round(0.2 * len(truth))  # false members added
    assert len(set(truth) - given) == round(0.2 * len(truth))  # true members dropped
    assert singlecell.annotation(sim, seed=0) == singlecell.annotation(sim, seed=0)


def test_same_seed_same_cells_and_bad_sizes():
    a = singlecell.simulate_stimulation(n_cells=50, n_genes=60, seed=3)
    b = singlecell.simulate_stimulation(n_cells=50, n_genes=60, seed=3)
    assert a.counts.equals(b.counts)
    with pytest.raises(OmicsInputError, match="set_size"):
        singlecell.simulate_stimulation(n_cells=50, n_genes=30, set_size=(20, 60))
