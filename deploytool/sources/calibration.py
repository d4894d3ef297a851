"""Representative images for int8 calibration: a named data set, a run's own data, a plain
folder of images (images:PATH), or a .npy file. With none named: the digits for a grey model,
natural photographs for a colour one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.preprocessing import Preprocessing
from deploytool.sources.datasets import load_dataset_for, pick_data, sample_split
from deploytool.sources.input_notes import input_notes

DEFAULT_CALIBRATION_SAMPLES = 300


@dataclass
class CalibrationSet:
    """Preprocessed float32 images (N, H, W, C) and a description for the manifest."""

    images: np.ndarray
    description: dict


def check_images(images: np.ndarray, preprocessing: Preprocessing, origin: str) -> np.ndarray:
    """Refuse empty, wrongly shaped or non-finite calibration images."""
    images = np.asarray(images)
    if images.size == 0:
        raise UserError(f"calibration data {origin} is empty")
    if images.ndim != 4 or tuple(images.shape[1:]) != preprocessing.input_shape:
        raise UserError(f"calibration data {origin} has shape {images.shape}; the model needs "
                        f"(N, {', '.join(map(str, preprocessing.input_shape))})")
    if not np.all(np.isfinite(images)):
        raise UserError(f"calibration data {origin} contains NaN or infinite values")
    return images.astype(np.float32)


def calibration_set(data: str | None, preprocessing: Preprocessing,
                    samples: int = DEFAULT_CALIBRATION_SAMPLES, seed: int = 0,
                    split: str = "train") -> CalibrationSet:
    """``samples`` images drawn (seeded, without replacement) from data set ``data`` (default:
    :func:`~deploytool.sources.datasets.pick_data`'s default for the model's channels) and preprocessed for the model, or read from a
    .npy file of preprocessed images."""
    if samples < 1:
        raise UserError(f"calibration samples must be at least 1, got {samples}")
    chosen = pick_data(data, channels=preprocessing.channels)
    data = chosen.name
    if chosen.is_array:
        try:
            array = np.load(Path(data), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UserError(f"{data}: cannot read calibration array ({exc})") from None
        images = check_images(array, preprocessing, data)
        return CalibrationSet(images[:samples], {"source": data, "samples": len(images[:samples]),
                                                 "requested": samples, "available": len(images)})
    dataset = load_dataset_for(data, preprocessing)
    raw, _, count = sample_split(dataset, split, samples, seed)
    images = check_images(preprocessing.apply(raw), preprocessing, data)
    available = len(dataset.x_train if split == "train" else dataset.x_test)
    return CalibrationSet(images, {"source": data, "split": split, "samples": count,
                                   "requested": samples, "available": available, "seed": seed,
                                   "dataset": dataset.description,
                                   "notes": input_notes(data, dataset.description, preprocessing)})


def calibration_note(description: dict, requested: int) -> str:
    """How many images calibrate, from where, and, when fewer than asked for, why."""
    used, source = description["samples"], description["source"]
    available = description.get("available")
    words = f"calibrating on {used} images of {source}"
    if available is not None and used < requested:
        held_out = (description.get("dataset") or {}).get("images")
        split = (f" (its {held_out} images: {available} for calibration, the rest held out for "
                 "parity)" if held_out else "")
        holder = "the calibration split" if "split" in description else "the file"
        return (f"{words}: {requested} asked for (--calib-samples), {holder} holds "
                f"{available}{split}")
    return words + (f" ({used} of {available} in the calibration split)" if available else "")


def used_counts(calibration) -> dict:
    """The calibration count the settings record: the images actually used (and the number
    asked for, when the data held fewer)."""
    if calibration is None:
        return {}
    return {"calib_samples": calibration.description["samples"],
            "calib_samples_requested": calibration.description.get("requested",
                                                                   calibration.description["samples"])}
