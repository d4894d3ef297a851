"""Images changed on their way into the model are named: grey for a colour model and colour for a
grey one, alpha dropped, another aspect ratio squashed, cropped or padded (`--resize`)."""

import json

import numpy as np
import pytest
from PIL import Image

from deploytool.core.preprocessing import Preprocessing, aspect_region
from deploytool.sources.calibration import calibration_set
from deploytool.sources.datasets import read_image

from support import run_cli


@pytest.fixture
def wide_rgba_folder(tmp_path):
    """Six 120x300 colour images with an alpha channel: the shape of a banner, not of a model."""
    folder = tmp_path / "banners"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(6):
        Image.fromarray(rng.integers(0, 256, (120, 300, 4), dtype=np.uint8), "RGBA").save(
            folder / f"{index}.png")
    return folder


def test_a_grey_model_on_wide_colour_images_with_alpha_hears_all_three(wide_rgba_folder):
    notes = calibration_set(f"images:{wide_rgba_folder}", Preprocessing(32, 32, 1)).description["notes"]
    assert notes == [
        "6 of the 6 images are in colour and the model takes grey: each pixel becomes its BT.601 "
        "luma (0.299 R + 0.587 G + 0.114 B)",
        "6 of the 6 images have an alpha channel: dropped (the colours are used as stored, not "
        "blended onto a background)",
        "6 of the 6 images are not the model's aspect ratio (e.g. 300x120 for 32x32): squashed to "
        "it (--resize crop or pad keeps their shape)"]


def test_a_colour_model_on_the_grey_digits_is_told_they_are_grey():
    notes = calibration_set("digits", Preprocessing(8, 8, 3), samples=4).description["notes"]
    assert notes == ["'digits' is grey and the model takes colour: each grey value is repeated in "
                     "R, G and B"]


def test_crop_keeps_the_centre_and_pad_keeps_the_whole_image(tmp_path):
    row = np.zeros((1, 4, 3), np.uint8)
    row[0, 1:3] = 200  # the two middle pixels bright, the ends black
    Image.fromarray(row).save(tmp_path / "row.png")
    assert read_image(tmp_path / "row.png", (1, 2), 3, "crop").min() == 200  # only the centre
    assert aspect_region(1, 4, 1, 2, "crop") == (0, 1, 1, 2)
    assert aspect_region(120, 300, 32, 32, "pad") == (90, 0, 300, 300)
    assert aspect_region(32, 32, 32, 32, "pad") == (0, 0, 32, 32)


def test_convert_records_the_resize_policy_and_says_how_images_were_fitted(wide_rgba_folder, tmp_path):
    from deploytool.core.keras_env import keras

    keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(2)]).save(tmp_path / "m.keras")
    result = run_cli("convert", tmp_path / "m.keras", "--int8", "--calib-data",
                     f"images:{wide_rgba_folder}", "--resize", "crop", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "centre-cropped to the model's aspect, then resized (--resize crop)" in \
        " ".join(result.output.split())
    manifest = json.loads((tmp_path / "out" / "m_int8.tflite.json").read_text())
    assert manifest["preprocessing"]["fit"] == "crop"
    assert run_cli("convert", tmp_path / "m.keras", "--resize", "stretch").exit_code == 2
