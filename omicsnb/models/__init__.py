"""Models: one module per method, sklearn-style estimators on top of torch.

- :mod:`omicsnb.models.mlp` -- the MLP, the encoder and the classifier every chapter fine-tunes (chapter 2).
"""

from omicsnb.models.mlp import MLP, Encoder, EncoderClassifier, MLPClassifier, stratified_validation_split

__all__ = ["MLP", "Encoder", "EncoderClassifier", "MLPClassifier", "stratified_validation_split"]
