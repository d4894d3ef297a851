"""Stripping training-only heads and dropout for inference."""

import numpy as np
import pytest

from deploytool.converters.passes.strip_training import strip_training_heads
from deploytool.core.keras_env import keras
from deploytool.models import create_model


@pytest.mark.heavy
def test_auxiliary_heads_and_their_layers_are_removed():
    model = create_model("bn_inception", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    stripped, report = strip_training_heads(model)
    assert report.removed_outputs == ["aux1", "aux2"]
    assert stripped.output_names == ["predictions"]
    assert not any(layer.name.startswith("aux") for layer in stripped.layers)
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(stripped(images).numpy(), model(images)[0].numpy(), atol=1e-6)


def test_dropout_layers_are_removed_and_outputs_kept():
    model = create_model("vgg11", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    stripped, report = strip_training_heads(model)
    assert report.removed_layers == ["fc1_dropout", "fc2_dropout"]
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in stripped.layers)
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(stripped(images).numpy(), model(images).numpy(), atol=1e-6)


def test_a_model_without_training_parts_comes_back_unchanged():
    model = create_model("resnet18", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    stripped, report = strip_training_heads(model)
    assert stripped is model
    assert report.removed_outputs == [] and report.removed_layers == []
