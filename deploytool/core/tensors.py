"""Tensors as every part of deploytool describes them: a model input or output
(:class:`TensorInfo`), and the conversion between float values and a quantized tensor's integers.
The rounding rule is half away from zero (TFLite's and Java's Math.round for positives), applied
the same way everywhere: runners, the int8 diagnosis and the Android bundle's golden samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: name, shape (-1 or None for a free dimension), dtype, and the
    quantization scale and zero point (scale 0 for float tensors)."""

    name: str
    shape: tuple
    dtype: str
    scale: float = 0.0
    zero_point: int = 0

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"name": self.name, "shape": [None if d is None or d < 0 else int(d) for d in self.shape],
                "dtype": self.dtype, "scale": self.scale, "zero_point": self.zero_point}


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves away from zero."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def quantize(values: np.ndarray, info: TensorInfo) -> np.ndarray:
    """Float -> the tensor's integer type with its scale and zero point (saturating)."""
    limits = np.iinfo(info.dtype)
    q = round_half_away(values / info.scale) + info.zero_point
    return np.clip(q, limits.min, limits.max).astype(info.dtype)


def dequantize(values: np.ndarray, info: TensorInfo) -> np.ndarray:
    """The tensor's integers -> float32 with its scale and zero point."""
    return ((values.astype(np.float32) - info.zero_point) * info.scale).astype(np.float32)


def tensor_entry(name, shape, dtype, scale=None, zero_point=None) -> dict:
    """A tensor as `deploytool inspect` reports it: name, shape, dtype and, when quantized, its
    scale and zero point."""
    entry = {"name": name, "shape": shape, "dtype": dtype}
    if scale is not None:
        entry["quantization"] = {"scale": scale, "zero_point": zero_point}
    return entry
