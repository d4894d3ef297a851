"""How a folder of the user's images is split into calibration and held-out images."""

import numpy as np
from PIL import Image

from deploytool.sources.datasets import HELD_OUT_AT_LEAST, held_out_fraction, load_dataset


def write_images(folder, count):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{index}.png")


def test_a_large_folder_holds_out_a_fifth():
    assert held_out_fraction(1000) == 0.2


def test_a_small_folder_holds_out_enough_to_judge_as_far_as_half():
    assert held_out_fraction(2 * HELD_OUT_AT_LEAST) == 0.5
    assert held_out_fraction(300) * 300 == HELD_OUT_AT_LEAST


def test_a_folder_of_100_images_holds_out_50_none_of_them_calibrated_on(tmp_path):
    write_images(tmp_path / "faces", 100)
    dataset = load_dataset(f"images:{tmp_path / 'faces'}", (8, 8), 3)
    assert (len(dataset.x_train), len(dataset.x_test)) == (50, 50)
    held_out = {image.tobytes() for image in dataset.x_test}
    assert not held_out & {image.tobytes() for image in dataset.x_train}
