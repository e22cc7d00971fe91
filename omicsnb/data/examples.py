"""Ready-made own-data examples: real matrices shipped inside pip packages, written as a reader's files would be.

``omicsnb example pbmc --out DIR`` writes scanpy's ``pbmc68k_reduced`` as CSV files and a data profile, so that the
whole book runs on real data with one command (*How to run this book*, "Your own data")::

    omicsnb example pbmc --out my_pbmc
    omicsnb build --profile quick --data-profile my_pbmc/pbmc.yml

The data profile names every input by its absolute path, so it works from any folder; the tests run exactly this.
"""

from __future__ import annotations

from pathlib import Path

from omicsnb.validation import OmicsInputError

#: The gene sets that chapters built on gene sets (9, 10) use on the PBMC example: blood-cell markers named like its
#: genes (the book's default sets are named like the simulator's genes).
PBMC_GMT = Path(__file__).resolve().parent.parent / "genesets" / "pbmc_markers.gmt"

EXAMPLES = ("pbmc",)


def write_pbmc_example(folder: Path | str, *, overwrite: bool = False) -> dict[str, Path]:
    """Write ``pbmc.csv`` (700 cells: cell ID, ``bulk_labels``, a text column ``phase``, 765 genes), a random half
    split into ``pbmc_target.csv`` and ``pbmc_source.csv`` (for the transfer chapter) and the data profile
    ``pbmc.yml``. Returns ``{name: path}``. Existing files are never overwritten unless ``overwrite``."""
    import numpy as np
    import pandas as pd
    import yaml

    from omicsnb.data.loaders import load_pbmc68k_reduced

    folder = Path(folder)
    paths = {name: folder / name for name in ("pbmc.csv", "pbmc_target.csv", "pbmc_source.csv", "pbmc.yml")}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise OmicsInputError(f"--out {folder} already holds {', '.join(existing)}; pick an empty folder "
                              "(or pass --overwrite)")
    folder.mkdir(parents=True, exist_ok=True)
    pbmc = load_pbmc68k_reduced()
    table = pd.concat([pbmc.y, pbmc.meta[["phase"]].astype(str), pbmc.X], axis=1)
    table.index.name = "cell"
    table.to_csv(paths["pbmc.csv"])
    order = np.random.default_rng(0).permutation(len(table))
    half = len(table) // 2
    table.iloc[np.sort(order[:half])].to_csv(paths["pbmc_target.csv"])
    table.iloc[np.sort(order[half:])].to_csv(paths["pbmc_source.csv"])
    profile = {
        "name": "pbmc",
        "parameters": {"data_path": str(paths["pbmc.csv"].resolve()), "label_column": "bulk_labels",
                       "gmt_path": str(PBMC_GMT)},
        "notebooks": {"07_transfer": {"data_path": str(paths["pbmc_target.csv"].resolve()),
                                      "source_path": str(paths["pbmc_source.csv"].resolve())}},
    }
    header = ("# scanpy's pbmc68k_reduced, written by `omicsnb example pbmc`. Run the whole book on it with\n"
              f"#   omicsnb build --profile quick --data-profile {paths['pbmc.yml']}\n"
              "# The transfer chapter learns from one half of the cells (the source) and is tested on the other.\n")
    paths["pbmc.yml"].write_text(header + yaml.safe_dump(profile, sort_keys=False))
    return paths


def write_example(name: str, folder: Path | str, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the example ``name`` (one of :data:`EXAMPLES`) into ``folder``."""
    if name != "pbmc":
        raise OmicsInputError(f"example {name!r} is not one of {', '.join(EXAMPLES)}")
    return write_pbmc_example(folder, overwrite=overwrite)
