"""A model's class names given by the user (`--labels FILE` on convert and run): checked against
the model, kept in the manifest, matched by name to a labelled folder's classes in verify, and
bundled for the app."""

import json

import numpy as np
import pytest
from PIL import Image

from deploytool.core.keras_env import keras

from support import run_cli

COLOURS = ["red", "green", "blue"]  # the model's class order: the brightest channel


@pytest.fixture
def colour_model(tmp_path):
    """A model whose decision is the brightest colour channel, and a labels file naming them."""
    inputs = keras.Input((8, 8, 3))
    dense = keras.layers.Dense(3, activation="softmax", name="colour")
    dense.build((None, 3))
    dense.set_weights([10 * np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(inputs)))
    model.save(tmp_path / "colour.keras")
    (tmp_path / "labels.txt").write_text("\n".join(COLOURS) + "\n")
    return tmp_path / "colour.keras", tmp_path / "labels.txt"


def colour_folder(root, per_class=6):
    """folder:PATH images, one sub-folder per colour: sorted, their order (blue, green, red) is
    not the model's."""
    rng = np.random.default_rng(0)
    for channel, name in enumerate(COLOURS):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 60, (8, 8, 3))
            pixels[..., channel] += 180
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{index}.png")
    return root


def test_convert_keeps_the_labels_given_in_the_manifest_and_bundle_uses_them(colour_model, tmp_path):
    model, labels = colour_model
    result = run_cli("convert", model, "--labels", labels, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "colour_fp32.tflite.json").read_text())
    assert manifest["labels"] == COLOURS
    bundled = run_cli("bundle", tmp_path / "out" / "colour_fp32.tflite", "--out", tmp_path / "bundle")
    assert bundled.exit_code == 0, bundled.output
    assert (tmp_path / "bundle" / "labels.txt").read_text().splitlines() == COLOURS


def test_labels_that_do_not_fit_the_model_are_one_line(colour_model, tmp_path):
    model, _ = colour_model
    (tmp_path / "five.txt").write_text("a\nb\nc\nd\ne\n")
    result = run_cli("convert", model, "--labels", tmp_path / "five.txt")
    assert result.exit_code == 2
    assert "five.txt: 5 labels, and the model's outputs have 3 values" in result.stderr


def test_verify_matches_a_folders_classes_to_the_labels_by_name(colour_model, tmp_path):
    model, labels = colour_model
    folder = colour_folder(tmp_path / "colours")
    assert run_cli("convert", model, "--labels", labels, "--out", tmp_path / "out").exit_code == 0
    result = run_cli("verify", tmp_path / "out" / "colour_fp32.tflite", "--backend", "tflite",
                     "--data", f"folder:{folder}", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    (row,) = [row for row in report["rows"] if row["backend"] == "tflite"]
    assert row["figures"]["accuracy"] == 1.0  # by index (blue=0, green=1, red=2) it would be 1/3


def test_run_takes_labels_for_a_model_file(colour_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, labels = colour_model
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    result = run_cli("run", model, "--labels", tmp_path / "bad.txt", "--out", "r")
    assert result.exit_code == 2 and "bad.txt" in result.stderr
    assert not (tmp_path / "r").exists()  # refused before any work


@pytest.mark.heavy
def test_run_on_a_model_file_with_labels_verifies_by_them_and_bundles_them(colour_model, tmp_path,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, labels = colour_model
    folder = colour_folder(tmp_path / "colours", per_class=10)
    result = run_cli("run", model, "--data", f"folder:{folder}", "--labels", labels,
                     "--samples", "6", "--out", "r")
    assert result.exit_code == 0, result.output
    state = json.loads((tmp_path / "r" / "state.json").read_text())["done"]
    assert (tmp_path / "r" / "android_bundle" / "labels.txt").read_text().splitlines() == COLOURS
    fp32 = [row for row in state["verify"]["rows"] if row["artifact"] == "colour_fp32.tflite"]
    assert all(row["figures"]["accuracy"] == 1.0 for row in fp32 if row["status"] == "pass")
