"""Model files whose input size is free: fixed at the size the user names, or refused in one line."""

import numpy as np
import pytest

from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras, keras3
from deploytool.sources.input_size import with_input_size
from deploytool.sources.model_source import load_source


def fully_convolutional(k, channels=3):
    """A tiny segmenter that takes any image size: (None, None, channels) -> 4 class maps."""
    k.utils.set_random_seed(0)
    inputs = k.Input((None, None, channels))
    x = k.layers.BatchNormalization()(k.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs))
    return k.Model(inputs, k.layers.Conv2D(4, 1, activation="softmax", name="mask")(x))


@pytest.mark.parametrize("k", [keras, keras3()], ids=["tf_keras", "keras3"])
def test_free_dimensions_are_fixed_with_the_same_weights(k):
    model = fully_convolutional(k)
    sized = with_input_size(model, (20, 28, 3), "seg.keras")
    assert tuple(sized.inputs[0].shape) == (None, 20, 28, 3)
    images = np.random.default_rng(0).random((2, 20, 28, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(sized(images)), np.asarray(model(images)), atol=1e-6)


def test_a_fixed_input_is_returned_as_it_is():
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten()])
    assert with_input_size(model, (8, 8, 3), "m.keras") is model
    assert with_input_size(model, None, "m.keras") is model


@pytest.mark.parametrize("shape, message", [
    (None, "seg.keras: the model's input (None, None, 3) has free dimensions; give the size to "
           "convert at with --input-shape HEIGHT,WIDTH,CHANNELS"),
    ((16, 16, 1), "seg.keras: --input-shape 16,16,1 does not fit the model's input (None, None, 3) "
                  "(channels 3 is fixed)")])
def test_a_size_that_cannot_be_used_is_one_line(shape, message):
    with pytest.raises(UserError) as error:
        with_input_size(fully_convolutional(keras), shape, "seg.keras")
    assert str(error.value) == message


def test_several_inputs_are_refused_naming_them():
    image, extra = keras.Input((8, 8, 3), name="image"), keras.Input((2,), name="meta")
    model = keras.Model([image, extra], keras.layers.Concatenate()(
        [keras.layers.GlobalAveragePooling2D()(image), extra]))
    with pytest.raises(UserError, match=r"2 inputs \(image, meta\)"):
        with_input_size(model, None, "two.keras")


def test_a_file_with_free_dimensions_loads_at_the_size_given(tmp_path):
    path = tmp_path / "seg.keras"
    fully_convolutional(keras3()).save(path)
    source = load_source(str(path), input_shape=(24, 32, 3))
    assert source.preprocessing.input_shape == (24, 32, 3)
    assert source.reference_path == path  # the file itself, which runs at any size, is the reference
    assert source.description["input_shape"] == [24, 32, 3]
    assert any("input fixed at 24,32,3" in note for note in source.notes)


def test_an_input_that_is_not_images_is_refused_naming_it():
    features = keras.Input((12,), name="features")
    model = keras.Model(features, keras.layers.Dense(2)(features))
    with pytest.raises(UserError, match=r"tab.keras: the model's input 'features' is \(None, 12\), "
                                        "not images"):
        with_input_size(model, None, "tab.keras")
