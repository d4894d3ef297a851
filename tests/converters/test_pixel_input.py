"""A full-int8 .tflite with uint8 input and output, as MediaPipe Tasks and the Task Library take
it: the input means 8-bit pixels as they are (scale 1, zero point 0), because the normalization,
per-channel included, moved into the graph as its first operation."""

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.converters.passes.pixel_input import LAYER_NAME, normalization_in_graph
from deploytool.converters.targets.registry import target
from deploytool.converters.targets.tflite.export import with_pixel_extremes
from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras
from deploytool.core.preprocessing import Preprocessing
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.verification.verify import verify
from support import save_colour_classifier

IMAGENET = Preprocessing.preset_for((20, 20, 3), "imagenet")  # per-channel mean and std


def uint8_options(out_dir, **changes):
    return ConvertOptions(to="tflite", precision="int8", calib_samples=32, out_dir=out_dir,
                          target_options=target("tflite").options_type(int8_io="uint8"), **changes)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pixels")
    return save_colour_classifier(folder / "m.keras", size=20, filters=6, classes=5, seed=2)


@pytest.fixture(scope="module")
def converted(model_file, tmp_path_factory):
    source = load_source(str(model_file), preprocess={"preset": "imagenet"})
    return convert(source, uint8_options(tmp_path_factory.mktemp("uint8")), remember=False)


def test_the_normalization_in_the_graph_computes_what_the_preprocessing_did(model_file):
    model = keras.models.load_model(model_file)
    taking_pixels, report = normalization_in_graph(model, IMAGENET)
    pixels = np.random.default_rng(0).integers(0, 256, (4, 20, 20, 3)).astype(np.float32)
    expected = model.predict(IMAGENET.apply(pixels), verbose=0)
    assert np.array_equal(taking_pixels.predict(pixels, verbose=0), expected)
    assert taking_pixels.layers[1].name == LAYER_NAME
    assert report.preprocessing.scale == (1.0,) * 3 and report.preprocessing.offset == (0.0,) * 3


def test_the_uint8_file_takes_pixels_as_they_are_and_gives_uint8(converted):
    manifest = converted.manifest
    (tensor,) = manifest.inputs
    assert (tensor["dtype"], tensor["scale"], tensor["zero_point"]) == ("uint8", 1.0, 0)
    assert [output["dtype"] for output in manifest.outputs] == ["uint8"]
    assert manifest.preprocessing.scale == (1.0,) * 3 and manifest.preprocessing.offset == (0.0,) * 3
    reference = keras.models.load_model(manifest.reference)
    assert reference.layers[1].name == LAYER_NAME  # the Keras reference takes pixels too


def test_mediapipe_takes_the_uint8_file_of_a_per_channel_model_and_agrees(converted):
    report = verify([converted.artifact], "all", samples=16)
    by_runtime = {row.backend: row for row in report.rows}
    for runtime in ("tflite", "mediapipe", "litert_arm64"):
        row = by_runtime[runtime]
        assert row.status == "pass" and row.figures["min_cosine"] > 0.999, (runtime, row.failures)
    assert by_runtime["litert_arm64"].agreement["max_steps"] <= 1


def test_calibration_pixels_reach_0_and_255_so_the_input_scale_is_exactly_1():
    dim = np.full((3, 4, 4, 3), 100.0, np.float32)
    widened = with_pixel_extremes(dim)
    assert len(widened) == 5 and widened.min() == 0 and widened.max() == 255
    full = np.concatenate([dim, np.zeros((1, 4, 4, 3)), np.full((1, 4, 4, 3), 255.0)]).astype(np.float32)
    assert with_pixel_extremes(full) is full  # nothing added where they reach both already


def test_uint8_io_with_qat_is_refused(tmp_path):
    with pytest.raises(UserError):
        uint8_options(tmp_path, qat=True).check()
