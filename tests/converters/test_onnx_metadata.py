"""ONNX metadata in every .onnx: the ONNX spec's image keys where they apply and deploytool's own
keys, written into metadata_props and read back as written."""

import json

import onnxruntime as ort
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.onnx.metadata import KEYS, metadata_props, read_metadata
from deploytool.converters.targets.registry import ModelDescription
from deploytool.core.preprocessing import Preprocessing
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.inspect import inspect_file
from support import save_colour_classifier

LABELS = ["red", "green", "blue"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx-metadata")
    save_colour_classifier(folder / "m.keras", size=16, filters=4, classes=3, labels=LABELS)
    source = load_source(str(folder / "m.keras"), preprocess={"preset": "imagenet"},
                         labels=str(folder / "labels.txt"))
    return convert(source, ConvertOptions(to="onnx", out_dir=folder, keep_softmax=False),
                   remember=False)


def test_inspect_reads_back_what_convert_wrote(converted):
    props = inspect_file(converted.artifact)["metadata"]["props"]
    assert props["deploytool.labels"] == LABELS
    assert props["deploytool.outputs"] == {"dense": "scores"}
    assert props["deploytool.postprocess"] == "softmax"
    preprocessing = props["deploytool.preprocessing"]
    assert preprocessing["mean"] == pytest.approx([123.675, 116.28, 103.53])
    assert (preprocessing["layout"], preprocessing["height"], preprocessing["channels"]) == ("NHWC", 16, 3)
    assert props["Image.BitmapPixelFormat"] == "Rgb8"
    assert "Image.NominalPixelRange" not in props  # ImageNet's mean and std are no nominal range
    assert converted.manifest.record["metadata"]["keys"] == sorted(props)


def test_onnx_runtime_shows_the_same_pairs(converted):
    meta = ort.InferenceSession(str(converted.artifact)).get_modelmeta()
    assert json.loads(meta.custom_metadata_map["deploytool.labels"]) == LABELS
    assert set(KEYS) <= set(meta.custom_metadata_map)
    assert meta.description.startswith("m as fp32 ONNX")


@pytest.mark.parametrize("preset, channels, pixel_format, pixel_range", [
    ("raw", 3, "Rgb8", "NominalRange_0_255"), ("unit", 1, "Gray8", "Normalized_0_1"),
    ("symmetric", 3, "Rgb8", "Normalized_1_1"), ("caffe", 3, "Bgr8", None)])
def test_the_specs_image_keys_follow_the_preprocessing(preset, channels, pixel_format, pixel_range):
    about = ModelDescription("m", "a model", "1", Preprocessing.preset_for((8, 8, channels), preset),
                             {"scores": "scores"}, None, None, "fp32")
    props = metadata_props(about)
    assert props["Image.BitmapPixelFormat"] == pixel_format
    assert props.get("Image.NominalPixelRange") == pixel_range


def test_a_key_deploytool_does_not_own_is_kept_as_its_string():
    import onnx

    model = onnx.ModelProto()
    model.metadata_props.add(key="names", value="{0: 'cat'}")
    model.metadata_props.add(key="deploytool.labels", value='["cat"]')
    assert read_metadata(model)["props"] == {"names": "{0: 'cat'}", "deploytool.labels": ["cat"]}
