"""How raw 8-bit images become a model's input; recorded once and reused by every later stage."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import UserError

# ITU-R BT.601 luma, as OpenCV, PIL and Android's ColorMatrix use it
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Preprocessing:
    """Resize (bilinear, half-pixel centres, no antialiasing) to ``height`` x ``width``, convert
    to ``channels`` (1: a grey pixel keeps its value, any other becomes BT.601 luma
    ``0.299*R + 0.587*G + 0.114*B`` summed left to right; 3: RGB, grey replicated), then
    ``pixel * scale + offset``, every step in float32, NHWC. Pixels are 8-bit (0..255). The
    Android core (android_demo/core, Preprocessing.java) does the same operations in the same
    order, so both sides produce the same bits."""

    height: int
    width: int
    channels: int
    scale: float = 1.0 / 255.0
    offset: float = 0.0
    resize: str = "bilinear"
    layout: str = "NHWC"

    @classmethod
    def for_input_shape(cls, input_shape, **overrides) -> "Preprocessing":
        """The default preprocessing for a model input of (height, width, channels)."""
        height, width, channels = (int(d) for d in input_shape)
        if channels not in (1, 3):
            raise UserError(f"models with {channels} input channels are not supported (1 or 3)")
        return cls(height, width, channels, **overrides)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels)."""
        return (self.height, self.width, self.channels)

    def as_dict(self) -> dict:
        """Plain-JSON form (what ``preprocessing.json`` holds)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Preprocessing":
        """Inverse of :meth:`as_dict`; unknown keys are ignored."""
        try:
            return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})
        except TypeError as exc:
            raise UserError(f"invalid preprocessing record: {exc}") from None

    @classmethod
    def load(cls, path) -> "Preprocessing":
        """Read a ``preprocessing.json``."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot read preprocessing record ({exc})") from None

    def transform(self, pixels):
        """The preprocessing as TensorFlow ops on a float32 batch (N, H, W, 1 or 3) of 0..255
        pixels; :meth:`apply` and the training input pipeline both run exactly this."""
        from .keras_env import tf

        if pixels.shape[1] != self.height or pixels.shape[2] != self.width:
            pixels = tf.image.resize(pixels, (self.height, self.width), method=self.resize,
                                     antialias=False)
        if pixels.shape[-1] == 3 and self.channels == 1:
            red, green, blue = pixels[..., 0:1], pixels[..., 1:2], pixels[..., 2:3]
            luma = red * LUMA[0] + green * LUMA[1] + blue * LUMA[2]
            grey = tf.logical_and(tf.equal(red, green), tf.equal(green, blue))
            pixels = tf.where(grey, red, luma)
        elif pixels.shape[-1] == 1 and self.channels == 3:
            pixels = tf.repeat(pixels, 3, axis=-1)
        return pixels * np.float32(self.scale) + np.float32(self.offset)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, H, W, C) of any size and 1 or 3 channels -> float32 model input."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise UserError(f"expected images shaped (N, H, W, 1 or 3), got {images.shape}")
        return np.asarray(self.transform(images.astype(np.float32)), np.float32)
