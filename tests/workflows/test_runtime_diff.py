"""`deploytool diagnose ARTIFACT --backend opencv`: the first layer where OpenCV computes an
artifact differently from its own runtime, named with its op, and a minimal reproduction of it;
one tiny model per divergence OpenCV is known for, and one it computes right."""

import json

import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.core.keras_env import keras
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.layer_search.runtime_diff import runtime_diff

from support import heavy_except, run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


def small_model(path, head):
    """Conv -> ``head`` -> 1x1 conv -> pooled class scores, saved at ``path``."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((9, 9, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = head(x)
    x = keras.layers.Conv2D(4, 1, name="after")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    keras.Model(inputs, keras.layers.Dense(3, name="logits")(x)).save(path)
    return path


def same_pooling(x):
    return keras.layers.AveragePooling2D(3, strides=1, padding="same", name="pool")(x)


def map_softmax(x):
    return keras.layers.Softmax(axis=-1, name="map_softmax")(x)


@pytest.mark.parametrize("head, to, layer, keras_class", [
    (same_pooling, "tflite", "pool/AvgPool", "AveragePooling2D"),  # pools over the padding too
    (map_softmax, "tflite", "map_softmax", "Softmax"),  # along the width, not the channels
    (map_softmax, "pb", "map_softmax", "Softmax"),
])
def test_diagnose_names_the_layer_opencv_computes_wrong_and_reproduces_it(tmp_path, head, to, layer,
                                                                          keras_class):
    model = small_model(tmp_path / "m.keras", head)
    artifact = convert(load_source(str(model)), ConvertOptions(to=to, out_dir=tmp_path)).artifact
    report = runtime_diff(artifact, data="photos", samples=2, out_dir=tmp_path / "diagnose")
    assert report.first is not None and layer in report.first.name, report.summary()
    assert report.first.relative > 0.01 and (report.before or 0) < 1e-4  # clean up to it
    reproduction = report.reproduction
    assert reproduction["layer_class"] == keras_class and reproduction["reproduces"]
    text = (tmp_path / "diagnose" / reproduction["text"].split("/")[-1]).read_text()
    assert "OpenCV dnn computes" in text and "cv2.dnn.readNetFrom" in text


@pytest.mark.parametrize("to", heavy_except(["onnx", "pb"], keep=["onnx"]))
def test_every_layer_agrees_where_opencv_computes_the_model_right(tmp_path, to):
    model = small_model(tmp_path / "m.keras", same_pooling)  # its ONNX and .pb importers pool right
    artifact = convert(load_source(str(model)), ConvertOptions(to=to, out_dir=tmp_path)).artifact
    report = runtime_diff(artifact, data="photos", samples=2)
    assert report.first is None and len(report.rows) >= 5
    assert max(row.relative for row in report.rows) < 1e-5


@pytest.mark.heavy
def test_verify_names_the_layer_where_opencv_parts_from_litert(tmp_path):
    model = small_model(tmp_path / "m.keras", same_pooling)
    artifact = convert(load_source(str(model)), ConvertOptions(to="tflite", out_dir=tmp_path)).artifact
    result = run_cli("verify", artifact, "--backend", "opencv", "--data", "photos", "--samples", "4",
                     "--json")
    assert result.exit_code == 1
    row = json.loads(result.stdout[result.stdout.index("{"):])["rows"][0]
    assert any(failure.startswith("first diverges at model/pool/AvgPool (AVERAGE_POOL_2D")
               for failure in row["failures"]), row["failures"]


def test_an_int8_onnx_opencv_computes_layer_by_layer_alike_is_said_to_build_up(tmp_path):
    """verify's lookup now runs for every precision: on an int8 .onnx whose layers OpenCV all
    computes within the int8 bar, it says no layer diverges by itself, and counts them."""
    from deploytool.workflows.layer_search.runtime_diff import locate_divergence

    model = small_model(tmp_path / "m.keras", same_pooling)
    artifact = convert(load_source(str(model)), ConvertOptions(
        to="onnx", precision="int8", out_dir=tmp_path, calib_samples=16)).artifact
    words = locate_divergence(artifact, "photos")
    assert words.startswith("no layer of the ") and "diverges past 0.05 relative (int8)" in words
    assert int(words.split()[4]) >= 5
