"""Reference tables and the latent-factor machinery behind :mod:`omicsnb.data.simulate`.

Two kinds of content live here, kept apart from the cohort sampler so that later views (methylation, miRNA, RPPA,
single-cell counts, genotypes) can reuse them:

- **tables**: programme names and the TCGA-like cancer-type table (code, tissue, relative cohort size, normal-sample
  rate, how distinct the type is, log-hazard offset, a few programmes the type is known to use);
- **machinery**: the three small steps every simulated view shares, *gene sets -> loadings -> per-feature signal*:
  :func:`draw_membership`, :func:`draw_loadings` and :func:`latent_signal`.

Introduced in chapter 1, *Data and exploration*.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from omicsnb.validation import OmicsInputError

#: The named programmes, in order; programme ``k`` (1-based) beyond these is called ``PROGRAMME_kk``.
NAMED_PROGRAMMES: tuple[str, ...] = (
    "PROLIFERATION",
    "IMMUNE_INFILTRATION",
    "STROMAL",
    "HYPOXIA",
    "INTERFERON_RESPONSE",
    "EMT",
)

# code, tissue, relative cohort size (about TCGA's), normal samples per tumour (about TCGA's), distinctness in
# [0, 1] (how far the type's expression sits from the pan-cancer centre), log-hazard offset (poor prognosis > 0).
_TCGA_TYPES: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("BRCA", "breast", 1100, 0.10, 0.70, -0.3),
    ("LUAD", "lung", 515, 0.11, 0.60, 0.3),
    ("LUSC", "lung", 500, 0.10, 0.45, 0.3),
    ("KIRC", "kidney", 530, 0.14, 0.90, 0.0),
    ("THCA", "thyroid", 500, 0.12, 1.00, -1.5),
    ("PRAD", "prostate", 495, 0.10, 0.95, -1.5),
    ("HNSC", "head_neck", 520, 0.08, 0.45, 0.3),
    ("LGG", "brain", 510, 0.00, 0.95, -0.2),
    ("UCEC", "uterus", 545, 0.06, 0.55, -0.4),
    ("COAD", "colorectum", 455, 0.09, 0.75, -0.1),
    ("STAD", "stomach", 375, 0.09, 0.50, 0.3),
    ("SKCM", "skin", 470, 0.00, 0.90, 0.1),
    ("LIHC", "liver", 370, 0.13, 1.00, 0.4),
    ("BLCA", "bladder", 410, 0.05, 0.35, 0.4),
    ("OV", "ovary", 300, 0.00, 0.60, 0.5),
    ("GBM", "brain", 110, 0.03, 0.90, 1.4),
    ("KIRP", "kidney", 290, 0.11, 0.85, -0.6),
    ("CESC", "cervix", 305, 0.01, 0.35, -0.2),
    ("SARC", "soft_tissue", 260, 0.01, 0.50, 0.3),
)

#: Programmes some TCGA types are known to use strongly (added to the random type means when the programme exists).
TYPE_PROGRAMME_PRIORS: dict[str, dict[str, float]] = {
    "KIRC": {"HYPOXIA": 1.5},  # VHL loss
    "GBM": {"HYPOXIA": 1.2, "PROLIFERATION": 0.6},
    "LGG": {"PROLIFERATION": -0.8},
    "THCA": {"PROLIFERATION": -1.0},
    "PRAD": {"PROLIFERATION": -0.8},
    "SKCM": {"IMMUNE_INFILTRATION": 1.0},
    "SARC": {"STROMAL": 1.5, "EMT": 1.2},
    "LUSC": {"PROLIFERATION": 0.6},
    "HNSC": {"IMMUNE_INFILTRATION": 0.6, "INTERFERON_RESPONSE": 0.5},
}


def programme_names(n_programmes: int) -> list[str]:
    """Names of ``n_programmes`` programmes: the named ones first, then ``PROGRAMME_07``, ``PROGRAMME_08``, ...

    Introduced in chapter 1, *Data and exploration*.
    """
    named = list(NAMED_PROGRAMMES[:n_programmes])
    return named + [f"PROGRAMME_{k:02d}" for k in range(len(named) + 1, n_programmes + 1)]


def type_table(n_types: int, rng: np.random.Generator) -> pd.DataFrame:
    """The cancer-type table: TCGA codes first (BRCA ... SARC), then ``TYPE20``, ``TYPE21``, ...

    Types beyond the 19 TCGA codes get their own tissue and values drawn with ``rng`` inside the TCGA ranges.
    Columns: ``tissue``, ``weight`` (relative cohort size), ``normal_rate``, ``distinctness``, ``log_hazard``;
    index ``cancer_type``. Introduced in chapter 1, *Data and exploration*.
    """
    rows = [dict(zip(("cancer_type", "tissue", "weight", "normal_rate", "distinctness", "log_hazard"), r))
            for r in _TCGA_TYPES[:n_types]]
    weights = np.array([r[2] for r in _TCGA_TYPES])
    for k in range(len(_TCGA_TYPES) + 1, n_types + 1):
        rows.append({
            "cancer_type": f"TYPE{k}",
            "tissue": f"tissue{k}",
            "weight": float(np.exp(rng.uniform(np.log(weights.min()), np.log(weights.max())))),
            "normal_rate": float(rng.uniform(0.0, 0.12)),
            "distinctness": float(rng.uniform(0.35, 1.0)),
            "log_hazard": float(rng.normal(0.0, 0.4)),
        })
    return pd.DataFrame(rows).set_index("cancer_type")


def draw_membership(rng: np.random.Generator, candidates: np.ndarray, sizes: np.ndarray, n_features: int,
                    popularity: np.ndarray | None = None) -> np.ndarray:
    """Draw overlapping feature sets: a ``(n_features, len(sizes))`` boolean membership matrix.

    Set ``k`` takes ``sizes[k]`` distinct features from ``candidates`` (feature indices), without replacement, with
    probability proportional to ``popularity`` (one weight per candidate; uniform if ``None``). Popular features land
    in several sets, as hub genes do in real collections. Features outside ``candidates`` are in no set.

    Introduced in chapter 1, *Data and exploration*.
    """
    member = np.zeros((n_features, len(sizes)), dtype=bool)
    p = None if popularity is None else popularity / popularity.sum()
    for k, size in enumerate(sizes):
        member[rng.choice(candidates, size=int(size), replace=False, p=p), k] = True
    return member


def draw_loadings(rng: np.random.Generator, membership: np.ndarray, mean: float = 0.45, sd: float = 0.2,
                  negative_fraction: float = 0.1) -> np.ndarray:
    """Loadings for a membership matrix: ``N(mean, sd^2)`` magnitudes on members, 0 elsewhere, float32.

    A ``negative_fraction`` of members get a negative sign (genes a programme represses), so loadings are mostly
    positive. Introduced in chapter 1, *Data and exploration*.
    """
    magnitude = np.abs(rng.normal(mean, sd, size=membership.shape))
    sign = np.where(rng.random(membership.shape) < negative_fraction, -1.0, 1.0)
    return np.where(membership, magnitude * sign, 0.0).astype(np.float32)


def latent_signal(activities: np.ndarray, loadings: np.ndarray) -> np.ndarray:
    """Per-feature signal from latent activities: ``activities @ loadings.T``, float32.

    ``activities`` is ``(n_samples, n_factors)`` and ``loadings`` is ``(n_features, n_factors)``; the result is the
    ``(n_samples, n_features)`` additive contribution on the view's link scale (log mean for counts, logit for
    methylation beta values, ...). Introduced in chapter 1, *Data and exploration*.
    """
    a = np.asarray(activities, dtype=np.float32)
    w = np.asarray(loadings, dtype=np.float32)
    if a.shape[1] != w.shape[1]:
        raise OmicsInputError(f"activities have {a.shape[1]} factors but loadings have {w.shape[1]}; "
                              "pass loadings with one column per activity")
    return a @ w.T
