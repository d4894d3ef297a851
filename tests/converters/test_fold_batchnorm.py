"""BatchNorm folding: equivalent outputs with randomised statistics, and a report of what happened."""

import numpy as np
import pytest

from deploytool.converters.passes.fold_batchnorm import fold_batchnorm
from deploytool.core.keras_env import keras
from deploytool.models import create_model
from deploytool.models.weights import randomize_batchnorm

from support import heavy_except


layers = keras.layers
TOLERANCE = 1e-5


def small(name, **options):
    model = create_model(name, input_shape=(32, 32, 3), num_classes=10, width=0.25,
                         classifier_activation=None, **options)
    return randomize_batchnorm(model, seed=1)


def count_bn(model):
    return sum(isinstance(layer, layers.BatchNormalization) for layer in model.layers)


def test_randomised_statistics_make_every_bn_matter():
    model = small("resnet18")
    bn = next(layer for layer in model.layers if isinstance(layer, layers.BatchNormalization))
    assert not np.allclose(bn.moving_variance.numpy(), 1.0)
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)


@pytest.mark.parametrize("name", heavy_except(
    ["lenet_bn", "resnet18", "mobilenet_v2", "resnext50_32x4d", "se_resnet50"],
    {"lenet_bn", "mobilenet_v2"}))
def test_bn_after_conv_depthwise_grouped_or_dense_folds_into_it(name):
    model = small(name)
    folded, report = fold_batchnorm(model)
    assert count_bn(folded) == 0
    assert report.folded == report.batchnorm_layers == count_bn(model) > 0
    assert report.max_abs_diff < TOLERANCE
    assert report.max_rel_diff < TOLERANCE


def test_folded_convolutions_gain_a_bias_and_the_original_is_untouched():
    model = small("resnet18")
    folded, _ = fold_batchnorm(model)
    assert model.get_layer("stem_conv").use_bias is False
    assert folded.get_layer("stem_conv").use_bias is True
    assert count_bn(model) == 20


@pytest.mark.heavy
def test_preactivation_bns_become_explicit_scale_and_shift_with_reasons():
    model = small("densenet121")
    folded, report = fold_batchnorm(model)
    assert count_bn(folded) == 0
    assert report.folded_into_previous and report.kept_as_scale_shift
    name, reason = report.kept_as_scale_shift[0]
    assert isinstance(folded.get_layer(name), layers.DepthwiseConv2D)
    assert "follows" in reason
    assert report.max_abs_diff < TOLERANCE


def test_bn_before_a_valid_conv_or_dense_folds_into_the_following_layer():
    inputs = keras.Input((8, 8, 3))
    x = layers.BatchNormalization(name="bn_in")(inputs)
    x = layers.Conv2D(4, 3, padding="valid", name="conv")(x)
    x = layers.Flatten()(x)
    x = layers.BatchNormalization(name="bn_flat")(x)
    model = randomize_batchnorm(keras.Model(inputs, layers.Dense(5, name="dense")(x)))
    folded, report = fold_batchnorm(model)
    assert report.folded_into_next == [("bn_in", "conv"), ("bn_flat", "dense")]
    assert report.max_abs_diff < TOLERANCE


def test_bn_before_a_same_padded_3x3_conv_is_not_folded_forward():
    inputs = keras.Input((8, 8, 3))
    x = layers.BatchNormalization(name="bn_in")(inputs)
    model = randomize_batchnorm(keras.Model(inputs, layers.Conv2D(4, 3, padding="same")(x)))
    folded, report = fold_batchnorm(model)
    assert report.folded == 0 and [n for n, _ in report.kept_as_scale_shift] == ["bn_in"]
    assert report.max_abs_diff < TOLERANCE


def test_conv_whose_output_is_shared_keeps_its_bn_apart():
    inputs = keras.Input((8, 8, 3))
    conv = layers.Conv2D(4, 1, name="conv")(inputs)
    bn = layers.BatchNormalization(name="bn")(conv)
    model = randomize_batchnorm(keras.Model(inputs, layers.Add()([conv, bn])))
    folded, report = fold_batchnorm(model)
    assert report.kept_as_scale_shift == [("bn", "the output of 'conv' is also used elsewhere")]
    assert report.max_abs_diff < TOLERANCE


def test_folding_leaves_fewer_layers():
    model = small("mobilenet_v2")
    folded, _ = fold_batchnorm(model)
    assert len(folded.layers) < len(model.layers)


def test_bn_after_a_separable_conv_folds_into_its_pointwise_kernel():
    inputs = keras.Input((8, 8, 3))
    x = layers.SeparableConv2D(6, 3, padding="same", use_bias=False, name="sep")(inputs)
    model = randomize_batchnorm(keras.Model(inputs, layers.BatchNormalization(name="bn")(x)))
    folded, report = fold_batchnorm(model)
    assert report.folded_into_previous == [("bn", "sep")]
    assert report.max_abs_diff < TOLERANCE


def test_per_channel_normalization_becomes_a_depthwise_affine():
    """TFLite writes a per-channel Normalization as ops with (1, 1, 1, C) constants that OpenCV's
    TFLite importer broadcasts on the wrong axis; as a 1x1 depthwise affine it computes right."""
    inputs = keras.Input((8, 8, 3))
    x = layers.Normalization(mean=[120.0, 110.0, 100.0], variance=[3000.0, 2500.0, 2000.0],
                             name="norm")(inputs)
    model = keras.Model(inputs, layers.Conv2D(4, 3, padding="same", name="conv")(x))
    images = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 3)).astype(np.float32)
    folded, report = fold_batchnorm(model, check_images=images)
    assert report.normalization_layers == 1 and report.batchnorm_layers == 0
    assert [name for name, _ in report.kept_as_scale_shift] == ["norm"]
    assert type(folded.get_layer("norm")).__name__ == "DepthwiseConv2D"
    assert report.max_abs_diff < 1e-4 * np.abs(model.predict(images, verbose=0)).max()
