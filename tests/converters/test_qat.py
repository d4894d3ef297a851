"""Quantization-aware fine-tuning: fake quantization around a float model, trained on labelled
images; the float twin gets the very same fine-tuning (the heavy QAT test in
tests/workflows/test_convert.py follows a whole conversion through it)."""

import numpy as np
import pytest

from deploytool.converters.passes.qat import float_finetune, qat_finetune
from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras

IMAGES = np.random.default_rng(0).random((32, 8, 8, 1), dtype=np.float32)
LABELS = np.arange(32) % 3


def logits_model():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x), name="tiny")


def test_qat_wraps_the_model_in_fake_quantization_and_fine_tunes_it():
    model = logits_model()
    qat_model, history = qat_finetune(model, IMAGES, LABELS, epochs=2, batch_size=8)
    kinds = {type(layer).__name__ for layer in qat_model.layers}
    assert {"QuantizeLayer", "QuantizeWrapperV2"} <= kinds
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"]))
    assert qat_model.predict(IMAGES[:2], verbose=0).shape == (2, 3)


def test_the_float_twin_gets_the_same_fine_tuning_and_leaves_the_original_alone():
    model = logits_model()
    before = [weight.copy() for weight in model.get_weights()]
    twin, history = float_finetune(model, IMAGES, LABELS, epochs=1, batch_size=8)
    assert len(history["loss"]) == 1 and twin is not model
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(before, twin.get_weights()))


def test_zero_epochs_is_one_line():
    with pytest.raises(UserError, match="--qat-epochs"):
        qat_finetune(logits_model(), IMAGES, LABELS, epochs=0)
