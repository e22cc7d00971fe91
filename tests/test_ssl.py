"""Tests for the shared pretraining loop, omicsnb.models.ssl.SSLPretrainer: fine-tuning modes and the monitor."""

import numpy as np
import pytest
import torch

from omicsnb.models import SCARF
from omicsnb.protocol import METHODS, make_pretrainer
from omicsnb.validation import OmicsInputError

FAST = dict(epochs=2, batch_size=32, lr=1e-3, head_dims=(32, 16), hidden=(32, 32), progress=False)


def test_monitor_adds_columns_without_changing_the_run(splits):
    X = splits.X_pretrain[:120]
    seen = []

    def monitor(model, epoch):
        seen.append((epoch, model.encoder_.training))
        return {"embedding_sd": model.transform(X[:20]).std()}

    plain = SCARF(**FAST).fit(X)
    watched = SCARF(**FAST).fit(X, monitor=monitor)
    assert seen == [(1, False), (2, False)]  # called once per epoch, in evaluation mode
    assert list(watched.history_.columns) == ["epoch", "loss", "val_loss", "embedding_sd"]
    assert (watched.history_["embedding_sd"] > 0).all()
    assert plain.history_.equals(watched.history_[plain.history_.columns])  # the monitor changes nothing
    assert np.array_equal(plain.transform(X), watched.transform(X))


def test_monitor_can_fit_a_linear_probe(splits):
    from omicsnb.models import MLPClassifier

    def probe(model, epoch):
        clf = MLPClassifier(encoder=model.encoder, freeze_encoder=True, max_epochs=2, progress=False)
        clf.fit(splits.X_finetune, splits.y_finetune)
        return {"probe_accuracy": float(np.mean(clf.predict(splits.X_test) == splits.y_test))}

    history = SCARF(**FAST).fit(splits.X_pretrain[:120], monitor=probe).history_
    assert history["probe_accuracy"].between(0, 1).all()


@pytest.mark.parametrize("monitor, match", [
    ("not callable", "monitor must be a callable"),
    (lambda model, epoch: {"loss": 1.0}, "whose keys are not"),
    (lambda model, epoch: 3.0, "must return a dict"),
])
def test_bad_monitor(splits, monitor, match):
    with pytest.raises(OmicsInputError, match=match):
        SCARF(**FAST).fit(splits.X_pretrain[:60], monitor=monitor)


@pytest.mark.parametrize("method", list(METHODS))
def test_frozen_finetuning_leaves_encoder_weights_unchanged(method, splits):
    from omicsnb.models import MLPClassifier

    small = {"projector_dims": (32, 16)} if method == "BYOL" else {}
    pretrained = make_pretrainer(method, hidden=(32, 32), epochs=2, batch_size=64, progress=False, **small)
    pretrained.fit(splits.X_pretrain[:200])
    before = {k: v.clone() for k, v in pretrained.encoder.state_dict().items()}
    frozen = MLPClassifier(encoder=pretrained.encoder, freeze_encoder=True, max_epochs=3, progress=False)
    frozen.fit(splits.X_finetune, splits.y_finetune)
    for k, v in frozen.model_.encoder.state_dict().items():  # weights and batch-norm statistics
        assert torch.equal(v, before[k]), k
    unfrozen = MLPClassifier(encoder=pretrained.encoder, max_epochs=3, progress=False)
    unfrozen.fit(splits.X_finetune, splits.y_finetune)
    assert not torch.equal(unfrozen.model_.encoder.layers[0].weight, before["layers.0.weight"])
    for k, v in pretrained.encoder.state_dict().items():  # the pretrained model itself is never touched
        assert torch.equal(v, before[k]), k
