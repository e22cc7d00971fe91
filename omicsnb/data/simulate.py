r"""A seeded, TCGA-like bulk RNA-seq cohort with a known ground truth.

This is the book's default data set: every chapter checks its methods against the truth recorded here. It mimics a
pan-cancer bulk RNA-seq cohort (the book's reference is TCGA: 9,349 samples, 19 cancer types, about 20k genes).
Introduced in chapter 1, *Data and exploration*.

Generative model
----------------
All logs are natural logs unless written ``log2``. ``N`` is a normal draw, ``U`` a uniform one, ``logU(a, b)`` a
draw that is uniform on the log scale, and :math:`\kappa` is ``type_separation`` (1 by default).

**Genes** :math:`g = 1..G` (shared by every cohort drawn from the same biology)

- baseline :math:`b_g \sim 0.85\,N(\log 10, 1.6^2) + 0.15\,N(\log 0.05, 1.5^2)` (expressed and barely expressed
  genes: log-normal means over ~5 orders of magnitude), then shifted so that :math:`\sum_g e^{b_g} = 10^6`:
  ``base_log_mean`` is the gene's log counts-per-million when every latent factor is zero;
- GC content :math:`gc_g = 0.3 + 0.4\,\mathrm{Beta}(5, 5)`;
- asymptotic negative-binomial dispersion :math:`\phi_g = 0.05\,e^{N(0, 0.5^2)}`;
- sd of gene-level log-normal noise :math:`s_g = 0.15\,e^{N(0, 0.4^2)}`;
- each gene has one role (``var['role']``): *module*, *marker*, *programme* (in at least one gene set) or
  *background*; modules and markers are set aside first, programmes are drawn from the rest (the pool).

**Programmes** :math:`p = 1..P` (annotated gene sets: ``PROLIFERATION``, ``IMMUNE_INFILTRATION``, ``STROMAL``,
``HYPOXIA``, ``INTERFERON_RESPONSE``, ``EMT``, then ``PROGRAMME_07`` ...)

- size :math:`\sim \mathrm{logU}(15, \min(200, \mathrm{pool}/8))`; members drawn from the programme pool without
  replacement with popularity weights :math:`e^{N(0, 1)}`, so hub genes sit in several sets (overlap);
- loadings :math:`W_{gp} = \pm|N(0.45, 0.2^2)|` on members (10% negative), 0 elsewhere;
- within-type sd :math:`\sigma_p \sim U(0.3, 0.6)`.

**Co-expression modules** :math:`m = 1..M` (unannotated: their genes are in no gene set): disjoint gene sets of size
:math:`\mathrm{logU}(20, 100)` (at most ``n_genes / 50``), loadings :math:`V_{gm} = |N(0.5, 0.15^2)|`, activity
:math:`f_{im} \sim N(0, 1)`, independent of cancer type.

**Cancer types** :math:`t` (TCGA codes BRCA ... SARC, then ``TYPE20`` ...) with weight :math:`\pi_t` (about TCGA's
cohort sizes: BRCA is ~10x GBM), tissue, distinctness :math:`d_t \in [0.35, 1]`, normal-sample rate and log-hazard
offset :math:`\gamma_t` (see ``truth.type_table``).

- type means :math:`\mu_{tp} = \kappa\,[0.4 z_{tp} + d_t u_{tp} \mathbb{1}(t \text{ uses } p) + r_{tp}]`,
  :math:`z \sim N(0,1)`, :math:`u \sim U(1, 2)`; each type strongly uses 3 programmes (types sharing a tissue, e.g.
  LUAD/LUSC, KIRC/KIRP, LGG/GBM, share 2 of them); :math:`r_{tp}` are a few known priors (KIRC: HYPOXIA, ...);
- subtypes: 1-4 per type, weights :math:`\sim \mathrm{Dirichlet}(3)`, offsets :math:`o_{kp} = \kappa N(0, 0.8^2)`
  on 3 programmes per subtype (none when a type has a single subtype);
- markers :math:`T_{gt}` (about 10% of genes): each tissue shared by several types has its own marker genes, and each
  type has its own (half as many when it shares a tissue); log fold change :math:`\kappa\,d_t\,U(1.5, 4)`. Types
  with small :math:`d_t` (squamous BLCA, CESC, HNSC, LUSC) sit in the overlapping central cloud, distinct ones
  (THCA, LIHC, LGG) apart.

**Samples** :math:`i` (types allocated exactly in proportion to :math:`\pi_t`, every type present; normals allocated
by the per-type normal rate to reach ``normal_fraction``; LGG, SKCM and OV get none, as in TCGA)

- tumour activity :math:`a_{ip} = \mu_{tp} + o_{k(i)p} + \sigma_p \epsilon_{ip}`;
- normal activity :math:`a_{ip} = 0.5\mu_{tp} - 2\cdot\mathbb{1}(p = \mathrm{PROLIFERATION}) + 0.7\sigma_p\epsilon_{ip}`
  (low proliferation; markers are kept, so normals keep their tissue identity);
- log expression :math:`\eta_{ig} = b_g + \sum_p W_{gp} a_{ip} + \sum_m V_{gm} f_{im} + T_{g,t(i)} + \beta_{g,c(i)} +
  s_g \epsilon_{ig}`, with :math:`\beta` the batch shift below;
- library size :math:`L_i = L_{med}\,e^{N(0, 0.35^2) + \lambda_{c(i)}}`, mean :math:`m_{ig} = L_i e^{\eta_{ig}} /
  \sum_h e^{\eta_{ih}}` (compositional, as in sequencing);
- counts :math:`y_{ig} \sim \mathrm{NB}(m_{ig}, \phi_g + 0.5/m_{ig})` drawn as gamma-Poisson (variance
  :math:`m + \phi m^2`, dispersion falling with the mean); ``obs['library_size']`` is the realised row sum.

**Batches** :math:`c` (``n_batches`` balanced, ``batch_strength`` :math:`s`; none when :math:`s = 0`):
:math:`\beta_{gc} = s\,[0.2 z_{gc} + k_{1c}(gc_g - 0.5) + k_{2c}((gc_g - 0.5)^2 - \overline{(gc - 0.5)^2})]`,
:math:`k_1 \sim N(0, 3^2)`, :math:`k_2 \sim N(0, 15^2)`, library shift :math:`\lambda_c \sim N(0, (0.3 s)^2)`.
One batch with :math:`s > 0` is a cohort-wide shift, visible against another cohort.

**Clinical** (tumours only; ``<NA>`` / NaN for normals)

- grade :math:`= 1 + \#\{\text{cutpoints} < a_{i,\mathrm{PROLIFERATION}} + N(0, 0.5^2)\}`, cutpoints at the 30% and
  75% quantiles of that score under the reference type mix (about 30/45/25% grades 1/2/3);
- survival: Weibull proportional hazards, :math:`T = \lambda (E / e^{\ell_i})^{1/k}`, :math:`E \sim \mathrm{Exp}(1)`,
  :math:`k = 1.3`, :math:`\lambda = 150` months, :math:`\ell_i = \sum_p \beta_p (a_{ip} - \bar a_p) + \gamma_{t(i)}`
  with :math:`\beta` = PROLIFERATION +0.5, IMMUNE_INFILTRATION -0.4, HYPOXIA +0.35, EMT +0.3 (those present),
  :math:`\bar a_p` the reference-mix mean; censoring :math:`C \sim U(0, 120)`; ``survival_time`` = min(T, C) in
  months, ``event`` = T <= C.

**Class signal**: with :math:`E_{tg} = \sum_p W_{gp} \bar\mu_{tp} + T_{gt}` the expected tumour log expression of
type :math:`t` (:math:`\bar\mu` includes the subtype means), gene :math:`g` carries cancer-type signal when
:math:`\max_t |E_{tg} - \mathrm{median}_{t'} E_{t'g}| \ge 0.5`: some type is at least 1.65-fold off the typical one.

**Non-linear class signal** (``class_signal="nonlinear"``; the default ``"linear"`` draws none of this and gives
exactly the cohort above). Everything above stays, and :math:`K = \lceil \log_2 T \rceil + 1` hidden *class
factors* are added, each loaded on a share of ~10% of all genes (drawn at random, so they overlap the programmes
and markers) with small loadings :math:`C_{gk} = \pm|N(0.15, 0.05^2)|` (half negative): every class gene moves by
only a fraction of its noise, and the signal is spread over hundreds of genes. Each type gets a distinct sign
pattern :math:`c_t \in \{-1, +1\}^K` (distinct up to a global sign) and each sample a random state
:math:`s_i = \pm 1` (a type's two mirror-image states), with :math:`A` = ``class_signal_strength``:

- class activity :math:`h_{ik} = A\,s_i\,c_{t(i)k} + 0.5\,\epsilon_{ik}`, added to the log expression as
  :math:`\sum_k C_{gk} h_{ik}` (normals too: it is part of the tissue's identity).

Every type's mean on every class gene is the same (zero), so no linear function of the genes separates the types
through these factors; what does is the *axis* a sample lies on, i.e. the products :math:`h_{ik} h_{il}`. The
factors are shared by all types, so unlabelled samples show them as strong co-expression of the class genes: an
encoder that learns the co-expression without labels learns the coordinates the types are defined in. Lower
``type_separation`` to weaken the linear signal (programme means and markers) next to it. Genes loaded on a class
factor count as class-signal genes. ``truth.class_activities``, ``truth.class_patterns`` and
``truth.class_loadings`` hold the truth; ``truth.latent_features()`` (programme and class activities) is what an
oracle classifier sees.

**Identifiers**: versioned Ensembl-like IDs (``ENSG00000123456.12``), unique upper-case symbols, and a messy symbol
table (``gene_id_table``): ~1% of IDs missing, ~1% of IDs sharing another gene's symbol (many-to-one), ~2% lower-case,
~1% mixed-case and ~1% whitespace-padded symbols, plus ~5% rows for IDs not in the cohort, in shuffled order.

Randomness comes from :class:`numpy.random.SeedSequence` streams keyed by the seed and a name (``"genes"``,
``"programmes"``, ``"counts"`` chunk 7, ...), so the same parameters always give the same numbers, the biology does not
depend on ``n_samples``, and a new view or a second cohort draws from its own stream without disturbing the others.

Extending: new cohorts and new views
------------------------------------
:meth:`Cohort.new_cohort` draws new samples (new seed, batch and type mix) from the same :class:`Biology`. A new view
of the *same* samples (methylation, miRNA, RPPA, ...) follows the same three steps as the expression view:
:func:`draw_membership` and :func:`draw_loadings` give the view's features loadings on the programmes,
:func:`latent_signal` turns ``cohort.latent.activities`` (plus type and batch terms from ``cohort.latent``) into a
per-feature signal on the view's link scale, and a noise model (:func:`sample_nb_counts` for counts) draws the values,
with randomness from ``random_stream(cohort.params["seed"], cohort.name, "<view>")``.

At paper scale (10,000 samples x 20,000 genes) simulation takes about 30 s on 2 cores and peaks near 1.1 GB resident
(the int32 counts are 0.8 GB of it); :meth:`Cohort.log_expression` returns another 0.8 GB float32 array.
"""

from __future__ import annotations

import re
import string
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm  # text bars: work in terminals and notebooks without ipywidgets

from omicsnb.data import genesets
from omicsnb.data._programmes import (
    TYPE_PROGRAMME_PRIORS,
    draw_loadings,
    draw_membership,
    latent_signal,
    programme_names,
    type_table,
)
from omicsnb.validation import OmicsInputError, check_range

__all__ = [
    "Biology",
    "Cohort",
    "LatentState",
    "SimulationTruth",
    "draw_loadings",
    "draw_membership",
    "latent_signal",
    "random_stream",
    "sample_nb_counts",
    "simulate_cohort",
]

CHUNK_SIZE = 256  #: samples per chunk of count sampling (fixed, so results do not depend on it)
CLASS_SIGNAL_SHIFT = 0.5  #: a gene carries class signal when some type's expected log expression is this far off
#: the median type's (natural log; 0.5 is a 1.65-fold change)
POISSON_DISPERSION = 0.5  #: the ``a1`` in the dispersion trend ``phi_g + a1 / mean``
SURVIVAL_DRIVERS = {"PROLIFERATION": 0.5, "IMMUNE_INFILTRATION": -0.4, "HYPOXIA": 0.35, "EMT": 0.3}
GRADE_DRIVER = "PROLIFERATION"
_GRADE_NOISE_SD = 0.5
_GRADE_QUANTILES = (0.30, 0.75)
_WEIBULL_SHAPE, _WEIBULL_SCALE, _MAX_FOLLOW_UP = 1.3, 150.0, 120.0
_NORMAL_SHRINK, _NORMAL_PROLIFERATION_SHIFT, _NORMAL_NOISE = 0.5, -2.0, 0.7
_MAX_SAMPLES = 1_000_000
_LOW_GENE_FRACTION = 0.15
_MARKER_FRACTION, _MAX_MARKERS_PER_UNIT, _MARKER_FOLD = 0.10, 80, (1.5, 4.0)
_ACTIVITY_SD, _TYPE_MEAN_SD, _TYPE_USE = (0.3, 0.6), 0.4, (1.0, 2.0)
_MODULE_LOADING = (0.5, 0.15)
CLASS_SIGNALS = ("linear", "nonlinear")  #: the class-signal regimes of :func:`simulate_cohort`
_CLASS_GENE_SHARE, _CLASS_LOADING, _CLASS_NOISE_SD = 0.10, (0.15, 0.05), 0.5
_NAME_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")
_GENE_SET_IDS = ("symbol", "gene_id", "ensembl_id")


# ----------------------------------------------------------------------------------------------------------------------
# Randomness and validation
# ----------------------------------------------------------------------------------------------------------------------
def random_stream(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent generator for ``seed`` and a path of names, e.g. ``random_stream(0, "SIMA", "counts", 3)``.

    Streams with different keys are statistically independent, and a stream never depends on what other streams
    drew, so adding a view or a cohort leaves existing numbers unchanged. Introduced in chapter 1, *Data and
    exploration*.
    """
    spawn_key = tuple(k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys)
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=spawn_key))


def _check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise OmicsInputError(f"{name} must be an integer, got {value!r}; pass a whole number, e.g. {name}={low or 1}")
    if low is not None and value < low:
        raise OmicsInputError(f"{name}={value} is too small; pass {name} >= {low}")
    if high is not None and value > high:
        raise OmicsInputError(f"{name}={value} is too large; pass {name} <= {high}")
    return int(value)


def _check_float(name: str, value, low: float, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise OmicsInputError(f"{name} must be a number, got {value!r}; pass e.g. {name}={low}")
    if not np.isfinite(value):
        raise OmicsInputError(f"{name}={value!r} is not finite; pass a finite number")
    check_range(name, value, low, high, low_open=low_open, high_open=high_open)
    return float(value)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise OmicsInputError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_name(name) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise OmicsInputError(f"name={name!r} is not a cohort code; pass 2-8 upper-case letters/digits starting "
                              "with a letter, e.g. name='SIMA'")
    return name


# ----------------------------------------------------------------------------------------------------------------------
# The shared biology
# ----------------------------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Biology:
    """Everything that is the same for every cohort drawn from one simulated world (genes, programmes, types).

    Arrays are indexed by gene (``G``), programme (``P``), module (``M``), cancer type (``T``) or subtype (``S``).
    Built by :func:`simulate_cohort`; :meth:`Cohort.new_cohort` and later views (``simulate_view``) reuse it.
    Introduced in chapter 1, *Data and exploration*.
    """

    seed: int
    gene_ids: np.ndarray  # (G,) versioned Ensembl-like IDs
    symbols: np.ndarray  # (G,) unique upper-case symbols
    gc_content: np.ndarray  # (G,) float32
    base_log_mean: np.ndarray  # (G,) float32, log CPM at zero latent activity
    dispersion: np.ndarray  # (G,) float32, asymptotic NB dispersion phi_g
    noise_sd: np.ndarray  # (G,) float32, sd of gene-level log-normal noise
    role: np.ndarray  # (G,) 'programme', 'module', 'marker' or 'background'
    programme_names: list[str]
    membership: np.ndarray  # (G, P) bool
    loadings: np.ndarray  # (G, P) float32
    activity_sd: np.ndarray  # (P,) within-type sd
    module_of: np.ndarray  # (G,) int, -1 outside modules
    module_loadings: np.ndarray  # (G, M) float32
    types: pd.DataFrame  # (T,) tissue, weight, normal_rate, distinctness, log_hazard
    type_means: np.ndarray  # (T, P)
    subtype_names: list[str]
    subtype_type: np.ndarray  # (S,) type code of each subtype
    subtype_weight: np.ndarray  # (S,) within-type weights
    subtype_offsets: np.ndarray  # (S, P)
    marker_effects: np.ndarray  # (G, T) float32 log fold changes
    marker_of: np.ndarray  # (G,) marked type(s) or ''
    class_signal: np.ndarray  # (G,) bool
    survival_coef: np.ndarray  # (P,)
    survival_centre: np.ndarray  # (P,)
    grade_cutpoints: tuple[float, float]
    gene_id_table: pd.DataFrame
    id_issues: pd.DataFrame
    type_separation: float = 1.0
    class_regime: str = "linear"  # 'linear' or 'nonlinear' (see the module docstring)
    class_strength: float = 0.0  # A, the amplitude of the class factors (0 in the linear regime)
    class_loadings: np.ndarray | None = None  # (G, K) float32; K = 0 in the linear regime
    class_patterns: np.ndarray | None = None  # (T, K) +-1 sign pattern of each type

    @property
    def n_class_factors(self) -> int:
        """K, the number of hidden class factors (0 in the linear regime)."""
        return 0 if self.class_loadings is None else self.class_loadings.shape[1]

    @property
    def type_names(self) -> list[str]:
        """Cancer-type codes in type-code order."""
        return list(self.types.index)

    @property
    def module_names(self) -> list[str]:
        """``MODULE_01``, ``MODULE_02``, ..."""
        return [f"MODULE_{m + 1:02d}" for m in range(self.module_loadings.shape[1])]

    def expected_type_profiles(self) -> np.ndarray:
        """``(T, G)`` expected tumour log expression of each type relative to the baseline (programmes + markers)."""
        tumour_means = self.type_means.copy()
        for s, t in enumerate(self.subtype_type):
            tumour_means[t] += self.subtype_weight[s] * self.subtype_offsets[s]
        return latent_signal(tumour_means, self.loadings) + self.marker_effects.T


@dataclass(eq=False)
class LatentState:
    """The per-sample latent state of a cohort, kept so that a later view can be drawn from the same samples.

    Introduced in chapter 1, *Data and exploration*.
    """

    type_code: np.ndarray  # (n,) int
    subtype_code: np.ndarray  # (n,) int, -1 for normals
    is_normal: np.ndarray  # (n,) bool
    batch_code: np.ndarray  # (n,) int
    activities: np.ndarray  # (n, P) float32
    module_activities: np.ndarray  # (n, M) float32
    log_library_target: np.ndarray  # (n,) float64
    batch_gene_shift: np.ndarray  # (B, G) float32, log-scale shift of each batch
    batch_library_shift: np.ndarray  # (B,) log-scale library shift of each batch
    class_activities: np.ndarray | None = None  # (n, K) float32 class-factor activities (K = 0: linear regime)
    class_state: np.ndarray | None = None  # (n,) +-1 mirror state (all +1 in the linear regime)


@dataclass(eq=False)
class SimulationTruth:
    """The ground truth of a simulated cohort. Introduced in chapter 1, *Data and exploration*.

    Attributes
    ----------
    activities : (samples x programmes) true programme activities.
    module_activities : (samples x modules) activities of the unannotated co-expression modules.
    membership : (genes x programmes) bool gene-set membership (index ``gene_id``).
    loadings : (genes x programmes) signed loadings (0 outside the set).
    type_means : (types x programmes) mean tumour activity of each type (without subtype offsets).
    subtype_means : (subtypes x programmes) type mean + subtype offset.
    type_table : per type: tissue, weight, normal_rate, distinctness, log_hazard, n_subtypes.
    marker_effects : (genes x types) log fold change of marker genes.
    class_signal : bool Series over genes: carries cancer-type signal (see the module docstring).
    survival_coef : log-hazard coefficient per programme (0 for non-drivers).
    type_log_hazard : log-hazard offset per type.
    weibull_shape, weibull_scale : the Weibull baseline (scale in months).
    grade_driver : programme driving histological grade; grade_cutpoints : its two cutpoints.
    batch_gene_shift : (genes x batches) log-scale shift; batch_library_shift : per batch.
    id_issues : which IDs the symbol table leaves unmapped, maps many-to-one, or spells messily.
    class_signal_regime : ``'linear'`` or ``'nonlinear'``; class_signal_strength : the amplitude A.
    class_activities : (samples x class factors) activities of the hidden class factors (no columns when linear).
    class_patterns : (types x class factors) +-1 sign pattern of each type; class_loadings : (genes x factors).
    """

    activities: pd.DataFrame
    module_activities: pd.DataFrame
    membership: pd.DataFrame
    loadings: pd.DataFrame
    type_means: pd.DataFrame
    subtype_means: pd.DataFrame
    type_table: pd.DataFrame
    marker_effects: pd.DataFrame
    class_signal: pd.Series
    survival_coef: pd.Series
    type_log_hazard: pd.Series
    weibull_shape: float
    weibull_scale: float
    grade_driver: str
    grade_cutpoints: tuple[float, float]
    batch_gene_shift: pd.DataFrame
    batch_library_shift: pd.Series
    id_issues: pd.DataFrame = field(repr=False)
    class_signal_regime: str = "linear"
    class_signal_strength: float = 0.0
    class_activities: pd.DataFrame | None = None
    class_patterns: pd.DataFrame | None = None
    class_loadings: pd.DataFrame | None = field(default=None, repr=False)

    def latent_features(self) -> pd.DataFrame:
        """Samples x (programmes + class factors): the true activities an oracle classifier may use.

        In the linear regime these are the programme activities alone. Introduced in chapter *How much does
        pretraining help?*.
        """
        if self.class_activities is None or self.class_activities.shape[1] == 0:
            return self.activities.copy()
        return pd.concat([self.activities, self.class_activities], axis=1)


def _gene_ids(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unique, sorted, versioned Ensembl-like IDs and their unversioned forms."""
    numbers = np.sort(rng.choice(np.arange(3, 300_000), size=n, replace=False))
    versions = rng.integers(1, 20, size=n)
    stable = np.array([f"ENSG{x:011d}" for x in numbers])
    return np.array([f"{s}.{v}" for s, v in zip(stable, versions)]), stable


def _symbols(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unique, realistic-shaped upper-case symbols: families like ``KRTB4``, ``KRTB5A``, and ``LINC01234``."""
    letters = np.array(list(string.ascii_uppercase))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        if rng.random() < 0.05:
            candidates = [f"LINC{rng.integers(1, 3000):05d}"]
        else:
            prefix = "".join(rng.choice(letters, size=rng.integers(2, 6)))
            start = int(rng.integers(1, 20))
            family = min(int(rng.geometric(0.3)), 15)
            candidates = [f"{prefix}{start + j}" + ("AB"[int(rng.integers(2))] if rng.random() < 0.1 else "")
                          for j in range(family)]
        for symbol in candidates:
            if symbol not in seen and len(out) < n:
                seen.add(symbol)
                out.append(symbol)
    return np.array(out)


def _messy_id_table(rng: np.random.Generator, stable_ids: np.ndarray, symbols: np.ndarray,
                    extra_ids: np.ndarray, extra_symbols: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The symbol mapping table a user would download, with its known defects, and the list of defects."""
    n = len(stable_ids)
    order = rng.permutation(n)
    k = max(1, round(0.01 * n))
    unmapped, many, partners = order[:k], order[k:2 * k], order[2 * k:3 * k]
    rest = order[3 * k:]
    n_lower, n_mixed, n_space = max(1, round(0.02 * n)), max(1, round(0.01 * n)), max(1, round(0.01 * n))
    lower = rest[:n_lower]
    mixed = rest[n_lower:n_lower + n_mixed]
    space = rest[n_lower + n_mixed:n_lower + n_mixed + n_space]
    table_symbol = symbols.astype(object).copy()
    table_symbol[many] = symbols[partners]  # several IDs -> one symbol
    table_symbol[lower] = [s.lower() for s in symbols[lower]]
    table_symbol[mixed] = [s[0] + s[1:].lower() for s in symbols[mixed]]
    table_symbol[space] = [(" " if j % 2 else "") + s + ("  " if j % 3 else " ") for j, s in enumerate(symbols[space])]
    keep = np.ones(n, dtype=bool)
    keep[unmapped] = False
    table = pd.DataFrame({
        "ensembl_id": np.concatenate([stable_ids[keep], extra_ids]),
        "symbol": np.concatenate([table_symbol[keep], extra_symbols]).astype(object),
    })
    table = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
    issues = []
    for issue, idx in (("unmapped", unmapped), ("many_to_one", many), ("lower_case", lower), ("mixed_case", mixed),
                       ("whitespace", space)):
        for g in idx:
            issues.append((g, issue, None if issue == "unmapped" else table_symbol[g]))
    issues_df = pd.DataFrame(issues, columns=["gene", "issue", "table_symbol"]).sort_values("gene")
    return table, issues_df


def _log_uniform_sizes(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    return np.round(np.exp(rng.uniform(np.log(low), np.log(high), size=n))).astype(int)


def _gene_budget(n_genes: int, n_marker_units: int) -> tuple[int, int, int]:
    """(marker genes per marker unit, module size cap, module size floor)."""
    per_unit = int(np.clip(round(_MARKER_FRACTION * n_genes / n_marker_units), 3, _MAX_MARKERS_PER_UNIT))
    module_cap = max(5, min(100, n_genes // 50))
    return per_unit, module_cap, min(20, module_cap)


def _type_programme_means(rng: np.random.Generator, types: pd.DataFrame, names: list[str],
                          shared_tissues: list[str], type_separation: float) -> np.ndarray:
    """(T, P) type means: small differences everywhere, 3 strongly used programmes per type, known priors."""
    n_types, n_programmes = len(types), len(names)
    d = types["distinctness"].to_numpy()
    means = _TYPE_MEAN_SD * rng.normal(size=(n_types, n_programmes))
    tissue_programmes = {t: rng.choice(n_programmes, size=min(2, n_programmes), replace=False) for t in shared_tissues}
    for t, (code, tissue) in enumerate(types["tissue"].items()):
        used = list(tissue_programmes.get(tissue, []))
        others = np.setdiff1d(np.arange(n_programmes), used)
        used += list(rng.choice(others, size=min(len(others), 3 - len(used)), replace=False))
        means[t, used] += d[t] * rng.uniform(*_TYPE_USE, size=len(used))
        for programme, value in TYPE_PROGRAMME_PRIORS.get(code, {}).items():
            if programme in names:
                means[t, names.index(programme)] += value
    return means * type_separation


def _subtypes(rng: np.random.Generator, types: pd.DataFrame, n_programmes: int, type_separation: float):
    """Subtype names, their type codes, within-type weights and (S, P) activity offsets."""
    names, type_of, weight, offsets = [], [], [], []
    for t, code in enumerate(types.index):
        k = int(rng.integers(1, 5))
        weights = rng.dirichlet(np.full(k, 3.0))
        for j in range(k):
            offset = np.zeros(n_programmes)
            if k > 1:
                hit = rng.choice(n_programmes, size=min(3, n_programmes), replace=False)
                offset[hit] = type_separation * rng.normal(0.0, 0.8, size=len(hit))
            names.append(f"{code}_S{j + 1}")
            type_of.append(t)
            weight.append(weights[j])
            offsets.append(offset)
    return names, np.array(type_of), np.array(weight), np.array(offsets)


def _markers(rng: np.random.Generator, types: pd.DataFrame, marker_genes: np.ndarray, shared_tissues: list[str],
             per_unit: int, own_markers: np.ndarray, n_genes: int, type_separation: float):
    """(G, T) marker log fold changes and the marked type(s) of each gene: shared-tissue markers, then own markers."""
    d = types["distinctness"].to_numpy()
    effects = np.zeros((n_genes, len(types)), dtype=np.float32)
    marker_of = np.full(n_genes, "", dtype=object)
    units = [np.flatnonzero(types["tissue"].to_numpy() == tissue) for tissue in shared_tissues]
    units += [np.array([t]) for t in range(len(types))]
    sizes = [per_unit] * len(shared_tissues) + list(own_markers)
    cursor = 0
    for members, size in zip(units, sizes):
        genes = marker_genes[cursor:cursor + size]
        cursor += size
        fold = rng.uniform(*_MARKER_FOLD, size=len(genes))
        for t in members:
            effects[genes, t] = type_separation * d[t] * fold
        marker_of[genes] = "+".join(types.index[members])
    return effects, marker_of


def _grade_cutpoints(types: pd.DataFrame, type_means: np.ndarray, subtype_type: np.ndarray,
                     subtype_weight: np.ndarray, subtype_offsets: np.ndarray, activity_sd: np.ndarray,
                     g: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Reference-mix mean activity (P,) and the grade cutpoints on programme ``g`` (30% / 75% quantiles)."""
    pi = types["weight"].to_numpy() / types["weight"].sum()
    shift = np.zeros_like(type_means)
    for s, t in enumerate(subtype_type):
        shift[t] += subtype_weight[s] * subtype_offsets[s]
    subtype_var = np.zeros(len(types))
    for s, t in enumerate(subtype_type):
        subtype_var[t] += subtype_weight[s] * (subtype_offsets[s, g] - shift[t, g]) ** 2
    tumour_means = type_means + shift
    centre = pi @ tumour_means
    variance = (pi @ (tumour_means[:, g] - centre[g]) ** 2 + pi @ subtype_var + activity_sd[g] ** 2
                + _GRADE_NOISE_SD ** 2)
    cut = centre[g] + np.sqrt(variance) * stats.norm.ppf(_GRADE_QUANTILES)
    return centre, (float(cut[0]), float(cut[1]))


def _class_factors(seed: int, n_genes: int, n_types: int) -> tuple[np.ndarray, np.ndarray]:
    """(G, K) class-factor loadings and (T, K) sign patterns, distinct up to a global sign (non-linear regime)."""
    rng = random_stream(seed, "biology", "class_factors")
    k = int(np.ceil(np.log2(max(n_types, 2)))) + 1  # 2**(k-1) >= n_types patterns up to a global sign
    per_factor = max(5, round(_CLASS_GENE_SHARE * n_genes))
    loadings = np.zeros((n_genes, k), dtype=np.float32)
    for j in range(k):
        genes = rng.choice(n_genes, size=per_factor, replace=False)
        sign = np.where(rng.random(per_factor) < 0.5, -1.0, 1.0)
        loadings[genes, j] = sign * np.abs(rng.normal(*_CLASS_LOADING, size=per_factor))
    # patterns with a leading +1 are one per mirror pair; take n_types of them at random
    codes = rng.choice(2 ** (k - 1), size=n_types, replace=False)
    bits = (codes[:, None] >> np.arange(k - 1)[None, :]) & 1
    patterns = np.hstack([np.ones((n_types, 1)), 2.0 * bits - 1.0])
    patterns *= np.where(rng.random((n_types, 1)) < 0.5, -1.0, 1.0)  # the mirror state labelled +1 is arbitrary
    return loadings, patterns.astype(np.int8)


def _build_biology(*, n_genes: int, n_types: int, n_programmes: int, n_modules: int, type_separation: float,
                   seed: int, class_regime: str = "linear", class_strength: float = 0.0) -> Biology:
    """Draw the shared world; each part from its own stream (see the module docstring for the model)."""
    rng_types = random_stream(seed, "biology", "types")
    types = type_table(n_types, rng_types)
    tissue_sizes = types["tissue"].value_counts()
    shared_tissues = [t for t in types["tissue"].unique() if tissue_sizes[t] > 1]
    per_unit, module_cap, module_floor = _gene_budget(n_genes, n_types + len(shared_tissues))
    own_markers = np.where(types["tissue"].isin(shared_tissues), max(2, per_unit // 2), per_unit)
    n_marker_genes = per_unit * len(shared_tissues) + int(own_markers.sum())

    # Genes ------------------------------------------------------------------------------------------------------------
    rng = random_stream(seed, "biology", "genes")
    gene_ids, stable = _gene_ids(rng, n_genes + round(0.05 * n_genes))
    symbols = _symbols(rng, len(gene_ids))
    pick = np.sort(rng.choice(len(gene_ids), size=n_genes, replace=False))
    extra = np.setdiff1d(np.arange(len(gene_ids)), pick)  # IDs only the symbol table knows
    extra_ids, extra_symbols = stable[extra], symbols[extra]
    gene_ids, stable, symbols = gene_ids[pick], stable[pick], symbols[rng.permutation(pick)]
    base = np.where(rng.random(n_genes) < _LOW_GENE_FRACTION, rng.normal(np.log(0.05), 1.5, size=n_genes),
                    rng.normal(np.log(10.0), 1.6, size=n_genes))
    base -= np.log(np.exp(base).sum() / 1e6)
    gc = 0.3 + 0.4 * rng.beta(5.0, 5.0, size=n_genes)
    dispersion = 0.05 * np.exp(rng.normal(0.0, 0.5, size=n_genes))
    noise_sd = 0.15 * np.exp(rng.normal(0.0, 0.4, size=n_genes))

    # Roles: modules, markers, then the programme pool -----------------------------------------------------------------
    module_sizes = _log_uniform_sizes(rng, n_modules, module_floor, module_cap)
    order = rng.permutation(n_genes)
    n_module_genes = int(module_sizes.sum())
    module_genes = order[:n_module_genes]
    marker_genes = order[n_module_genes:n_module_genes + n_marker_genes]
    pool = np.sort(order[n_module_genes + n_marker_genes:])
    min_pool = max(12 * n_programmes, 240)
    if len(pool) < min_pool:
        needed = n_module_genes + n_marker_genes + min_pool
        raise OmicsInputError(f"n_genes={n_genes} is too small for n_programmes={n_programmes}, n_types={n_types} and "
                              f"n_modules={n_modules}; pass n_genes >= {needed} or fewer programmes/modules/types")
    role = np.full(n_genes, "background", dtype=object)
    role[module_genes] = "module"
    role[marker_genes] = "marker"
    module_of = np.full(n_genes, -1, dtype=np.int64)
    module_of[module_genes] = np.repeat(np.arange(n_modules), module_sizes)
    module_loadings = np.zeros((n_genes, n_modules), dtype=np.float32)
    module_loadings[module_genes, module_of[module_genes]] = np.abs(rng.normal(*_MODULE_LOADING, size=n_module_genes))

    # Programmes -------------------------------------------------------------------------------------------------------
    rng = random_stream(seed, "biology", "programmes")
    names = programme_names(n_programmes)
    sizes = _log_uniform_sizes(rng, n_programmes, 15, min(200, len(pool) // 8))
    membership = draw_membership(rng, pool, sizes, n_genes, popularity=np.exp(rng.normal(0.0, 1.0, size=len(pool))))
    loadings = draw_loadings(rng, membership)
    role[membership.any(axis=1)] = "programme"
    activity_sd = rng.uniform(*_ACTIVITY_SD, size=n_programmes)

    # Types, subtypes, markers, clinical parameters --------------------------------------------------------------------
    type_means = _type_programme_means(rng_types, types, names, shared_tissues, type_separation)
    subtype_names, subtype_type, subtype_weight, subtype_offsets = _subtypes(rng_types, types, n_programmes,
                                                                             type_separation)
    marker_effects, marker_of = _markers(rng_types, types, marker_genes, shared_tissues, per_unit, own_markers,
                                         n_genes, type_separation)
    types = types.assign(n_subtypes=np.bincount(subtype_type, minlength=n_types))
    centre, cutpoints = _grade_cutpoints(types, type_means, subtype_type, subtype_weight, subtype_offsets,
                                         activity_sd, names.index(GRADE_DRIVER))

    # Identifiers ------------------------------------------------------------------------------------------------------
    table, issues = _messy_id_table(random_stream(seed, "biology", "identifiers"), stable, symbols, extra_ids,
                                    extra_symbols)
    issues = issues.assign(ensembl_id=stable[issues["gene"]], gene_id=gene_ids[issues["gene"]],
                           true_symbol=symbols[issues["gene"]])
    issues = issues[["gene_id", "ensembl_id", "true_symbol", "issue", "table_symbol"]].reset_index(drop=True)

    bio = Biology(
        seed=seed, gene_ids=gene_ids, symbols=symbols, gc_content=gc.astype(np.float32),
        base_log_mean=base.astype(np.float32), dispersion=dispersion.astype(np.float32),
        noise_sd=noise_sd.astype(np.float32), role=role, programme_names=names, membership=membership,
        loadings=loadings, activity_sd=activity_sd, module_of=module_of, module_loadings=module_loadings, types=types,
        type_means=type_means, subtype_names=subtype_names, subtype_type=subtype_type,
        subtype_weight=subtype_weight, subtype_offsets=subtype_offsets, marker_effects=marker_effects,
        marker_of=marker_of, class_signal=np.zeros(n_genes, dtype=bool),
        survival_coef=np.array([SURVIVAL_DRIVERS.get(p, 0.0) for p in names]), survival_centre=centre,
        grade_cutpoints=cutpoints, gene_id_table=table, id_issues=issues, type_separation=type_separation,
    )
    profiles = bio.expected_type_profiles()
    bio.class_signal = np.abs(profiles - np.median(profiles, axis=0)).max(axis=0) >= CLASS_SIGNAL_SHIFT
    if class_regime == "nonlinear":
        bio.class_loadings, bio.class_patterns = _class_factors(seed, n_genes, n_types)
        bio.class_regime, bio.class_strength = class_regime, float(class_strength)
        bio.class_signal = bio.class_signal | (bio.class_loadings != 0).any(axis=1)
    else:
        bio.class_loadings = np.zeros((n_genes, 0), dtype=np.float32)
        bio.class_patterns = np.zeros((n_types, 0), dtype=np.int8)
    return bio


# ----------------------------------------------------------------------------------------------------------------------
# Sampling a cohort from the biology
# ----------------------------------------------------------------------------------------------------------------------
def sample_nb_counts(rng: np.random.Generator, mean: np.ndarray, dispersion: np.ndarray | float,
                     poisson_dispersion: float = POISSON_DISPERSION) -> np.ndarray:
    """Negative-binomial counts as a gamma-Poisson mixture, int32.

    The dispersion falls with the mean, ``phi = dispersion + poisson_dispersion / mean`` (``dispersion`` broadcasts
    over the last axis), so ``Var = mean + phi * mean**2``. Draws are float32 to keep memory low; call it on chunks.
    Introduced in chapter 1, *Data and exploration*.
    """
    mean = np.asarray(mean, dtype=np.float32)
    scale = np.asarray(dispersion, dtype=np.float32) * mean + np.float32(poisson_dispersion)  # mean * phi
    rate = rng.standard_gamma(mean / scale, dtype=np.float32)
    rate *= scale
    return rng.poisson(rate).astype(np.int32)


def _allocate(total: int, weights: np.ndarray, capacity: np.ndarray | None = None,
              minimum: np.ndarray | None = None) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder), within [minimum, capacity]."""
    n = len(weights)
    low = np.zeros(n, dtype=np.int64) if minimum is None else minimum.astype(np.int64)
    cap = np.full(n, total, dtype=np.int64) if capacity is None else capacity.astype(np.int64)
    alloc = low.copy()
    while alloc.sum() < total:
        open_ = alloc < cap
        w = np.where(open_, weights, 0.0)
        if w.sum() <= 0:  # every weighted slot is full: spread the rest evenly over open slots
            w = open_.astype(float)
        remaining = total - alloc.sum()
        share = remaining * w / w.sum()
        add = np.floor(share).astype(np.int64)
        left = remaining - add.sum()
        if left:
            add[np.argsort(-(share - add) - 1e-9 * np.arange(n))[:left]] += 1
        alloc = np.minimum(alloc + add, cap)
    while alloc.sum() > total:  # minimums overshot: take from the largest
        alloc[np.argmax(alloc - low)] -= 1
    return alloc


def _resolve_proportions(type_proportions, types: pd.DataFrame) -> np.ndarray:
    codes = list(types.index)
    if type_proportions is None:
        p = types["weight"].to_numpy(dtype=float)
        return p / p.sum()
    if isinstance(type_proportions, (Mapping, pd.Series)):
        unknown = [k for k in type_proportions.keys() if k not in codes]
        if unknown:
            raise OmicsInputError(f"type_proportions names unknown cancer types {unknown}; use codes from {codes}")
        p = np.array([float(type_proportions.get(c, 0.0)) for c in codes])
    else:
        p = np.asarray(type_proportions, dtype=float)
        if p.shape != (len(codes),):
            raise OmicsInputError(f"type_proportions has {p.size} values but there are {len(codes)} cancer types; "
                                  "pass one value per type or a dict {code: proportion}")
    if not np.all(np.isfinite(p)) or (p < 0).any():
        raise OmicsInputError("type_proportions has negative or non-finite values; pass proportions >= 0")
    if abs(p.sum() - 1.0) > 1e-3:
        raise OmicsInputError(f"type_proportions sum to {p.sum():.4g}; pass proportions that sum to 1")
    return p / p.sum()


def _barcodes(rng: np.random.Generator, name: str, type_code: np.ndarray, batch_code: np.ndarray,
              is_normal: np.ndarray, n_types: int) -> np.ndarray:
    """TCGA-barcode-like IDs ``NAME-SS-PPPP-01A``: site (batch x type), participant, 01 tumour / 11 normal."""
    alphabet = np.array(list(string.digits + string.ascii_uppercase))
    participant = rng.choice(36 ** 4, size=len(type_code), replace=False)
    digits = np.stack([(participant // 36 ** k) % 36 for k in (3, 2, 1, 0)], axis=1)
    site = 36 + batch_code * n_types + type_code
    return np.array([
        f"{name}-{alphabet[(s // 36) % 36]}{alphabet[s % 36]}-{''.join(alphabet[d])}-{'11' if nrm else '01'}A"
        for s, d, nrm in zip(site, digits, is_normal)
    ])


def _sample_cohort(bio: Biology, *, n_samples: int, normal_fraction: float, n_batches: int, batch_strength: float,
                   type_proportions, median_library_size: float, seed: int, name: str, progress: bool,
                   params: dict) -> Cohort:
    types = bio.types
    n_types, n_genes, n_programmes = len(types), len(bio.gene_ids), len(bio.programme_names)
    proportions = _resolve_proportions(type_proportions, types)
    present = proportions > 0
    if n_samples < present.sum():
        raise OmicsInputError(f"n_samples={n_samples} is smaller than the {present.sum()} cancer types requested; "
                              f"pass n_samples >= {present.sum()}")
    per_type = _allocate(n_samples, proportions, minimum=present.astype(int))
    n_normal = int(round(normal_fraction * n_samples))
    capacity = np.maximum(per_type - 1, 0)
    if n_normal > capacity.sum():
        raise OmicsInputError(f"normal_fraction={normal_fraction} leaves some type without a tumour sample; pass a "
                              "smaller normal_fraction or more samples")
    normal_weight = per_type * types["normal_rate"].to_numpy()
    normals = _allocate(n_normal, normal_weight, capacity=capacity) if n_normal else np.zeros(n_types, dtype=int)

    rng = random_stream(seed, name, "samples")
    type_code = np.repeat(np.arange(n_types), per_type)
    is_normal = np.concatenate([np.arange(k) < j for k, j in zip(per_type, normals)])
    shuffle = rng.permutation(n_samples)
    type_code, is_normal = type_code[shuffle], is_normal[shuffle]
    batch_code = rng.permutation(np.arange(n_samples) % n_batches)

    subtype_code = np.full(n_samples, -1, dtype=np.int64)
    for t in range(n_types):
        rows = np.flatnonzero((type_code == t) & ~is_normal)
        options = np.flatnonzero(bio.subtype_type == t)
        subtype_code[rows] = rng.choice(options, size=len(rows), p=bio.subtype_weight[options])

    noise = rng.normal(size=(n_samples, n_programmes)) * bio.activity_sd
    tumour = bio.type_means[type_code] + bio.subtype_offsets[np.maximum(subtype_code, 0)] + noise
    normal = _NORMAL_SHRINK * bio.type_means[type_code] + _NORMAL_NOISE * noise
    if "PROLIFERATION" in bio.programme_names:
        normal[:, bio.programme_names.index("PROLIFERATION")] += _NORMAL_PROLIFERATION_SHIFT
    activities = np.where(is_normal[:, None], normal, tumour).astype(np.float32)
    module_activities = rng.normal(size=(n_samples, bio.module_loadings.shape[1])).astype(np.float32)

    # Batches ----------------------------------------------------------------------------------------------------------
    batch_gene_shift = np.zeros((n_batches, n_genes), dtype=np.float32)
    batch_library_shift = np.zeros(n_batches)
    if batch_strength > 0:
        rng_b = random_stream(seed, name, "batches")
        centred_gc = bio.gc_content.astype(float) - 0.5
        curve = centred_gc ** 2 - np.mean(centred_gc ** 2)
        for b in range(n_batches):
            k1, k2 = rng_b.normal(0.0, 3.0), rng_b.normal(0.0, 15.0)
            shift = 0.2 * rng_b.normal(size=n_genes) + k1 * centred_gc + k2 * curve
            batch_gene_shift[b] = batch_strength * shift
        batch_library_shift = rng_b.normal(0.0, 0.3 * batch_strength, size=n_batches)
    log_library = np.log(median_library_size) + rng.normal(0.0, 0.35, size=n_samples) + batch_library_shift[batch_code]

    # Hidden class factors (non-linear regime only: their own stream, so the linear regime is unchanged) -------------
    n_factors = bio.n_class_factors
    class_state = np.ones(n_samples, dtype=np.int8)
    class_activities = np.zeros((n_samples, n_factors), dtype=np.float32)
    if n_factors:
        rng_h = random_stream(seed, name, "class_states")
        class_state = np.where(rng_h.random(n_samples) < 0.5, -1, 1).astype(np.int8)
        class_activities = (bio.class_strength * class_state[:, None] * bio.class_patterns[type_code]
                            + _CLASS_NOISE_SD * rng_h.normal(size=(n_samples, n_factors))).astype(np.float32)

    latent = LatentState(type_code=type_code, subtype_code=subtype_code, is_normal=is_normal, batch_code=batch_code,
                         activities=activities, module_activities=module_activities, log_library_target=log_library,
                         batch_gene_shift=batch_gene_shift, batch_library_shift=batch_library_shift,
                         class_activities=class_activities, class_state=class_state)

    # Counts, chunk by chunk -------------------------------------------------------------------------------------------
    counts = np.empty((n_samples, n_genes), dtype=np.int32)
    marker_t = np.ascontiguousarray(bio.marker_effects.T)
    with tqdm(total=n_samples, unit="sample", desc=f"Simulating {name} counts", disable=not progress) as bar:
        for c, start in enumerate(range(0, n_samples, CHUNK_SIZE)):
            rows = slice(start, min(start + CHUNK_SIZE, n_samples))
            rng_c = random_stream(seed, name, "counts", c)
            eta = latent_signal(activities[rows], bio.loadings)
            eta += latent_signal(module_activities[rows], bio.module_loadings)
            if n_factors:
                eta += latent_signal(class_activities[rows], bio.class_loadings)
            eta += bio.base_log_mean
            eta += marker_t[type_code[rows]]
            eta += batch_gene_shift[batch_code[rows]]
            eta += rng_c.standard_normal(size=eta.shape, dtype=np.float32) * bio.noise_sd
            eta -= eta.max(axis=1, keepdims=True)
            np.exp(eta, out=eta)
            eta *= (np.exp(log_library[rows]) / eta.sum(axis=1, dtype=np.float64)).astype(np.float32)[:, None]
            counts[rows] = sample_nb_counts(rng_c, eta, bio.dispersion)
            bar.update(rows.stop - rows.start)

    # Clinical ---------------------------------------------------------------------------------------------------------
    rng_k = random_stream(seed, name, "clinical")
    g = bio.programme_names.index(GRADE_DRIVER)
    score = activities[:, g] + rng_k.normal(0.0, _GRADE_NOISE_SD, size=n_samples)
    grade = pd.array(1 + np.searchsorted(bio.grade_cutpoints, score), dtype="Int64")
    grade[is_normal] = pd.NA
    log_hazard = (activities - bio.survival_centre) @ bio.survival_coef + types["log_hazard"].to_numpy()[type_code]
    event_time = _WEIBULL_SCALE * (rng_k.exponential(size=n_samples) / np.exp(log_hazard)) ** (1.0 / _WEIBULL_SHAPE)
    censor_time = rng_k.uniform(0.0, _MAX_FOLLOW_UP, size=n_samples)
    survival_time = np.where(is_normal, np.nan, np.minimum(event_time, censor_time))
    event = pd.array(event_time <= censor_time, dtype="boolean")
    event[is_normal] = pd.NA

    # Tables -----------------------------------------------------------------------------------------------------------
    sample_ids = _barcodes(rng, name, type_code, batch_code, is_normal, n_types)
    batch_names = [f"{name}-batch{b + 1}" for b in range(n_batches)]
    subtype_label = pd.array(np.array(bio.subtype_names, dtype=object)[np.maximum(subtype_code, 0)], dtype="string")
    subtype_label[is_normal] = pd.NA
    obs = pd.DataFrame({
        "cohort": name,
        "cancer_type": pd.Categorical.from_codes(type_code, categories=bio.type_names),
        "subtype": pd.Categorical(subtype_label, categories=bio.subtype_names),
        "sample_type": pd.Categorical(np.where(is_normal, "normal", "tumour"), categories=["tumour", "normal"]),
        "batch": pd.Categorical.from_codes(batch_code, categories=batch_names),
        "library_size": counts.sum(axis=1, dtype=np.int64),
        "grade": grade,
        "survival_time": survival_time,
        "event": event,
    }, index=pd.Index(sample_ids, name="sample_id"))
    obs["cohort"] = obs["cohort"].astype("category")
    var = pd.DataFrame({
        "symbol": bio.symbols,
        "gc_content": bio.gc_content,
        "base_log_mean": bio.base_log_mean,
        "is_class_signal": bio.class_signal,
        "module": bio.module_of,
        "n_programmes": bio.membership.sum(axis=1),
        "role": pd.Categorical(bio.role, categories=["programme", "module", "marker", "background"]),
        "marker_of": bio.marker_of,
        "dispersion": bio.dispersion,
    }, index=pd.Index(bio.gene_ids, name="gene_id"))
    truth = _truth(bio, latent, obs.index, batch_names)
    return Cohort(counts=counts, obs=obs, var=var, truth=truth, biology=bio, latent=latent, name=name, params=params)


def _truth(bio: Biology, latent: LatentState, sample_index: pd.Index, batch_names: list[str]) -> SimulationTruth:
    genes = pd.Index(bio.gene_ids, name="gene_id")
    programmes = pd.Index(bio.programme_names, name="programme")
    types = pd.Index(bio.type_names, name="cancer_type")
    factors = pd.Index([f"CLASS_FACTOR_{k + 1}" for k in range(bio.n_class_factors)], name="class_factor")
    return SimulationTruth(
        activities=pd.DataFrame(latent.activities, index=sample_index, columns=programmes),
        module_activities=pd.DataFrame(latent.module_activities, index=sample_index,
                                       columns=pd.Index(bio.module_names, name="module")),
        membership=pd.DataFrame(bio.membership, index=genes, columns=programmes),
        loadings=pd.DataFrame(bio.loadings, index=genes, columns=programmes),
        type_means=pd.DataFrame(bio.type_means, index=types, columns=programmes),
        subtype_means=pd.DataFrame(bio.type_means[bio.subtype_type] + bio.subtype_offsets,
                                   index=pd.Index(bio.subtype_names, name="subtype"), columns=programmes),
        type_table=bio.types.copy(),
        marker_effects=pd.DataFrame(bio.marker_effects, index=genes, columns=types),
        class_signal=pd.Series(bio.class_signal, index=genes, name="is_class_signal"),
        survival_coef=pd.Series(bio.survival_coef, index=programmes, name="log_hazard_ratio"),
        type_log_hazard=bio.types["log_hazard"].copy(),
        weibull_shape=_WEIBULL_SHAPE,
        weibull_scale=_WEIBULL_SCALE,
        grade_driver=GRADE_DRIVER,
        grade_cutpoints=bio.grade_cutpoints,
        batch_gene_shift=pd.DataFrame(latent.batch_gene_shift.T, index=genes,
                                      columns=pd.Index(batch_names, name="batch")),
        batch_library_shift=pd.Series(latent.batch_library_shift, index=pd.Index(batch_names, name="batch"),
                                      name="log_library_shift"),
        id_issues=bio.id_issues,
        class_signal_regime=bio.class_regime,
        class_signal_strength=bio.class_strength,
        class_activities=pd.DataFrame(latent.class_activities, index=sample_index, columns=factors),
        class_patterns=pd.DataFrame(bio.class_patterns, index=types, columns=factors),
        class_loadings=pd.DataFrame(bio.class_loadings, index=genes, columns=factors),
    )


# ----------------------------------------------------------------------------------------------------------------------
# The cohort
# ----------------------------------------------------------------------------------------------------------------------
class Cohort:
    """A simulated cohort: counts, sample and gene tables, the messy symbol table and the ground truth.

    Attributes
    ----------
    counts : int32 array (samples x genes).
    obs : sample table, index ``sample_id``: cohort, cancer_type, subtype, sample_type, batch, library_size, grade,
        survival_time (months), event (nullable: grade, subtype, survival_time and event are missing for normals).
    var : gene table, index ``gene_id`` (versioned): symbol, gc_content, base_log_mean, is_class_signal, module (-1 if
        none), n_programmes, role, marker_of, dispersion.
    truth : :class:`SimulationTruth`.
    gene_id_table : messy ``ensembl_id`` (unversioned) -> ``symbol`` table.
    biology, latent : the shared world and the per-sample latent state, for new cohorts and new views.

    Introduced in chapter 1, *Data and exploration*.
    """

    def __init__(self, *, counts: np.ndarray, obs: pd.DataFrame, var: pd.DataFrame, truth: SimulationTruth,
                 biology: Biology, latent: LatentState, name: str, params: dict):
        self.counts = counts
        self.obs = obs
        self.var = var
        self.truth = truth
        self.biology = biology
        self.latent = latent
        self.name = name
        self.params = params

    @property
    def gene_id_table(self) -> pd.DataFrame:
        """The messy symbol table (a copy): columns ``ensembl_id`` (unversioned) and ``symbol``."""
        return self.biology.gene_id_table.copy()

    @property
    def n_samples(self) -> int:
        return self.counts.shape[0]

    @property
    def n_genes(self) -> int:
        return self.counts.shape[1]

    def __repr__(self) -> str:
        return (f"Cohort({self.name!r}: {self.n_samples:,} samples x {self.n_genes:,} genes, "
                f"{self.obs['cancer_type'].nunique()} cancer types, {len(self.biology.programme_names)} programmes)")

    def log_expression(self, pseudocount: float = 1.0) -> np.ndarray:
        """``log2(CPM + pseudocount)`` as a float32 array (samples x genes), computed in chunks.

        Introduced in chapter 1, *Data and exploration*.
        """
        pseudocount = _check_float("pseudocount", pseudocount, 0.0, low_open=True)
        out = np.empty(self.counts.shape, dtype=np.float32)
        per_million = 1e6 / np.maximum(self.obs["library_size"].to_numpy(dtype=np.float64), 1.0)
        for start in range(0, self.n_samples, CHUNK_SIZE):
            rows = slice(start, start + CHUNK_SIZE)
            block = self.counts[rows].astype(np.float32)
            block *= per_million[rows].astype(np.float32)[:, None]
            block += np.float32(pseudocount)
            np.log2(block, out=out[rows])
        return out

    def to_frame(self, log: bool = True, with_labels: bool = False) -> pd.DataFrame:
        """Samples x ``gene_id`` DataFrame of log2(CPM+1) (``log=True``) or raw counts, optionally + ``cancer_type``.

        With ``log=False`` and no labels the frame shares memory with :attr:`counts` (no copy at paper scale).

        Introduced in chapter 1, *Data and exploration*.
        """
        _check_bool("log", log)
        _check_bool("with_labels", with_labels)
        values = self.log_expression() if log else self.counts
        frame = pd.DataFrame(values, index=self.obs.index, columns=self.var.index, copy=False)
        if with_labels:
            frame["cancer_type"] = self.obs["cancer_type"]
        return frame

    def gene_sets(self, id: str = "symbol") -> dict[str, list[str]]:
        """The true programmes as ``{name: [gene, ...]}``, genes named by ``'symbol'``, ``'gene_id'`` or
        ``'ensembl_id'`` (unversioned). Introduced in chapter 1, *Data and exploration*.
        """
        if id not in _GENE_SET_IDS:
            raise OmicsInputError(f"id={id!r} is not a gene identifier type; pass one of {list(_GENE_SET_IDS)}")
        labels = {"symbol": np.char.upper(self.biology.symbols.astype(str)),
                  "gene_id": self.biology.gene_ids,
                  "ensembl_id": np.array([g.split(".")[0] for g in self.biology.gene_ids])}[id]
        member = self.biology.membership
        return {p: labels[member[:, k]].tolist() for k, p in enumerate(self.biology.programme_names)}

    def write_gmt(self, path: str | Path, id: str = "symbol", overwrite: bool = False) -> Path:
        """Write the true programmes as a GMT file (by upper-case symbol by default); returns the path.

        Refuses to replace an existing file unless ``overwrite=True`` (written by
        :func:`omicsnb.data.genesets.write_gmt`). Introduced in chapter 1, *Data and exploration*.
        """
        _check_bool("overwrite", overwrite)
        sets = self.gene_sets(id=id)
        descriptions = {name: f"omicsnb simulated programme (seed {self.biology.seed}, {len(genes)} genes)"
                        for name, genes in sets.items()}
        return genesets.write_gmt(sets, path, descriptions=descriptions, overwrite=overwrite)

    def summary(self) -> pd.DataFrame:
        """One tidy table of the cohort's key numbers (index ``statistic``, column ``value``).

        Introduced in chapter 1, *Data and exploration*.
        """
        obs = self.obs
        tumour = obs["sample_type"] == "tumour"
        type_counts = obs["cancer_type"].value_counts()
        issues = self.biology.id_issues["issue"].value_counts()
        rows = {
            "cohort": self.name,
            "seed": self.params.get("seed"),
            "samples": self.n_samples,
            "genes": self.n_genes,
            "cancer types": int((type_counts > 0).sum()),
            "largest / smallest type": f"{type_counts.idxmax()} {type_counts.max()} / "
                                        f"{type_counts[type_counts > 0].idxmin()} {type_counts[type_counts > 0].min()}",
            "subtypes": int(obs["subtype"].nunique()),
            "normal fraction": round(float((~tumour).mean()), 4),
            "batches": int(obs["batch"].nunique()),
            "batch strength": self.params.get("batch_strength"),
            "median library size": int(obs["library_size"].median()),
            "zero counts (fraction)": round(float((self.counts == 0).mean()), 4),
            "programmes": len(self.biology.programme_names),
            "genes in a programme": int(self.biology.membership.any(axis=1).sum()),
            "co-expression modules": self.biology.module_loadings.shape[1],
            "class-signal genes": int(self.biology.class_signal.sum()),
            "grade 1 / 2 / 3": " / ".join(str(int((obs["grade"] == k).sum())) for k in (1, 2, 3)),
            "events (tumours)": int(obs["event"].sum()),
            "event rate (tumours)": round(float(obs.loc[tumour, "event"].astype(float).mean()), 4),
            "median follow-up (months)": round(float(obs.loc[tumour, "survival_time"].median()), 1),
            "IDs unmapped in symbol table": int(issues.get("unmapped", 0)),
            "IDs sharing a symbol (many-to-one)": int(issues.get("many_to_one", 0)),
            "messy symbols (case/whitespace)": int(issues.drop(["unmapped", "many_to_one"], errors="ignore").sum()),
        }
        return pd.DataFrame({"value": pd.Series(rows, dtype=object)}).rename_axis("statistic")

    def new_cohort(self, n_samples: int, *, seed: int, batch_strength: float | None = None, n_batches: int = 1,
                   normal_fraction: float | None = None, type_proportions: Mapping[str, float] | Sequence[float] | None
                   = None, median_library_size: float | None = None, name: str | None = None,
                   progress: bool = True) -> Cohort:
        """A second cohort from the **same** biology (genes, programmes, type profiles, clinical model), new samples.

        Use it for cross-cohort transfer: a new ``seed``, its own batch effect (``batch_strength``, default this
        cohort's) and, optionally, a different type mix (``type_proportions``: ``{code: proportion}``, absent codes
        get 0, or one value per type; must sum to 1). ``normal_fraction`` and ``median_library_size`` default to this
        cohort's. ``name`` (default: the next letter, ``SIMA`` -> ``SIMB``) prefixes sample IDs and batch labels, so
        cohorts can be concatenated. Introduced in chapter 1, *Data and exploration*.
        """
        if name is None:
            last = self.name[-1]
            name = self.name[:-1] + chr(ord(last) + 1) if "A" <= last < "Z" else (self.name + "B")[:8]
        params = dict(self.params)
        params.update(n_samples=n_samples, seed=seed, n_batches=n_batches, name=name,
                      batch_strength=self.params["batch_strength"] if batch_strength is None else batch_strength,
                      normal_fraction=self.params["normal_fraction"] if normal_fraction is None else normal_fraction,
                      median_library_size=(self.params["median_library_size"] if median_library_size is None
                                           else median_library_size),
                      type_proportions=type_proportions, progress=progress, biology_seed=self.biology.seed)
        checked = _validate_sampling(**{k: params[k] for k in _SAMPLING_ARGS})
        params.update(checked)
        return _sample_cohort(self.biology, **checked, type_proportions=type_proportions, params=params)


_SAMPLING_ARGS = ("n_samples", "normal_fraction", "n_batches", "batch_strength", "median_library_size", "seed", "name",
                  "progress")


def _validate_sampling(*, n_samples, normal_fraction, n_batches, batch_strength, median_library_size, seed, name,
                       progress) -> dict:
    return dict(
        n_samples=_check_int("n_samples", n_samples, 2, _MAX_SAMPLES),
        normal_fraction=_check_float("normal_fraction", normal_fraction, 0.0, 1.0, high_open=True),
        n_batches=_check_int("n_batches", n_batches, 1, 1000),
        batch_strength=_check_float("batch_strength", batch_strength, 0.0),
        median_library_size=_check_float("median_library_size", median_library_size, 1e3),
        seed=_check_int("seed", seed, 0),
        name=_check_name(name),
        progress=_check_bool("progress", progress),
    )


def simulate_cohort(n_samples: int = 2000, n_genes: int = 5000, n_types: int = 19, n_programmes: int = 40,
                    n_modules: int | None = None, normal_fraction: float = 0.08, n_batches: int = 1,
                    batch_strength: float = 0.0, seed: int = 0, progress: bool = True, *,
                    type_separation: float = 1.0,
                    type_proportions: Mapping[str, float] | Sequence[float] | None = None,
                    median_library_size: float = 30e6, name: str = "SIMA", class_signal: str = "linear",
                    class_signal_strength: float = 1.5) -> Cohort:
    """Simulate a TCGA-like bulk RNA-seq cohort with a known ground truth (model: see the module docstring).

    Parameters
    ----------
    n_samples : samples (>= the number of types); the book's paper scale is 10,000.
    n_genes : genes; paper scale 20,000. Must leave room for the programmes, modules and markers.
    n_types : cancer types (>= 2): TCGA codes BRCA ... SARC, then TYPE20, TYPE21, ...
    n_programmes : annotated programmes (>= 2): PROLIFERATION, IMMUNE_INFILTRATION, ... then PROGRAMME_07, ...
    n_modules : unannotated co-expression modules; default ``max(2, n_genes // 1000)``.
    normal_fraction : fraction of normal-tissue samples, in [0, 1).
    n_batches, batch_strength : batches (balanced) and the size of their effects (0 = none; 1 = strong).
    seed : non-negative integer; the same parameters and seed give identical data.
    progress : show a tqdm bar while sampling counts.
    type_separation : scales type means, subtype offsets and marker effects (0 = no type signal; 1 = TCGA-like).
    type_proportions : ``{code: proportion}`` or one value per type, summing to 1; default about TCGA's mix
        (largest type ~10x the smallest).
    median_library_size : median reads per sample.
    name : cohort code (2-8 upper-case letters/digits) used in sample IDs and batch labels.
    class_signal : ``"linear"`` (default: types differ by additive shifts, so a linear model is near-optimal) or
        ``"nonlinear"`` (adds hidden class factors whose type-specific sign patterns no linear function of the genes
        can read; see the module docstring). Combine with a low ``type_separation`` to weaken the linear part.
    class_signal_strength : amplitude A of the class factors in the non-linear regime (ignored when linear); the
        within-type noise of each factor has sd 0.5, so A = 1.5 puts the mirror states 6 sd apart.

    Returns
    -------
    Cohort

    Examples
    --------
    >>> cohort = simulate_cohort(n_samples=400, n_genes=1500, n_programmes=12, progress=False)
    >>> cohort.counts.shape
    (400, 1500)

    Introduced in chapter 1, *Data and exploration*.
    """
    params = dict(n_samples=n_samples, n_genes=n_genes, n_types=n_types, n_programmes=n_programmes,
                  n_modules=n_modules, normal_fraction=normal_fraction, n_batches=n_batches,
                  batch_strength=batch_strength, seed=seed, progress=progress, type_separation=type_separation,
                  type_proportions=type_proportions, median_library_size=median_library_size, name=name,
                  class_signal=class_signal, class_signal_strength=class_signal_strength)
    checked = _validate_sampling(**{k: params[k] for k in _SAMPLING_ARGS})
    if class_signal not in CLASS_SIGNALS:
        raise OmicsInputError(f"class_signal={class_signal!r} is unknown; pass one of {list(CLASS_SIGNALS)}")
    class_signal_strength = _check_float("class_signal_strength", class_signal_strength, 0.0)
    n_types = _check_int("n_types", n_types, 2, 500)
    n_programmes = _check_int("n_programmes", n_programmes, 2, 1000)
    n_genes = _check_int("n_genes", n_genes, 100)
    n_modules = max(2, n_genes // 1000) if n_modules is None else _check_int("n_modules", n_modules, 0, 1000)
    type_separation = _check_float("type_separation", type_separation, 0.0)
    if checked["n_samples"] < n_types and type_proportions is None:
        raise OmicsInputError(f"n_samples={n_samples} is smaller than n_types={n_types}; pass n_samples >= {n_types}")
    params.update(checked, n_types=n_types, n_programmes=n_programmes, n_genes=n_genes, n_modules=n_modules,
                  type_separation=type_separation, biology_seed=checked["seed"],
                  class_signal_strength=class_signal_strength)
    bio = _build_biology(n_genes=n_genes, n_types=n_types, n_programmes=n_programmes, n_modules=n_modules,
                         type_separation=type_separation, seed=checked["seed"], class_regime=class_signal,
                         class_strength=class_signal_strength)
    return _sample_cohort(bio, **checked, type_proportions=type_proportions, params=params)
