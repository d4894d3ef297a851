"""When OpenCV cannot load or run a .tflite and its message names no layer, verify names it from
the file: the int8 op with the fused activation OpenCV has no table for, the FULLY_CONNECTED fed a
4-D map."""

import json

import pytest

from deploytool.core.keras_env import keras

from support import run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.fixture(scope="module")
def fc_on_a_1x1_map(tmp_path_factory):
    """conv (ReLU) -> a conv down to a 1x1 map -> Flatten -> Dense: the TFLite converter folds the
    Flatten into the FULLY_CONNECTED, which OpenCV's importer then reads with the wrong K."""
    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = layers.Flatten(name="flat")(layers.Conv2D(8, 8, name="to_1x1")(x))
    path = tmp_path_factory.mktemp("fc") / "fc1x1.keras"
    keras.Model(inputs, layers.Dense(3, name="fc")(x)).save(path)
    return path


@pytest.mark.parametrize("flags, layer", [
    ([], "(FULLY_CONNECTED fed a 4-D map)"),
    (["--int8"], "at layer model/conv/Relu (CONV_2D with a fused RELU, int8)"),
])
def test_verify_names_the_tflite_layer_opencv_fails_on(fc_on_a_1x1_map, tmp_path, flags, layer):
    converted = run_cli("convert", fc_on_a_1x1_map, *flags, "--out", tmp_path, "--json")
    assert converted.exit_code == 0, converted.output
    artifact = json.loads(converted.output[converted.output.index("{"):])["artifact"]["file"]
    result = run_cli("verify", tmp_path / artifact, "--backend", "opencv", "--json")
    assert result.exit_code == 1
    row = json.loads(result.stdout[result.stdout.index("{"):])["rows"][0]
    assert any(layer in failure for failure in row["failures"]), row["failures"]
