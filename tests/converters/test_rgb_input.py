"""``--rgb-input``: a grey or BGR model takes RGB through a fixed first 1x1 convolution (luma, or
the channels reversed), so that the clients that feed RGB only run it and its metadata can say
RGB; the model computes what it computed before."""

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.converters.passes.rgb_input import LAYER_NAME, rgb_input_in_graph
from deploytool.converters.targets.registry import target
from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras
from deploytool.core.preprocessing import Preprocessing
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.verification.verify import verify

SIZE = 16


def classifier(channels: int, seed: int = 3):
    """A tiny softmax classifier for SIZE x SIZE images of ``channels`` channels."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, channels))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(6, 3, activation="relu")(inputs))
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))


def pixels(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, SIZE, SIZE, 3)).astype(np.uint8)


def test_a_grey_model_taking_rgb_computes_the_luma_the_preprocessing_computed():
    model = classifier(1)
    grey = Preprocessing.preset_for((SIZE, SIZE, 1), "unit")
    taking_rgb, report = rgb_input_in_graph(model, grey)
    images = pixels(6)
    expected = model.predict(grey.apply(images), verbose=0)  # luma by the preprocessing
    found = taking_rgb.predict(report.preprocessing.apply(images), verbose=0)
    np.testing.assert_allclose(found, expected, atol=1e-6)
    assert taking_rgb.layers[1].name == LAYER_NAME and report.was == "grey"
    assert (report.preprocessing.channels, report.preprocessing.channel_order) == (3, "RGB")


def test_a_bgr_model_taking_rgb_gives_the_same_outputs_exactly():
    model = classifier(3)
    bgr = Preprocessing.preset_for((SIZE, SIZE, 3), "caffe")  # BGR, per-channel means
    taking_rgb, report = rgb_input_in_graph(model, bgr)
    images = pixels(6, seed=1)
    expected = model.predict(bgr.apply(images), verbose=0)
    assert np.array_equal(taking_rgb.predict(report.preprocessing.apply(images), verbose=0), expected)
    assert report.preprocessing.mean == tuple(reversed(bgr.mean))  # in RGB order now


def test_a_model_taking_rgb_already_is_refused():
    with pytest.raises(UserError):
        rgb_input_in_graph(classifier(3), Preprocessing.preset_for((SIZE, SIZE, 3), "unit"))


@pytest.fixture(scope="module")
def grey_converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grey")
    classifier(1).save(folder / "g.keras")
    source = load_source(str(folder / "g.keras"), preprocess={"preset": "unit"})
    options = ConvertOptions(to="tflite", out_dir=folder / "out",
                             target_options=target("tflite").options_type(rgb_input=True))
    return convert(source, options, remember=False)


def test_the_grey_models_file_takes_rgb_and_its_metadata_says_so(grey_converted):
    manifest = grey_converted.manifest
    (tensor,) = manifest.inputs
    assert tensor["shape"][-1] == 3 and manifest.preprocessing.channel_order == "RGB"
    assert manifest.record["source"]["rgb_input"]["was"] == "grey"


def test_mediapipe_runs_the_grey_model_made_to_take_rgb(grey_converted):
    report = verify([grey_converted.artifact], "all", samples=12)
    by_runtime = {row.backend: row for row in report.rows}
    for runtime in ("tflite", "mediapipe"):
        row = by_runtime[runtime]
        assert row.status == "pass" and row.figures["samples"] == 12, (runtime, row.failures)
