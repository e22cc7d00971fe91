"""omicsnb: the helper package behind the book *Self-supervised and representation learning for omics*.

The subpackages follow the book's table of contents:

- :mod:`omicsnb.data` -- the cohort simulator, loaders, gene identifiers, gene sets and preprocessing (chapter 1);
- :mod:`omicsnb.models` -- one module per method, sklearn-style estimators on top of torch (chapter 2 onwards);
- :mod:`omicsnb.training` -- the supervised fine-tuning loop shared by every chapter (chapter 2);
- :mod:`omicsnb.evaluate` -- metrics, label-fraction sweeps, clustering agreement, AUPC and collapse (chapters 1-7);
- :mod:`omicsnb.protocol` -- pretrain with VIME, SCARF or BYOL, then fine-tune frozen or unfrozen (chapters 5-7);
- :mod:`omicsnb.impute` -- missing-data scenarios, imputers and clinical concordance (chapter 8);
- :mod:`omicsnb.plotting` -- the book's one figure style;
- :mod:`omicsnb.runner` and :mod:`omicsnb.cli` -- profiles, papermill execution and the ``omicsnb`` command;
- :mod:`omicsnb.bench` -- the speed targets, measured side by side (``omicsnb bench``).
"""

__version__ = "0.1.0"
