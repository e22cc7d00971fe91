"""Simulated single-cell counts of a stimulation experiment, with the programmes behind them known.

Built for the interpretable-autoencoder chapter, in the spirit of the interferon-stimulated PBMC data (Kang et al.)
the method was shown on: cells of a few types, half of them stimulated. Gene programmes drive expression through the
same three steps as every simulated view in the book (:func:`~omicsnb.data._programmes.draw_membership`,
:func:`~omicsnb.data._programmes.draw_loadings`, :func:`~omicsnb.data._programmes.latent_signal`), and counts are
negative-binomial draws (:func:`~omicsnb.data.simulate.sample_nb_counts`), so nothing here is a second simulator:

- an interferon-like programme is active only in stimulated cells (in every type, with a type-specific strength);
- each cell type has its own programme, active only in that type;
- a few programmes vary in every cell (cell cycle, stress), and some genes belong to no programme.

The gene sets a model is given are a corrupted copy of the truth (:func:`annotation`): members dropped, false members
added, and decoy sets that match no programme at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from omicsnb.data._programmes import draw_loadings, draw_membership, latent_signal
from omicsnb.data.simulate import random_stream, sample_nb_counts
from omicsnb.pathways import noisy_gene_sets
from omicsnb.validation import OmicsInputError, check_float, check_int

IFN = "INTERFERON_RESPONSE"


@dataclass
class StimulationData:
    """Counts (cells x genes), cell annotations, and the truth behind them."""

    counts: pd.DataFrame
    obs: pd.DataFrame  # cell_type, condition ("control" / "stimulated"), library size
    activities: pd.DataFrame  # cells x programmes
    membership: pd.DataFrame  # genes x programmes, boolean
    kinds: dict[str, str] = field(default_factory=dict)  # programme -> "stimulation" / "cell type" / "shared"

    @property
    def true_sets(self) -> dict[str, list[str]]:
        return {p: list(self.membership.index[self.membership[p]]) for p in self.membership.columns}


def simulate_stimulation(n_cells: int = 2000, n_genes: int = 1000, n_cell_types: int = 4, n_shared: int = 4,
                         set_size: tuple[int, int] = (20, 60), ifn_strength: float = 1.5,
                         median_library_size: float = 3000.0, dispersion: float = 0.1, seed: int = 0,
                         ) -> StimulationData:
    """Cells of ``n_cell_types`` types, half stimulated, from ``1 + n_cell_types + n_shared`` programmes.

    ``ifn_strength`` is the mean activity of the interferon-like programme in stimulated cells (0 in controls).
    Programme sizes are drawn uniformly in ``set_size``; genes are drawn into programmes with a popularity weight,
    so programmes overlap as real gene sets do.
    """
    check_int("n_cells", n_cells, 4)
    check_int("n_genes", n_genes, 20)
    check_int("n_cell_types", n_cell_types, 1)
    check_int("n_shared", n_shared, 0)
    check_float("ifn_strength", ifn_strength, 0.0)
    check_float("median_library_size", median_library_size, 1.0)
    check_float("dispersion", dispersion, 0.0)
    low, high = (int(v) for v in set_size)
    if not 1 <= low <= high <= n_genes:
        raise OmicsInputError(f"set_size={set_size} must satisfy 1 <= low <= high <= n_genes={n_genes}")
    rng = random_stream(seed, "stimulation")
    types = [f"type_{k + 1}" for k in range(n_cell_types)]
    names = [IFN] + [f"{t.upper()}_IDENTITY" for t in types] + [f"SHARED_{k + 1}" for k in range(n_shared)]
    kinds = {IFN: "stimulation", **{n: "cell type" for n in names[1:1 + n_cell_types]},
             **{n: "shared" for n in names[1 + n_cell_types:]}}
    sizes = rng.integers(low, high + 1, size=len(names))
    popularity = rng.gamma(1.0, 1.0, size=n_genes)
    member = draw_membership(rng, np.arange(n_genes), sizes, n_genes, popularity)
    loadings = draw_loadings(rng, member, mean=0.8, sd=0.25, negative_fraction=0.05)

    cell_type = rng.integers(0, n_cell_types, size=n_cells)
    stimulated = rng.random(n_cells) < 0.5
    acts = np.zeros((n_cells, len(names)), dtype=np.float32)
    type_gain = rng.uniform(0.6, 1.4, size=n_cell_types)  # the IFN response differs in strength between types
    acts[:, 0] = stimulated * np.clip(rng.normal(ifn_strength, 0.3, n_cells) * type_gain[cell_type], 0, None)
    for k in range(n_cell_types):
        acts[:, 1 + k] = (cell_type == k) * np.clip(rng.normal(1.2, 0.3, n_cells), 0, None)
    if n_shared:
        acts[:, 1 + n_cell_types:] = rng.normal(0.0, 0.6, size=(n_cells, n_shared))

    genes = [f"GENE{j + 1:05d}" for j in range(n_genes)]
    base = rng.normal(-7.0, 1.0, size=n_genes)  # log share of a cell's library
    log_mean = base + latent_signal(acts, loadings)
    library = median_library_size * np.exp(rng.normal(0.0, 0.35, size=n_cells))
    mean = np.exp(log_mean) * library[:, None]
    counts = sample_nb_counts(rng, mean, dispersion)
    cells = [f"cell{i + 1:05d}" for i in range(n_cells)]
    obs = pd.DataFrame({"cell_type": np.asarray(types)[cell_type],
                        "condition": np.where(stimulated, "stimulated", "control"),
                        "library_size": counts.sum(axis=1)}, index=cells)
    return StimulationData(
        counts=pd.DataFrame(counts, index=cells, columns=genes),
        obs=obs,
        activities=pd.DataFrame(acts, index=cells, columns=names),
        membership=pd.DataFrame(member, index=genes, columns=names),
        kinds=kinds,
    )


def annotation(data: StimulationData, *, drop: float = 0.2, add: float = 0.2, n_decoys: int = 4,
               decoy_size: int = 40, seed: int = 0) -> dict[str, list[str]]:
    """The gene sets handed to a model: the true programmes with members dropped and false ones added, plus decoys.

    Each true set loses ``round(drop * size)`` members and gains ``round(add * size)`` genes from outside it; the
    ``n_decoys`` sets named ``DECOY_k`` are random genes that match no programme (a model should switch them off).
    """
    check_int("n_decoys", n_decoys, 0)
    check_int("decoy_size", decoy_size, 1, len(data.membership))
    sets = noisy_gene_sets(data.true_sets, data.membership.index, drop=drop, add=add, seed=seed)
    rng = random_stream(seed, "decoys")
    for k in range(n_decoys):
        sets[f"DECOY_{k + 1}"] = list(rng.choice(data.membership.index, size=decoy_size, replace=False))
    return sets
