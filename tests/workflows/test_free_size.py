"""A model file with a free input size: converted at a size the user names, or, for ONNX on
request, kept free and checked at two sizes."""

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.runtimes.base import runner_for
from deploytool.sources.keras_files import load_keras_file
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert

from support import run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.fixture(scope="module")
def segmenter_file(tmp_path_factory):
    """A fully convolutional Keras 3 segmenter saved with input (None, None, 3)."""
    from deploytool.core.keras_env import keras3

    k = keras3()
    k.utils.set_random_seed(0)
    inputs = k.Input((None, None, 3))
    x = k.layers.BatchNormalization()(k.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs))
    path = tmp_path_factory.mktemp("segmenter") / "segmenter.keras"
    k.Model(inputs, k.layers.Conv2D(4, 1, activation="softmax", name="mask")(x)).save(path)
    return path


def test_onnx_keeps_the_size_free_on_request_and_matches_keras_at_two_sizes(segmenter_file):
    result = convert(load_source(str(segmenter_file), input_shape=(24, 32, 3)),
                     ConvertOptions.create("onnx", free_size=True))
    parity = result.manifest.record["parity"]
    assert parity["passed"] and parity["other_size"]["input_shape"] == [36, 48, 3]
    assert parity["other_size"]["failures"] == []
    runner = runner_for(result.artifact).load()
    assert runner.inputs[0].shape[1:3] == (-1, -1)
    model = load_keras_file(segmenter_file)
    for height, width in ((24, 32), (40, 56)):
        images = np.random.default_rng(height).random((2, height, width, 3), dtype=np.float32)
        (produced,) = runner.infer_all(images).values()
        np.testing.assert_allclose(produced, np.asarray(model.predict_on_batch(images)), atol=1e-5)


def test_free_size_on_a_fixed_input_is_one_line(three_head_model_file):
    result = run_cli("convert", three_head_model_file, "--to", "onnx", "--free-size")
    assert result.exit_code == 2
    assert "--free-size keeps a free input size free, and three_heads's input is fixed at 24,24,3" \
        in result.stderr


def test_free_size_belongs_to_onnx():
    result = run_cli("convert", "lenet_bn", "--to", "tflite", "--free-size")
    assert result.exit_code == 2 and "--free-size" in result.stderr
