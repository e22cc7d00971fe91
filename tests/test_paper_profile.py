"""Chapter 5 at the ``paper`` profile starts and completes on a CPU, with its sizes overridden.

The full paper profile (the seed's 9,349 samples, 1,000 pretraining epochs, 99 label fractions) needs a GPU and was
not run here. This test keeps every paper-profile setting that is not a size or a budget (learning rates 1e-4,
fine-tuning batches of 8, patience 30, BYOL's 4,096-wide heads, tau 0.9, VIME's decoders) and shrinks the data, the
epochs and the fraction grid to the smallest sweep the AUPC allows, so that the notebook runs end to end.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from omicsnb.runner import discover_notebooks, get_notebook, load_profile, run_notebook

NB = "05_label_fractions"
#: sizes and budgets only; everything else comes from profiles/paper.yml
SHRINK = {
    "n_samples": 700, "n_genes": 600, "n_hvg": 150, "n_finetune": 100, "n_test": 100,
    "hidden": [32, 32], "pretrain_epochs": 1, "byol_epochs": 1, "fractions": [0.2, 0.3], "aupc_low": 0.2,
    "repeats": 2, "max_epochs": 2, "convergence_epochs": 2,
    "nonlinear_n_samples": 700, "nonlinear_n_finetune": 100, "nonlinear_n_test": 100,
    "nonlinear_fractions": [0.2, 0.3], "nonlinear_aupc_low": 0.2,
    "calibration_strengths": [1.5], "calibration_n_samples": 450,
    "pbmc_fractions": [0.1, 0.3],
}


def test_paper_profile_keeps_the_seed_settings_this_test_relies_on():
    paper = load_profile("paper")[NB]
    assert paper["finetune_lr"] == 0.0001 and paper["finetune_batch_size"] == 8 and paper["patience"] == 30
    assert paper["byol_projector"] == [4096, 256]
    assert paper["nonlinear_n_samples"] - paper["nonlinear_n_finetune"] - paper["nonlinear_n_test"] \
        >= 10 * paper["nonlinear_n_finetune"]  # the non-linear regime's 10:1 unlabelled split
    assert set(SHRINK) <= set(get_notebook(NB, discover_notebooks()).parameters)  # overrides name real parameters


@pytest.mark.slow
def test_paper_profile_of_chapter_5_runs_on_cpu(tmp_path):
    run_notebook(NB, profile="paper", overrides=SHRINK, out_dir=tmp_path, force=True, quiet=True)
    executed = nbformat.read(tmp_path / f"{NB}.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "finetune_batch_size = 8" in injected.source and "byol_projector = [4096, 256]" in injected.source
    results = json.loads((tmp_path / "results" / f"{NB}.json").read_text())
    claims = results["tables"]["claims"]
    assert {row["data"] for row in claims} >= {"simulated, non-linear classes", "pbmc68k_reduced"}
    assert {row["verdict"] for row in claims} <= {"holds", "does not hold", "inconclusive"}
    runs = results["tables"]["label_fraction_runs"]
    assert {row["fraction"] for row in runs} == {0.2, 0.3}
