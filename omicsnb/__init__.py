"""omicsnb: the helper package behind the book *Self-supervised and representation learning for omics*.

The subpackages follow the book's table of contents:

- :mod:`omicsnb.data` -- the cohort simulator, loaders, gene identifiers, gene sets and preprocessing (chapter 1);
- :mod:`omicsnb.models` -- one module per method, sklearn-style estimators on top of torch (chapter 2 onwards);
- :mod:`omicsnb.training` -- the supervised fine-tuning loop shared by every chapter (chapter 2);
- :mod:`omicsnb.evaluate` -- metrics, label-fraction sweeps and clustering agreement (chapters 1 and 2);
- :mod:`omicsnb.plotting` -- the book's one figure style;
- :mod:`omicsnb.runner` and :mod:`omicsnb.cli` -- profiles, papermill execution and the ``omicsnb`` command.
"""

__version__ = "0.1.0"
