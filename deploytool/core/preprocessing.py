"""How raw 8-bit images become a model's input; recorded once and reused by every later stage
(calibration, verify, bench, bundle, the Android core).

A model expects its own input: 0..1, -1..1, ImageNet mean/std, caffe-style BGR mean subtraction,
or raw 0..255 pixels that it rescales itself. Each is ``(pixel - mean) / std`` per channel, with
mean and std in pixel units (0..255) and the colour channels in RGB or BGR order, as OpenCV's
``blobFromImage`` and mmcv state it. :data:`PRESETS` names the usual ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from deploytool.core.errors import UserError

# ITU-R BT.601 luma, as OpenCV, PIL and Android's ColorMatrix use it
LUMA = np.array([0.299, 0.587, 0.114], np.float32)

# name -> (mean, std, channel order, what it is); mean and std in 0..255 pixel units, per
# channel in the model's channel order
PRESETS = {
    "unit": ((0.0,), (255.0,), "RGB", "pixel / 255: 0..1"),
    "symmetric": ((127.5,), (127.5,), "RGB",
                  "pixel / 127.5 - 1: -1..1 (keras.applications 'tf' mode: MobileNet, "
                  "MobileNetV2, ResNet50V2, Xception, InceptionV3, NASNet)"),
    "imagenet": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), "RGB",
                 "(pixel / 255 - ImageNet mean) / ImageNet std (torchvision; keras.applications "
                 "'torch' mode: DenseNet)"),
    "caffe": ((103.939, 116.779, 123.68), (1.0,), "BGR",
              "BGR, pixel - ImageNet mean (keras.applications 'caffe' mode: ResNet50, VGG16)"),
    "raw": ((0.0,), (1.0,), "RGB",
            "0..255 as they are, for models that rescale inside (EfficientNet, EfficientNetV2, "
            "ConvNeXt, MobileNetV3)"),
}
ALIASES = {"0..1": "unit", "-1..1": "symmetric", "tf": "symmetric", "torch": "imagenet",
           "0..255": "raw"}
DEFAULT_PRESET = "unit"
CHANNEL_ORDERS = ("RGB", "BGR")


def _per_channel(values, channels: int, what: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in (values if isinstance(values, (list, tuple)) else [values]))
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise UserError(f"preprocessing {what} has {len(values)} values; the model takes "
                        f"{channels} channel(s): give 1 or {channels}")
    if not all(np.isfinite(values)):
        raise UserError(f"preprocessing {what} must be finite numbers, got {values}")
    return values


# How an image whose aspect ratio is not the model's becomes the model's size: squashed (resized
# as it is), centre-cropped to the model's aspect first, or padded with black to it first.
FITS = ("squash", "crop", "pad")
DEFAULT_FIT = "squash"


def aspect_region(in_height: int, in_width: int, height: int, width: int, fit: str):
    """Integer geometry of ``fit`` for an image of ``in_height`` x ``in_width`` and a model of
    ``height`` x ``width`` (the Android core computes the same): for ``crop``, (top, left,
    height, width) of the centred region with the model's aspect (widths and heights rounded
    down); for ``pad``, (top, left, height, width) of the canvas the image is placed on at (top,
    left) (rounded up). An image of the model's aspect is left whole."""
    wider, taller = in_width * height > in_height * width, in_width * height < in_height * width
    if fit == "crop" and wider:
        kept = max(1, in_height * width // height)
        return 0, (in_width - kept) // 2, in_height, kept
    if fit == "crop" and taller:
        kept = max(1, in_width * height // width)
        return (in_height - kept) // 2, 0, kept, in_width
    if fit == "pad" and wider:
        canvas = -(-in_width * height // width)
        return (canvas - in_height) // 2, 0, canvas, in_width
    if fit == "pad" and taller:
        canvas = -(-in_height * width // height)
        return 0, (canvas - in_width) // 2, in_height, canvas
    return 0, 0, in_height, in_width


@dataclass(frozen=True)
class Preprocessing:
    """Resize (bilinear, half-pixel centres, no antialiasing) to ``height`` x ``width``, convert
    to ``channels`` (1: a grey pixel keeps its value, any other becomes BT.601 luma
    ``0.299*R + 0.587*G + 0.114*B`` summed left to right; 3: RGB, grey replicated), put the
    colour channels in ``channel_order``, then ``pixel * scale[c] + offset[c]`` per channel,
    every step in float32, NHWC. ``scale`` = 1/std and ``offset`` = -mean/std, each rounded
    once to float32. Pixels are 8-bit (0..255). The Android core (android_demo/core,
    Preprocessing.java) does the same operations in the same order, so both sides produce the
    same bits."""

    height: int
    width: int
    channels: int
    scale: tuple = (1.0 / 255.0,)
    offset: tuple = (0.0,)
    resize: str = "bilinear"
    layout: str = "NHWC"
    channel_order: str = "RGB"
    preset: str | None = None
    mean: tuple | None = None
    std: tuple | None = None
    fit: str = DEFAULT_FIT  # how an image of another aspect ratio meets the model's: FITS

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "scale", tuple(float(np.float32(v)) for v in
                                  _per_channel(self.scale, self.channels, "scale")))
        set_(self, "offset", tuple(float(np.float32(v)) for v in
                                   _per_channel(self.offset, self.channels, "offset")))
        order = str(self.channel_order).upper()
        if order not in CHANNEL_ORDERS:
            raise UserError(f"channel order must be RGB or BGR, got {self.channel_order!r}")
        set_(self, "channel_order", order)
        if self.fit not in FITS:
            raise UserError(f"--resize must be one of {', '.join(FITS)}, got {self.fit!r}")
        for name in ("mean", "std"):
            if getattr(self, name) is not None:
                set_(self, name, _per_channel(getattr(self, name), self.channels, name))

    @classmethod
    def from_mean_std(cls, input_shape, mean, std, channel_order: str = "RGB",
                      preset: str | None = None) -> "Preprocessing":
        """``(pixel - mean) / std`` per channel (pixel units) for a model input of
        (height, width, channels)."""
        height, width, channels = cls._shape(input_shape)
        mean = _per_channel(mean, channels, "mean")
        std = _per_channel(std, channels, "std")
        if any(s == 0 for s in std):
            raise UserError(f"preprocessing std must not be zero, got {std}")
        scale = tuple(1.0 / s for s in std)
        offset = tuple(0.0 - m / s for m, s in zip(mean, std))  # 0.0, never -0.0
        return cls(height, width, channels, scale, offset, channel_order=channel_order,
                   preset=preset, mean=mean, std=std)

    @classmethod
    def preset_for(cls, input_shape, name: str = DEFAULT_PRESET) -> "Preprocessing":
        """The preset called ``name`` (see :data:`PRESETS`; aliases 0..1, -1..1, tf, torch,
        0..255) for a model input of (height, width, channels). A grey model keeps one value:
        the first channel's of a colour preset is not meant for it, so colour presets are
        refused there."""
        key = ALIASES.get(name, name)
        if key not in PRESETS:
            known = ", ".join([*PRESETS, *ALIASES])
            raise UserError(f"unknown preprocessing preset {name!r}; known: {known}")
        mean, std, order, _ = PRESETS[key]
        channels = cls._shape(input_shape)[2]
        if channels == 1 and (len(mean) > 1 or order != "RGB"):
            raise UserError(f"preprocessing preset {key!r} is for colour models; this model "
                            "takes 1 channel")
        return cls.from_mean_std(input_shape, mean, std, order, preset=key)

    @classmethod
    def for_input_shape(cls, input_shape, **overrides) -> "Preprocessing":
        """The default preprocessing (0..1) for a model input of (height, width, channels)."""
        height, width, channels = cls._shape(input_shape)
        if not overrides:
            return cls.preset_for(input_shape, DEFAULT_PRESET)
        return cls(height, width, channels, **overrides)

    @staticmethod
    def _shape(input_shape) -> tuple[int, int, int]:
        height, width, channels = (int(d) for d in input_shape)
        if channels not in (1, 3):
            raise UserError(f"models with {channels} input channels are not supported (1 or 3)")
        return height, width, channels

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels)."""
        return (self.height, self.width, self.channels)

    def mean_std(self) -> tuple[tuple, tuple]:
        """Per-channel mean and std in pixel units (0..255): the input is ``(pixel - mean) /
        std`` (from ``scale`` and ``offset`` where no mean and std were given)."""
        mean = self.mean if self.mean is not None else tuple(-o / s for o, s in zip(self.offset, self.scale))
        std = self.std if self.std is not None else tuple(1 / s for s in self.scale)
        return tuple(float(m) for m in mean), tuple(float(s) for s in std)

    def describe(self) -> str:
        """One line: what the model is fed."""
        mean, std = self.mean_std()
        numbers = "(pixel - {}) / {}".format(*(
            "/".join(f"{v:g}" for v in (values if len(set(values)) > 1 else values[:1]))
            for values in (mean, std)))
        return (f"{self.preset + ': ' if self.preset else ''}{numbers}"
                f"{', BGR' if self.channel_order == 'BGR' and self.channels == 3 else ''}")

    def as_dict(self) -> dict:
        """Plain-JSON form (what ``preprocessing.json`` holds)."""
        return {"height": self.height, "width": self.width, "channels": self.channels,
                "scale": list(self.scale), "offset": list(self.offset), "resize": self.resize,
                "layout": self.layout, "channel_order": self.channel_order,
                "preset": self.preset,
                "mean": list(self.mean) if self.mean is not None else None,
                "std": list(self.std) if self.std is not None else None,
                "fit": self.fit, "formula": self.describe()}

    @classmethod
    def from_dict(cls, values: dict) -> "Preprocessing":
        """Inverse of :meth:`as_dict` (older records with one scale and offset read the same);
        unknown keys are ignored."""
        try:
            return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})
        except (TypeError, ValueError) as exc:
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
        from deploytool.core.keras_env import tf

        if self.fit != "squash" and (pixels.shape[1], pixels.shape[2]) != (self.height, self.width):
            top, left, height, width = aspect_region(pixels.shape[1], pixels.shape[2], self.height,
                                                     self.width, self.fit)
            if self.fit == "crop":
                pixels = pixels[:, top:top + height, left:left + width]
            else:  # pad: the image centred on a black canvas of the model's aspect
                pixels = tf.pad(pixels, [[0, 0], [top, height - pixels.shape[1] - top],
                                         [left, width - pixels.shape[2] - left], [0, 0]])
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
        if self.channels == 3 and self.channel_order == "BGR":
            pixels = pixels[..., ::-1]
        return pixels * np.asarray(self.scale, np.float32) + np.asarray(self.offset, np.float32)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, H, W, C) of any size and 1 or 3 channels -> float32 model input."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise UserError(f"expected images shaped (N, H, W, 1 or 3), got {images.shape}")
        return np.asarray(self.transform(images.astype(np.float32)), np.float32)


def preprocessing_from_options(input_shape, preset: str | None = None, mean=None, std=None,
                               channel_order: str | None = None, fit: str | None = None,
                               default: Preprocessing | None = None) -> Preprocessing | None:
    """The preprocessing a user asked for on the command line: a preset, or explicit per-channel
    ``mean`` and ``std`` in pixel units (a preset's values may be overridden one by one), and a
    channel order, and how an image of another aspect ratio is fitted (``fit``, on top of
    ``default`` or 0..1 when it is all that was asked for); None when nothing was asked for."""
    if preset is None and mean is None and std is None and channel_order is None:
        if fit is None:
            return None
        return replace(default or Preprocessing.for_input_shape(input_shape), fit=fit)
    base = PRESETS[ALIASES.get(preset, preset)] if preset in PRESETS or preset in ALIASES else None
    if preset is not None and base is None:
        Preprocessing.preset_for(input_shape, preset)  # raises: unknown preset
    base = base or PRESETS[DEFAULT_PRESET]
    name = ALIASES.get(preset, preset) if mean is None and std is None and channel_order is None \
        else None
    chosen = Preprocessing.from_mean_std(input_shape, base[0] if mean is None else mean,
                                         base[1] if std is None else std,
                                         channel_order or base[2], preset=name)
    return replace(chosen, fit=fit) if fit else chosen
