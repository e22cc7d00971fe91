"""Data: the cohort simulator, loaders for users' files, gene identifiers, gene sets and preprocessing.

Introduced in chapter 1, *Data and exploration*.
"""

from omicsnb.data.contract import (
    CONTRACT_DEFAULTS,
    feasible_fractions,
    fit_aupc_range,
    fit_count,
    fit_counts,
    fit_split_sizes,
    read_user_data,
)
from omicsnb.data.datasets import (
    ClassificationSplits,
    DataSource,
    class_signal_by_symbol,
    load_or_simulate,
    prepare_classification,
)
from omicsnb.data.genes import MappingReport, map_gene_ids, strip_version
from omicsnb.data.genesets import filter_gene_sets, gene_set_coverage, gene_sets_to_membership, read_gmt, write_gmt
from omicsnb.data.loaders import (
    ExpressionData,
    load_archs4,
    load_expression,
    load_gse7390,
    load_pbmc68k_reduced,
    load_xena,
)
from omicsnb.data.preprocess import (
    cpm,
    fit_standardizer,
    label_fraction_subset,
    log_transform,
    select_variable_genes,
    standardize,
    standardize_per_group,
    stratified_split,
)
from omicsnb.data.simulate import Cohort, simulate_cohort
from omicsnb.data.synthetic import SelectionTask, gene_module_task, pbmc_t_cell_task, two_moons_task
from omicsnb.data.views import MultiOmicsData, load_nutrimouse, load_views, simulate_multiomics

__all__ = [
    "CONTRACT_DEFAULTS", "feasible_fractions", "fit_aupc_range", "fit_count", "fit_counts", "fit_split_sizes", "load_pbmc68k_reduced",
    "read_user_data",
    "ClassificationSplits", "Cohort", "DataSource", "ExpressionData", "MappingReport", "class_signal_by_symbol", "cpm",
    "filter_gene_sets", "fit_standardizer", "gene_set_coverage", "gene_sets_to_membership", "label_fraction_subset",
    "load_archs4", "load_expression", "load_gse7390", "load_or_simulate", "load_xena", "log_transform", "map_gene_ids",
    "prepare_classification", "read_gmt", "select_variable_genes", "simulate_cohort", "standardize",
    "standardize_per_group", "stratified_split", "strip_version", "write_gmt",
    "SelectionTask", "gene_module_task", "pbmc_t_cell_task", "two_moons_task",
    "MultiOmicsData", "load_nutrimouse", "load_views", "simulate_multiomics",
]
