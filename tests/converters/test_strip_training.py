"""Stripping training-only heads and dropout for inference."""

import numpy as np
import pytest
from deploytool.converters.passes.strip_training import strip_training_heads
from deploytool.models import create_model

from deploytool.core.keras_env import keras


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


def three_heads(k):
    """A face detector's shape: box regression (4), landmarks (10), face probability (2)."""
    inputs = k.Input((12, 12, 3))
    x = k.layers.GlobalAveragePooling2D()(k.layers.Conv2D(4, 3, activation="relu")(inputs))
    return k.Model(inputs, [k.layers.Dense(4, name="box")(x), k.layers.Dense(10, name="landmarks")(x),
                            k.layers.Dense(2, activation="softmax", name="face")(x)])


@pytest.mark.parametrize("saver", ["keras3", "tf_keras"])
def test_every_output_is_kept_unless_named(saver):
    from deploytool.core.model_outputs import output_names

    from deploytool.core.keras_env import keras3

    model = three_heads(keras3() if saver == "keras3" else keras)
    kept, report = strip_training_heads(model)
    assert output_names(kept) == ["box", "landmarks", "face"] and not report.outputs_removed
    face_only, report = strip_training_heads(model, drop=["box", "landmarks"])
    assert output_names(face_only) == ["face"] and report.dropped_outputs == ["box", "landmarks"]
    assert report.removed_outputs == []
    images = np.random.default_rng(0).random((2, 12, 12, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(face_only(images)), np.asarray(model(images)[2]), atol=1e-6)


@pytest.mark.parametrize("drop, message", [
    (["landmark"], "--drop-output landmark: the model has no such output; its outputs are box, landmarks, face"),
    (["box", "landmarks", "face"], "--drop-output names every output of the model"),
])
def test_dropping_an_unknown_output_or_every_output_is_one_line(drop, message):
    from deploytool.core.errors import UserError

    with pytest.raises(UserError, match=message):
        strip_training_heads(three_heads(keras), drop=drop)
