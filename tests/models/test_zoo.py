"""The model zoo: every architecture builds for digits and ImageNet inputs, with the published size."""

import numpy as np
import pytest

from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras, tf
from deploytool.models import UnknownModelError, create_model, get_spec, list_models
from deploytool.models.profile import profile_model

from support import heavy_except


ZOO = [
    "alexnet", "bn_inception", "densenet121", "googlenet", "lenet_bn", "mobilenet_v2", "nin",
    "regnetx_32", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50", "resnet50_v2",
    "resnext50_32x4d", "se_resnet50", "se_resnext50_32x4d", "vgg11", "vgg16",
]

# one model per family file: what the fast tier builds (the default run builds every one)
ONE_PER_FAMILY = {"alexnet", "densenet121", "googlenet", "lenet_bn", "mobilenet_v2", "nin",
                  "regnetx_32", "resnet18", "resnext50_32x4d", "se_resnet50", "vgg11"}

# Multiply-accumulates per 224x224 image as published (torchvision / the papers).
PUBLISHED_MACS = {"resnet50": 4.09e9, "resnet18": 1.81e9, "mobilenet_v2": 300e6,
                  "vgg16": 15.47e9, "densenet121": 2.83e9}


def main_output(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def test_registry_lists_every_architecture_of_the_product():
    assert list_models() == sorted(ZOO)


def test_the_process_uses_keras_2_everywhere():
    model = create_model("lenet_bn", input_shape=(28, 28, 1), num_classes=10)
    assert isinstance(model, keras.Model)
    assert tf.keras.layers.Dense is keras.layers.Dense
    assert keras.__version__.startswith("2.")


@pytest.mark.parametrize("name", heavy_except(ZOO, ONE_PER_FAMILY))
def test_builds_and_predicts_on_digit_sized_input(name):
    model = create_model(name, input_shape=(28, 28, 1), num_classes=10)
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    probabilities = main_output(model(images, training=False)).numpy()
    assert probabilities.shape == (2, 10)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", heavy_except(ZOO, {"alexnet", "lenet_bn", "nin", "resnet18"}))
def test_imagenet_configuration_matches_the_reference_parameter_count(name):
    model = create_model(name)
    spec = get_spec(name)
    probabilities = main_output(model(np.zeros((1, 224, 224, 3), np.float32), training=False))
    assert probabilities.shape == (1, 1000)
    if spec.reference_params:
        deviation = abs(model.count_params() - spec.reference_params) / spec.reference_params
        assert deviation <= spec.reference_tolerance, (model.count_params(), spec.reference_params)
    if name in PUBLISHED_MACS:
        macs = profile_model(model).macs
        assert abs(macs - PUBLISHED_MACS[name]) / PUBLISHED_MACS[name] < 0.01, macs


def test_googlenet_is_within_the_papers_range_without_auxiliary_heads():
    assert 6_600_000 <= create_model("googlenet").count_params() <= 7_000_000


@pytest.mark.heavy
def test_bn_inception_has_two_training_only_auxiliary_heads():
    model = create_model("bn_inception", input_shape=(64, 64, 3), num_classes=5)
    assert model.output_names == ["predictions", "aux1", "aux2"]
    assert profile_model(model).training_only_outputs == ("aux1", "aux2")
    single = create_model("bn_inception", input_shape=(64, 64, 3), num_classes=5, aux_heads=False)
    assert single.output_names == ["predictions"]


@pytest.mark.heavy
def test_bn_inception_factorises_every_5x5_branch_into_two_3x3():
    model = create_model("bn_inception", input_shape=(64, 64, 3), num_classes=5)
    kernels = {layer.kernel_size for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D) and "inception" in layer.name}
    assert (5, 5) not in kernels and (3, 3) in kernels
    assert (5, 5) in {layer.kernel_size for layer in create_model("googlenet").layers
                      if isinstance(layer, keras.layers.Conv2D)}


@pytest.mark.heavy
def test_squeeze_excitation_uses_1x1_convolutions_not_dense_layers():
    model = create_model("se_resnet50", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    dense = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == ["logits"]
    assert any(layer.name.endswith("se_reduce") and layer.kernel_size == (1, 1)
               for layer in model.layers)


@pytest.mark.heavy
def test_resnext_and_regnet_use_grouped_convolutions():
    resnext = create_model("resnext50_32x4d", input_shape=(32, 32, 3), num_classes=10)
    assert {layer.groups for layer in resnext.layers if isinstance(layer, keras.layers.Conv2D)} == {1, 32}
    regnet = create_model("regnetx_32", input_shape=(32, 32, 3), num_classes=10)
    assert {layer.groups for layer in regnet.layers if isinstance(layer, keras.layers.Conv2D)} == {1, 2, 5}


def test_width_option_shrinks_the_model_and_keeps_it_working():
    full = create_model("resnet18", input_shape=(28, 28, 1), num_classes=10).count_params()
    narrow = create_model("resnet18", input_shape=(28, 28, 1), num_classes=10, width=0.25)
    assert narrow.count_params() < full / 10
    assert narrow(np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 10)


def test_logits_option_drops_the_softmax():
    model = create_model("mobilenet_v2", input_shape=(32, 32, 3), num_classes=4, width=0.35,
                         classifier_activation=None)
    assert model.layers[-1].name == "logits"
    logits = model(np.random.default_rng(1).random((3, 32, 32, 3), dtype=np.float32)).numpy()
    assert not np.allclose(logits.sum(axis=1), 1.0)


def test_profile_counts_batchnorm_layers_to_fold():
    assert profile_model(create_model("resnet18", input_shape=(28, 28, 1), num_classes=10)).batchnorm_layers == 20
    assert profile_model(create_model("vgg16", input_shape=(28, 28, 1), num_classes=10)).batchnorm_layers == 0


def test_unknown_model_name_suggests_close_matches():
    with pytest.raises(UnknownModelError, match="did you mean resnet50"):
        create_model("resnet5")


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (28, 28)}, "input shape"),
    ({"num_classes": 0}, "num_classes"),
    ({"width": 0}, "width"),
    ({"depth": 3}, "unexpected keyword argument 'depth'"),
])
def test_invalid_options_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        create_model("lenet_bn", **kwargs)
