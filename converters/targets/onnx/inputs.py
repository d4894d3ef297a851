"""The input of every .onnx deploytool writes: one float tensor named ``input`` (NHWC, or NCHW
when exported for runtimes that want it), and a reader that feeds preprocessed images to it one
at a time (ONNX Runtime's calibrators and its activation debugger take such a reader)."""

from __future__ import annotations

import numpy as np

INPUT_NAME = "input"


class ImageReader:
    """ONNX Runtime calibration reader over preprocessed images, one image per batch; ``set_range``
    limits it to a slice (ONNX Runtime calibrates a slice at a time when asked to)."""

    def __init__(self, images: np.ndarray, nchw: bool):
        self.images = images.transpose(0, 3, 1, 2) if nchw else images
        self.index, self.end = 0, len(self.images)

    def get_next(self):
        if self.index >= self.end:
            return None
        batch = {INPUT_NAME: self.images[self.index:self.index + 1]}
        self.index += 1
        return batch

    def rewind(self):
        self.index, self.end = 0, len(self.images)

    def __len__(self):
        return len(self.images)

    def set_range(self, start_index: int, end_index: int):
        self.index, self.end = start_index, min(end_index, len(self.images))


def image_reader(images: np.ndarray, nchw: bool):
    """An ONNX Runtime ``CalibrationDataReader`` over ``images``."""
    from onnxruntime.quantization import CalibrationDataReader

    return type("Reader", (ImageReader, CalibrationDataReader), {})(images, nchw)
