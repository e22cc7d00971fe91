"""Feature-selection tasks whose relevant features are known: noisy two moons in correlated blocks, simulated gene
modules, and T cells against the rest in scanpy's ``pbmc68k_reduced``.

Each function returns a :class:`SelectionTask`: labelled, unlabelled, validation and test samples plus the truth
(``relevant``, one flag per feature, and ``blocks``, one group id per feature). Introduced in chapter *Feature
selection with SEFS*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from omicsnb.validation import OmicsInputError, check_float, check_int


@dataclass(eq=False)
class SelectionTask:
    """A feature-selection problem with its truth.

    Attributes
    ----------
    X_labeled, y_labeled : the few labelled samples a selector learns from.
    X_unlabeled : unlabelled samples (self-supervision, scaling, correlations).
    X_valid, y_valid, X_test, y_test : held-out labelled samples (the test set is for reporting only).
    feature_names : one name per column.
    relevant : bool per feature, the features the label depends on (for real data: literature markers).
    blocks : group id per feature (features in one block are correlated copies or co-expressed genes).
    info : free-form description (generator settings, label rule).
    """

    X_labeled: np.ndarray
    y_labeled: np.ndarray
    X_unlabeled: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    relevant: np.ndarray
    blocks: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return self.X_labeled.shape[1]

    def summary(self) -> pd.DataFrame:
        """One row per split: samples and class balance, plus the number of features and relevant ones."""
        rows = [(name, len(X), "" if y is None else " / ".join(f"{int((y == c).sum())}" for c in np.unique(y)))
                for name, X, y in (("labelled", self.X_labeled, self.y_labeled), ("unlabelled", self.X_unlabeled, None),
                                   ("validation", self.X_valid, self.y_valid), ("test", self.X_test, self.y_test))]
        table = pd.DataFrame(rows, columns=["split", "samples", "per class"])
        table["features"] = self.n_features
        table["relevant"] = int(self.relevant.sum())
        return table


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` independent generators from one seed (no overlap between splits or between seeds)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def noisy_two_moons(n: int, rng: np.random.Generator, *, n_base: int = 10, moon_noise: float = 0.1,
                    nuisance_sd: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of two moons (features 0 and 1, label = moon) followed by ``n_base - 2`` N(0, nuisance_sd^2)
    nuisance features: the base data of the SEFS authors' generator."""
    from sklearn.datasets import make_moons

    moons, y = make_moons(n_samples=n, noise=moon_noise, random_state=int(rng.integers(2**31 - 1)))
    nuisance = rng.normal(0.0, nuisance_sd, size=(n, n_base - 2))
    return np.hstack([moons, nuisance]), y.astype(np.int64)


def block_copies(X: np.ndarray, rng: np.random.Generator, *, block_size: int = 10, block_noise: float = 0.3) -> np.ndarray:
    """Replace each column ``x_p`` by a block ``[x_p, x_p + e_1, ..., x_p + e_{block_size-1}]``, ``e ~ N(0, block_noise^2)``.

    Column ``p * block_size`` is the original feature; the others are noisy copies (correlation with it
    ``sd / sqrt(sd^2 + block_noise^2)``).
    """
    n, p = X.shape
    out = np.repeat(X, block_size, axis=1)
    noise = rng.normal(0.0, block_noise, size=(n, p, block_size))
    noise[:, :, 0] = 0.0
    return out + noise.reshape(n, p * block_size)


def two_moons_task(n_labeled_per_class: int = 10, n_unlabeled: int = 2000, n_valid: int = 1000, n_test: int = 1000,
                   *, n_base: int = 10, block_size: int = 10, block_noise: float = 0.3, moon_noise: float = 0.1,
                   nuisance_sd: float = 1.0, seed: int = 0) -> SelectionTask:
    """The SEFS authors' block-structured noisy two moons (defaults: 100 features, 20 labelled, 2,000 unlabelled).

    Ten base features (two moons + eight N(0, 1) nuisances), each expanded to a block of ``block_size`` correlated
    copies (:func:`block_copies`); the relevant features are blocks 0 and 1 (columns 0-19 by default). Labelled
    samples are ``n_labeled_per_class`` per class from a fresh draw; unlabelled, validation and test samples are
    further independent draws. Every split has its own random stream spawned from ``seed`` (the reference's seeds
    ``1234 + 4 r`` with offsets -1..3 let one replication's test set be the next one's validation set). No scaling:
    :class:`~omicsnb.models.sefs.SEFS` standardises what it is given.
    """
    check_int("n_labeled_per_class", n_labeled_per_class, 1)
    for name, value in (("n_unlabeled", n_unlabeled), ("n_valid", n_valid), ("n_test", n_test)):
        check_int(name, value, 2)
    check_int("n_base", n_base, 3)
    check_int("block_size", block_size, 1)
    check_float("block_noise", block_noise, 0.0)
    check_int("seed", seed, 0)
    rngs = _streams(seed, 4)
    pool, pool_y = noisy_two_moons(max(1000, 4 * n_labeled_per_class), rngs[0], n_base=n_base, moon_noise=moon_noise,
                                   nuisance_sd=nuisance_sd)
    pick = np.concatenate([rngs[0].choice(np.flatnonzero(pool_y == c), n_labeled_per_class, replace=False)
                           for c in (0, 1)])
    splits = [(pool[pick], pool_y[pick])]
    for rng, n in zip(rngs[1:], (n_unlabeled, n_valid, n_test)):
        splits.append(noisy_two_moons(n, rng, n_base=n_base, moon_noise=moon_noise, nuisance_sd=nuisance_sd))
    blocky = [block_copies(X, np.random.default_rng(rng.integers(2**63)), block_size=block_size, block_noise=block_noise)
              for (X, _), rng in zip(splits, rngs)]
    blocks = np.repeat(np.arange(n_base), block_size)
    names = [f"b{b}_{k}" for b in range(n_base) for k in range(block_size)]
    return SelectionTask(blocky[0], splits[0][1], blocky[1], blocky[2], splits[2][1], blocky[3], splits[3][1], names,
                         blocks < 2, blocks, {"generator": "two moons", "block_noise": block_noise, "seed": seed})


def gene_module_task(n_labeled_per_class: int = 10, n_unlabeled: int = 2000, n_valid: int = 500, n_test: int = 1000, *,
                     n_modules: int = 10, genes_per_module: int = 10, n_relevant: int = 2, n_background: int = 0,
                     seed: int = 0) -> SelectionTask:
    """An omics-like task from :func:`~omicsnb.data.simulate_cohort`: genes in co-expression modules, a label from two.

    The simulator's unannotated co-expression modules are disjoint gene sets that share one latent activity per
    sample (:math:`f_{im}`), so their genes are correlated within a module and independent across modules -- the
    omics analogue of the two-moons blocks, with membership known from the truth. The ``genes_per_module``
    most-loaded genes of each of ``n_modules`` modules become the features (log CPM), optionally with
    ``n_background`` unstructured background genes. The label is ``1[f_1 + f_2 > 0]`` for modules 1 and 2 of the
    truth (``n_relevant`` modules in general: the sign of their activity sum), so the relevant features are those
    modules' genes; the genes measure the activities with noise. Labelled samples are balanced.
    """
    from omicsnb.data.simulate import simulate_cohort

    check_int("n_labeled_per_class", n_labeled_per_class, 1)
    for name, value in (("n_unlabeled", n_unlabeled), ("n_valid", n_valid), ("n_test", n_test)):
        check_int(name, value, 2)
    check_int("n_modules", n_modules, 2)
    check_int("genes_per_module", genes_per_module, 1, 20)
    check_int("n_relevant", n_relevant, 1, n_modules - 1)
    check_int("n_background", n_background, 0, 400)
    check_int("seed", seed, 0)
    n_pool = max(200, 6 * n_labeled_per_class)
    n_total = n_pool + n_unlabeled + n_valid + n_test
    n_genes = max(1000, 50 * n_modules + 2 * n_background)
    cohort = simulate_cohort(n_samples=n_total, n_genes=n_genes, n_types=4, n_programmes=6, n_modules=n_modules,
                             seed=seed, progress=False)
    module_of = cohort.var["module"].to_numpy()
    strength = np.asarray(cohort.biology.module_loadings).max(1)
    genes, blocks = [], []
    for m in range(n_modules):
        members = np.flatnonzero(module_of == m)
        order = members[np.argsort(-strength[members], kind="stable")]
        genes += list(order[:genes_per_module])
        blocks += [m] * min(genes_per_module, len(order))
    rng = _streams(seed, 1)[0]
    if n_background:
        background = np.flatnonzero(cohort.var["role"].to_numpy() == "background")
        extra = np.sort(rng.choice(background, n_background, replace=False))
        genes += list(extra)
        blocks += list(range(n_modules, n_modules + n_background))
    genes, blocks = np.asarray(genes), np.asarray(blocks)
    X = cohort.log_expression()[:, genes].astype(np.float32)
    activity = np.asarray(cohort.truth.module_activities)[:, :n_relevant].sum(1)
    y = (activity > 0).astype(np.int64)
    order = rng.permutation(n_total)
    pool, rest = order[:n_pool], order[n_pool:]
    pick = np.concatenate([rng.choice(pool[y[pool] == c], n_labeled_per_class, replace=False) for c in (0, 1)])
    unl, val, test = rest[:n_unlabeled], rest[n_unlabeled:n_unlabeled + n_valid], rest[n_unlabeled + n_valid:]
    names = [str(s) for s in cohort.var["symbol"].to_numpy()[genes]]
    return SelectionTask(X[pick], y[pick], X[unl], X[val], y[val], X[test], y[test], names, blocks < n_relevant, blocks,
                         {"generator": "simulate_cohort modules", "label": f"sum of modules 1-{n_relevant} > 0",
                          "seed": seed})


#: Literature markers of T cells that are absent from the other populations of ``pbmc68k_reduced`` (NK cells
#: included): the three CD3 chains of the T-cell receptor complex, the T-cell co-receptors CD8A/CD8B and CD40LG,
#: the co-stimulatory receptor CD28, the receptor-proximal kinase LCK, and IL7R (CD127) of naive and memory T cells.
#: CD2, CD247 (CD3-zeta) and NKG7 are left out on purpose: NK cells, which are in "the rest", express them too.
T_CELL_MARKERS = ("CD3D", "CD3E", "CD3G", "CD8A", "CD8B", "CD40LG", "CD28", "LCK", "IL7R")


def _read_pbmc68k_reduced() -> tuple[np.ndarray, list[str], pd.Series]:
    """Log-normalised expression, gene names and ``bulk_labels`` of scanpy's bundled ``pbmc68k_reduced``.

    Uses ``omicsnb.data.load_pbmc68k_reduced`` when the package has it, else scanpy's own reader.
    """
    import importlib

    data = importlib.import_module("omicsnb.data.loaders")
    if hasattr(data, "load_pbmc68k_reduced"):
        loaded = data.load_pbmc68k_reduced()
        return loaded.X.to_numpy(np.float32), [str(g) for g in loaded.X.columns], loaded.y.astype(str)
    try:
        import scanpy as sc
    except ImportError as err:  # pragma: no cover - scanpy is pinned in the lock file
        raise OmicsInputError("pbmc68k_reduced needs scanpy; install the pinned requirements-lock.txt") from err
    adata = sc.datasets.pbmc68k_reduced()
    X = adata.raw.X
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)
    return X, [str(g) for g in adata.raw.var_names], adata.obs["bulk_labels"].astype(str)


def matrix_task(X, y, feature_names, relevant=None, *, n_labeled_per_class: int = 10, n_valid: int = 100,
                test_fraction: float = 0.3, seed: int = 0, info: dict | None = None) -> SelectionTask:
    """A :class:`SelectionTask` from any samples x features matrix and binary labels (a real data set).

    A stratified ``test_fraction`` is set aside; ``n_labeled_per_class`` labelled samples per class and ``n_valid``
    validation samples are drawn from the rest, and the remaining samples form the unlabelled set. ``relevant`` (bool
    per feature, e.g. literature markers) may be all False when nothing is known. Introduced in chapter *Feature
    selection with SEFS*.
    """
    from sklearn.model_selection import train_test_split

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(np.int64).ravel()
    if X.ndim != 2 or len(X) != len(y) or set(np.unique(y)) != {0, 1}:
        raise OmicsInputError(f"need X (samples x features) and 0/1 labels of equal length with both classes, got "
                              f"{X.shape} and {len(y)} labels; pass a binary label")
    check_float("test_fraction", test_fraction, 0.05, 0.5)
    check_int("n_labeled_per_class", n_labeled_per_class, 1)
    check_int("n_valid", n_valid, 2)
    check_int("seed", seed, 0)
    rng = _streams(seed, 1)[0]
    rest, test = train_test_split(np.arange(len(y)), test_size=test_fraction, stratify=y,
                                  random_state=int(rng.integers(2**31 - 1)))
    smallest = int(min((y[rest] == c).sum() for c in (0, 1)))
    if smallest < n_labeled_per_class + 2 or len(rest) < 2 * n_labeled_per_class + n_valid + 4:
        raise OmicsInputError(f"n_labeled_per_class={n_labeled_per_class} and n_valid={n_valid} need more samples "
                              f"than the {len(rest)} outside the test set (smallest class {smallest}); pass smaller ones")
    pick = np.concatenate([rng.choice(rest[y[rest] == c], n_labeled_per_class, replace=False) for c in (0, 1)])
    others = rng.permutation(np.setdiff1d(rest, pick))
    val, unl = others[:n_valid], others[n_valid:]
    names = [str(f) for f in feature_names]
    truth = np.zeros(X.shape[1], bool) if relevant is None else np.asarray(relevant, dtype=bool).ravel()
    if len(names) != X.shape[1] or len(truth) != X.shape[1]:
        raise OmicsInputError(f"need one feature name and one relevant flag per column ({X.shape[1]}); pass them")
    return SelectionTask(X[pick], y[pick], X[unl], X[val], y[val], X[test], y[test], names, truth,
                         np.arange(X.shape[1]), dict(info or {}, seed=seed))


def pbmc_t_cell_task(n_labeled_per_class: int = 10, n_valid: int = 100, test_fraction: float = 0.3, *,
                     markers=T_CELL_MARKERS, seed: int = 0) -> SelectionTask:
    """T cells against every other cell in scanpy's ``pbmc68k_reduced`` (700 PBMCs, 765 genes, Zheng et al. 2017).

    Features are the log-normalised expression of all 765 genes (``adata.raw``); the label is 1 for the cells whose
    ``bulk_labels`` name a CD4+ or CD8+ T-cell population (192 cells), 0 otherwise (dendritic cells, monocytes, B,
    NK and CD34+ cells). A stratified ``test_fraction`` is set aside, ``n_labeled_per_class`` labelled cells per class
    and ``n_valid`` validation cells are drawn from the rest, and the remaining cells are the unlabelled set.
    ``relevant`` marks the literature ``markers`` (:data:`T_CELL_MARKERS`); other genes may carry signal too, so
    "false" discoveries here are only genes that no marker list names.
    """
    check_int("n_labeled_per_class", n_labeled_per_class, 1, 60)
    check_int("n_valid", n_valid, 2, 200)
    X, genes, population = _read_pbmc68k_reduced()
    missing = [m for m in markers if m not in genes]
    if missing:
        raise OmicsInputError(f"marker(s) {missing} are not genes of pbmc68k_reduced; pass markers from its var_names")
    y = population.str.startswith(("CD4+", "CD8+")).to_numpy().astype(np.int64)
    return matrix_task(X, y, genes, np.isin(genes, list(markers)), n_labeled_per_class=n_labeled_per_class,
                       n_valid=n_valid, test_fraction=test_fraction, seed=seed,
                       info={"generator": "pbmc68k_reduced", "positive": "CD4+/CD8+ T cells", "markers": list(markers)})
