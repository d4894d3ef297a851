"""Convolutions over 1x1 feature maps reduced to their centre tap: exact, and OpenCV-friendly."""

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.converters.passes.simplify import centre_tap_convolutions
from deploytool.core.keras_env import keras
from deploytool.models.weights import randomize_batchnorm
from deploytool.sources.model_source import load_source
from deploytool.workflows.convert import convert
from deploytool.workflows.verify import verify


def test_kxk_convolutions_on_1x1_maps_become_exact_1x1_convolutions():
    inputs = keras.Input((1, 1, 8))
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(inputs)
    x = keras.layers.Conv2D(6, 5, padding="same", name="conv")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", groups=2, name="grouped")(x)
    model = keras.Model(inputs, x)
    simplified, report = centre_tap_convolutions(model)
    assert report.centre_tap_convolutions == ["dw", "conv", "grouped"]
    assert all(simplified.get_layer(n).kernel_size == (1, 1) for n in ("dw", "conv", "grouped"))
    images = np.random.default_rng(0).normal(size=(3, 1, 1, 8)).astype(np.float32)
    np.testing.assert_allclose(simplified(images).numpy(), model(images).numpy(), atol=1e-6)


def test_convolutions_on_larger_maps_are_left_alone():
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.DepthwiseConv2D(3, padding="same")(inputs))
    simplified, report = centre_tap_convolutions(model)
    assert simplified is model and report.centre_tap_convolutions == []


@pytest.mark.heavy
def test_mobilenet_v2_at_32x32_runs_in_opencv_tflite_importer(tmp_path):
    source = load_source("mobilenet_v2", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    randomize_batchnorm(source.model, seed=0)
    result = convert(source, ConvertOptions(out_dir=tmp_path))
    assert len(result.manifest["simplify_report"]["centre_tap_convolutions"]) == 3
    rows = {row.backend: row for row in verify([result.artifact], samples=16).rows}
    assert rows["opencv"].status == "pass" and rows["opencv"].figures["max_abs"] < 1e-5
