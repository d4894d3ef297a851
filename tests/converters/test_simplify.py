"""Convolutions over 1x1 feature maps reduced to their centre tap: exact, and OpenCV-friendly."""

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.converters.passes.simplify import average_pools_as_depthwise, centre_tap_convolutions
from deploytool.core.keras_env import keras
from deploytool.models.weights import batchnorm_statistics_from, randomize_batchnorm
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.verification.verify import verify


def test_kxk_convolutions_on_1x1_maps_become_exact_1x1_convolutions():
    inputs = keras.Input((1, 1, 8))
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(inputs)
    x = keras.layers.Conv2D(6, 5, padding="same", name="conv")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", groups=2, name="grouped")(x)
    model = keras.Model(inputs, x)
    simplified, report = centre_tap_convolutions(model)
    assert report.layers == ["dw", "conv", "grouped"]
    assert all(simplified.get_layer(n).kernel_size == (1, 1) for n in ("dw", "conv", "grouped"))
    images = np.random.default_rng(0).normal(size=(3, 1, 1, 8)).astype(np.float32)
    np.testing.assert_allclose(simplified(images).numpy(), model(images).numpy(), atol=1e-6)


def test_convolutions_on_larger_maps_are_left_alone():
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.DepthwiseConv2D(3, padding="same")(inputs))
    simplified, report = centre_tap_convolutions(model)
    assert simplified is model and report.layers == []


@pytest.mark.heavy
def test_mobilenet_v2_at_32x32_runs_in_opencv_tflite_importer(tmp_path):
    source = load_source("mobilenet_v2", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    randomize_batchnorm(source.model, seed=0)  # a fresh MobileNetV2 answers alike for every image
    batchnorm_statistics_from(source.model, np.random.default_rng(0).random((32, 32, 32, 3), np.float32))
    result = convert(source, ConvertOptions(out_dir=tmp_path))
    assert len(result.manifest.record["simplify_report"]["centre_tap_convolutions"]) == 3
    rows = {row.backend: row for row in verify([result.artifact], samples=16).rows}
    # without the rewrite OpenCV is 5e-4 off; with it 3e-8 on an AVX-512 CPU and 1.3e-5 on an
    # AVX2-only one (2026-12-06), whose kernels round more, within verify's round-off bar
    assert rows["opencv"].status == "pass" and rows["opencv"].figures["max_abs"] < 1e-4


def test_valid_average_poolings_become_depthwise_convolutions_with_the_same_numbers():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.AveragePooling2D(2, name="half")(inputs)
    x = keras.layers.AveragePooling2D(3, strides=1, name="smooth")(x)
    x = keras.layers.AveragePooling2D(2, padding="same", name="same_pool")(x)
    model = keras.Model(inputs, x)
    rewritten, report = average_pools_as_depthwise(model)
    assert report.layers == ["half", "smooth"]  # 'same' pads: not a fixed sum
    assert isinstance(rewritten.get_layer("half"), keras.layers.DepthwiseConv2D)
    images = np.random.default_rng(0).random((3, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(rewritten(images).numpy(), model(images).numpy(), atol=1e-6)


def test_int8_tflite_keeps_average_pooled_lenet_in_one_xnnpack_partition(tmp_path):
    """LiteRT's XNNPACK delegate takes no int8 AVERAGE_POOL_2D: without the rewrite LeNet-BN's two
    poolings split the int8 graph into three delegate partitions with reference kernels between."""
    from ai_edge_litert.interpreter import Interpreter

    source = load_source("lenet_bn", input_shape=(28, 28, 1), num_classes=10, width=0.25)
    result = convert(source, ConvertOptions(precision="int8", out_dir=tmp_path, calib_samples=32))
    assert result.manifest.record["target_rewrites"]["average_pools_as_depthwise"] == ["pool1", "pool2"]
    assert result.manifest.record["parity"]["passed"]
    interpreter = Interpreter(model_path=str(result.artifact), num_threads=1)
    interpreter.allocate_tensors()
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    assert "AVERAGE_POOL_2D" not in ops and ops.count("DELEGATE") == 1
    fp32 = convert(source, ConvertOptions(out_dir=tmp_path))
    assert fp32.manifest.record["target_rewrites"] is None  # float32 runs its pooling in XNNPACK already
