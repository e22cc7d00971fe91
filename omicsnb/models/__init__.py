"""Models: one module per method, sklearn-style estimators on top of torch.

- :mod:`omicsnb.models.mlp` -- the MLP, the encoder and the classifier every chapter fine-tunes (chapter 2), and its
  regression twin (chapter *VIME*);
- :mod:`omicsnb.models.ssl` -- the pretraining loop VIME, SCARF and BYOL share (``fit``/``transform``/``encoder``);
- :mod:`omicsnb.models.vime`, :mod:`omicsnb.models.scarf`, :mod:`omicsnb.models.byol` -- the three methods;
- :mod:`omicsnb.models.multitask` -- multi-task pretraining with pathway targets (chapter *Pathway-informed
  pretraining*);
- :mod:`omicsnb.models.corruption` -- the vectorised empirical-marginal corruption they use.
- :mod:`omicsnb.models.sefs` -- SEFS feature selection with correlated gates, and stochastic gates (chapter *Feature
  selection with SEFS*).
"""

from omicsnb.models.byol import BYOL
from omicsnb.models.deepimv import DeepIMV, product_of_experts
from omicsnb.models.mlp import (
    MLP,
    Encoder,
    EncoderClassifier,
    MLPClassifier,
    MLPRegressor,
    stratified_validation_split,
)
from omicsnb.models.multitask import MultiTaskSSL, PathwayEncoder
from omicsnb.models.scarf import SCARF
from omicsnb.models.sefs import SEFS, stochastic_gates
from omicsnb.models.ssl import SSLPretrainer
from omicsnb.models.vime import VIMESelf, VIMESemi

__all__ = ["DeepIMV", "product_of_experts",
           "BYOL", "MLP", "Encoder", "EncoderClassifier", "MLPClassifier", "MLPRegressor", "MultiTaskSSL",
           "PathwayEncoder", "SCARF", "SEFS", "SSLPretrainer", "VIMESelf", "VIMESemi", "stochastic_gates",
           "stratified_validation_split"]
