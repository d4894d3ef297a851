"""TFLite Model Metadata in every .tflite: what MediaPipe Tasks and the Task Library read from the
file to feed the model and name its classes, written with MediaPipe's own writer."""

from pathlib import Path

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import ModelDescription
from deploytool.converters.targets.tflite.metadata import metadata_spec, read_metadata
from deploytool.core.child import call_in_child
from deploytool.core.environments import python_for
from deploytool.core.preprocessing import Preprocessing
from deploytool.runtimes.base import runner_for
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from support import save_colour_classifier

PROBE = Path(__file__).with_name("mediapipe_probe.py")
LABELS = ["red", "green", "blue"]


@pytest.fixture(scope="module")
def colour_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("colour")
    save_colour_classifier(folder / "colour.keras", size=32, filters=8, classes=3, labels=LABELS)
    return folder


def convert_colour(folder: Path, out: Path, preset: str = "imagenet"):
    source = load_source(str(folder / "colour.keras"), preprocess={"preset": preset},
                         labels=str(folder / "labels.txt"))
    return convert(source, ConvertOptions(to="tflite", out_dir=out), remember=False)


def photos(count: int = 6) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)


def test_a_converted_tflite_carries_the_metadata_the_clients_read(colour_model, tmp_path):
    result = convert_colour(colour_model, tmp_path)
    metadata = read_metadata(result.artifact)
    (image,), (scores,) = metadata["inputs"], metadata["outputs"]
    assert metadata["name"] == "colour" and metadata["author"].startswith("deploytool")
    assert image["color_space"] == "RGB"
    np.testing.assert_allclose(image["mean"], [123.675, 116.28, 103.53], rtol=1e-6)
    np.testing.assert_allclose(image["std"], [58.395, 57.12, 57.375], rtol=1e-6)
    assert scores["files"] == ["labels.txt"] and metadata["associated_files"]["labels.txt"] == LABELS
    record = result.manifest.record["metadata"]
    assert record["written"] and record["labels"] and record["min_parser_version"] == "1.0.0"
    assert len(record["notes"]) == 1  # MediaPipe takes no per-channel normalization


def classify(artifact: Path, images: np.ndarray, folder: Path):
    np.save(folder / "images.npy", images)
    return call_in_child(f"{PROBE}:classify", artifact, folder / "images.npy",
                         python=python_for("mediapipe"), timeout=300)


def test_mediapipe_refuses_per_channel_normalization_as_the_note_says(colour_model, tmp_path):
    answer = classify(convert_colour(colour_model, tmp_path).artifact, photos(1), tmp_path)
    assert answer.kind == "error" and "Per-channel" in answer.error


def test_mediapipes_classifier_takes_the_file_alone_and_names_its_classes(colour_model, tmp_path):
    result = convert_colour(colour_model, tmp_path, preset="symmetric")
    images = photos()
    answer = classify(result.artifact, images, tmp_path)
    assert answer.ok, answer.error
    mean, std = result.manifest.preprocessing.mean_std()
    logits = runner_for(result.artifact, "tflite").load().infer(
        ((images.astype(np.float32) - mean) / std).astype(np.float32))
    for categories, expected in zip(answer.value, logits):
        assert sorted(c["name"] for c in categories) == sorted(LABELS)
        by_index = {c["index"]: c["score"] for c in categories}
        np.testing.assert_allclose([by_index[i] for i in range(3)], expected, atol=1e-4)
        assert categories[0]["name"] == LABELS[int(np.argmax(expected))]


def test_without_mediapipes_environment_the_file_says_why_and_computes_the_same(
        colour_model, tmp_path, monkeypatch):
    described = convert_colour(colour_model, tmp_path / "with")
    monkeypatch.setenv("DEPLOYTOOL_ENVS", str(tmp_path / "no-environments"))
    plain = convert_colour(colour_model, tmp_path / "without")
    record = plain.manifest.record["metadata"]
    assert record["written"] is False and "deploytool setup" in record["why"]
    assert plain.artifact.read_bytes() != described.artifact.read_bytes()
    images = (photos().astype(np.float32) - 127.5) / 64
    np.testing.assert_array_equal(runner_for(plain.artifact, "tflite").load().infer(images),
                                  runner_for(described.artifact, "tflite").load().infer(images))


def description(preprocessing, labels=None, outputs=None, postprocess=None) -> ModelDescription:
    return ModelDescription("m", "a model", "1", preprocessing, outputs or {"scores": "scores"},
                            labels, postprocess, "fp32")


def tensors(dtype="float32", width=3) -> dict:
    return {"inputs": [{"name": "x", "shape": [1, 8, 8, 3], "dtype": dtype}],
            "outputs": [{"name": "Identity", "shape": [1, width], "dtype": dtype}]}


def test_what_the_standard_clients_will_not_do_is_noted_one_thing_each():
    grey = Preprocessing.preset_for((8, 8, 1), "unit")
    bgr = Preprocessing.preset_for((8, 8, 3), "caffe")
    rgb = Preprocessing.preset_for((8, 8, 3), "imagenet")
    symmetric = Preprocessing.preset_for((8, 8, 3), "symmetric")
    assert metadata_spec(description(symmetric, LABELS), tensors())[1] == []
    assert len(metadata_spec(description(rgb, LABELS), tensors())[1]) == 1  # per channel
    spec, notes = metadata_spec(description(grey), tensors())
    assert spec["input"]["color_space"] == "GRAYSCALE" and len(notes) == 1
    spec, notes = metadata_spec(description(bgr), tensors())
    assert spec["input"]["color_space"] == "UNKNOWN" and len(notes) == 2  # BGR, per channel
    assert len(metadata_spec(description(symmetric), tensors(dtype="int8"))[1]) == 1
    spec, notes = metadata_spec(description(symmetric, ["yes", "no"]), tensors(width=1))
    assert spec["outputs"][0]["labels"] is None and len(notes) == 1  # 2 labels, 1 value
    assert spec["outputs"][0]["name"] == "scores"  # the model's name, not the file's


def test_a_file_that_outputs_logits_says_so_to_the_clients():
    symmetric = Preprocessing.preset_for((8, 8, 3), "symmetric")
    spec, notes = metadata_spec(description(symmetric, LABELS, postprocess="softmax"), tensors())
    assert "logits" in spec["outputs"][0]["description"] and len(notes) == 1


def test_the_minimum_parser_version_follows_upstreams_rules():
    answer = call_in_child(f"{PROBE}:parser_versions", python=python_for("mediapipe"), timeout=300)
    assert answer.ok, answer.error
    assert answer.value == {"plain": "1.0.0", "labels": "1.0.0", "vocabulary": "1.0.1",
                            "input_process_units": "1.1.0", "tensor_groups": "1.2.0",
                            "file_version": "1.4.1", "custom_metadata": "1.5.0"}
