"""The pretrain-then-fine-tune protocol of Dradjat et al., shared by the self-supervised chapters.

One experiment = pretrain an encoder with each method on the unlabelled split (:func:`pretrain`), then fine-tune a
copy of it on growing fractions of the labelled pool, with the encoder frozen or unfrozen, next to the same
architecture trained from random weights (:func:`finetune_sweep`). Every chapter from *How much does pretraining
help?* on runs this, varying one thing at a time (the architecture, the pretraining set, the cohort).
Introduced in chapter *How much does pretraining help?*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from omicsnb.evaluate import label_fraction_sweep
from omicsnb.executor import get_executor
from omicsnb.models.byol import BYOL
from omicsnb.models.mlp import MLPClassifier
from omicsnb.models.scarf import SCARF
from omicsnb.models.ssl import SSLPretrainer
from omicsnb.models.vime import VIMESelf
from omicsnb.validation import OmicsInputError

METHODS: dict[str, type[SSLPretrainer]] = {"VIME": VIMESelf, "SCARF": SCARF, "BYOL": BYOL}
MODES = ("unfrozen", "frozen")
BASELINE = "baseline"


def make_pretrainer(method: str, **params) -> SSLPretrainer:
    """An unfitted pretrainer by name (``"VIME"``, ``"SCARF"`` or ``"BYOL"``) with the given hyperparameters.

    Introduced in chapter *How much does pretraining help?*.
    """
    if method not in METHODS:
        raise OmicsInputError(f"unknown method {method!r}; pass one of {', '.join(METHODS)}")
    try:
        return METHODS[method](**params)
    except TypeError as err:
        raise OmicsInputError(f"{method}: {err}; see help(omicsnb.protocol.METHODS[{method!r}])") from err


def pretrain(methods: Sequence[str], X_unlabeled, *, shared: Mapping | None = None,
             per_method: Mapping[str, Mapping] | None = None, seed: int = 0,
             progress: bool = True, executor=None) -> dict[str, SSLPretrainer]:
    """Fit one pretrainer per method on ``X_unlabeled``; returns ``{method: fitted model}``.

    ``shared`` holds the settings every method gets (encoder ``hidden``, ``epochs``, ``batch_size`` ...),
    ``per_method`` the method-specific ones (``{"SCARF": {"corruption_rate": 0.3}}``), which win over ``shared``.
    ``executor`` (default serial; see the module omicsnb.executor) may fit the methods in parallel: each has its own
    seed, so the fitted models do not depend on it.
    Introduced in chapter *How much does pretraining help?*.
    """
    shared, per_method = dict(shared or {}), dict(per_method or {})
    unknown = set(per_method) - set(methods)
    if unknown:
        raise OmicsInputError(f"per_method names {sorted(unknown)}, which are not in methods={list(methods)}")
    # built here, so an unknown method or setting is a one-line error before anything is fitted
    tasks = [{"method": method, "model": make_pretrainer(method, **{"seed": seed, "progress": progress, **shared,
                                                                    **per_method.get(method, {})})}
             for method in methods]
    runner, owned = get_executor(executor, progress=progress)
    try:
        models = runner.map(_pretrain_one, tasks, shared={"X_unlabeled": X_unlabeled}, desc="pretraining")
    finally:
        if owned:
            runner.close()
    return {task["method"]: model for task, model in zip(tasks, models)}


def _pretrain_one(task, shared):
    """One method of :func:`pretrain`, fitted on the shared unlabelled data."""
    return task["model"].fit(shared["X_unlabeled"])


def finetune_sweep(pretrained: Mapping[str, SSLPretrainer], X_finetune, y_finetune, X_test, y_test, *,
                   hidden: Sequence[int], dropout: float, modes: Sequence[str] = MODES, baseline: bool = True,
                   fractions: Sequence[float], repeats: int = 5, seed: int = 0, finetune: Mapping | None = None,
                   progress: bool = True, executor=None) -> pd.DataFrame:
    """Label-fraction sweeps of every pretrained encoder in every mode, plus the non-pretrained baseline.

    The baseline is the same architecture (``hidden``, ``dropout``, batch norm) trained from random weights, as in
    Dradjat et al. ``finetune`` holds the MLPClassifier settings (lr, batch_size,
    max_epochs, patience, val_fraction) used by every model. Runs share their labelled subsets across models (see
    evaluate.label_fraction_sweep), so curves compare pairwise. ``executor`` (a spec such as
    ``"dask://local?workers=2"`` or an omicsnb.executor.Executor; default serial) runs every sweep's
    cells; the rows do not depend on it.

    Returns
    -------
    pandas.DataFrame
        The sweep rows with ``model`` = ``"<method> (<mode>)"`` or ``"baseline"``, plus columns ``method`` and
        ``mode`` (``"scratch"`` for the baseline).
    Introduced in chapter *How much does pretraining help?*.
    """
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise OmicsInputError(f"unknown mode(s) {bad}; pass a subset of {MODES}")
    finetune = dict(finetune or {})
    runs = []
    if baseline:
        def make_baseline(model_seed):
            return MLPClassifier(hidden=tuple(hidden), dropout=dropout, batch_norm=True, seed=model_seed,
                                 progress=False, **finetune)
        runs.append((BASELINE, BASELINE, "scratch", make_baseline))
    for method, model in pretrained.items():
        for mode in modes:
            def make(model_seed, encoder=model.encoder, frozen=(mode == "frozen")):
                return MLPClassifier(encoder=encoder, freeze_encoder=frozen, seed=model_seed, progress=False,
                                     **finetune)
            runs.append((f"{method} ({mode})", method, mode, make))
    frames = []
    runner, owned = get_executor(executor, progress=progress)
    try:
        for name, method, mode, make in runs:
            frame = label_fraction_sweep(make, X_finetune, y_finetune, X_test, y_test, fractions=fractions,
                                         repeats=repeats, seed=seed, name=name, progress=progress, executor=runner)
            frames.append(frame.assign(method=method, mode=mode))
    finally:
        if owned:
            runner.close()
    return pd.concat(frames, ignore_index=True)
