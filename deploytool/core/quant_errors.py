"""Per-layer quantization error, one computation for every format.

Each target's debugger (converters/targets/tflite/debug.py, converters/targets/onnx/debug.py) feeds, image by
image and for every quantized activation tensor in execution order, the float model's values of
that tensor and the quantized model's (dequantized) values into a :class:`TensorStats`, which keeps
running sums only (a ResNet-50's activations for a few dozen images do not fit in memory). From
those:

- **own error**: the float values put through that tensor's own quantization (round to the scale
  half away from zero, as :mod:`deploytool.core.tensors` rounds, clamp to the integer range) against themselves, the noise this one tensor adds; per channel (the
  last axis), so that a range dominated by one channel shows as the others drowning, then averaged
  in dB;
- **accumulated error**: the quantized model's values against the float model's, everything
  upstream included;
- **what kind of problem** it looks like: outlier channels or values dominating the range, a float
  output near zero next to the quantization step, saturation at the integer limits.

A tensor of a reduced-precision float model (fp16, dynamic range) has scale 0: it has no
quantization of its own, only the accumulated error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from deploytool.core.tensors import round_half_away

SNR_CAP_DB = 120.0  # a tensor quantized without loss would have an infinite SNR
SAMPLE_PER_IMAGE = 4096  # magnitudes kept per image for the percentile of the outlier test


def snr_db(power: float, noise: float) -> float:
    """10 log10(signal power / noise power), capped at :data:`SNR_CAP_DB`."""
    if noise <= 0.0:
        return SNR_CAP_DB
    if power <= 0.0:
        return -SNR_CAP_DB
    return float(np.clip(10.0 * np.log10(power / noise), -SNR_CAP_DB, SNR_CAP_DB))


def _cosine(dot: float, norm_a: float, norm_b: float) -> float:
    if norm_a == 0.0 or norm_b == 0.0:
        return 1.0 if norm_a == norm_b else 0.0
    return float(dot / np.sqrt(norm_a * norm_b))


@dataclass
class TensorStats:
    """Running sums over the images of one activation tensor, float against quantized."""

    name: str  # the tensor name (what the target's keep-in-float option takes)
    op: str  # the operator producing it
    scale: float  # 0 for a float tensor of a reduced-precision float model
    zero_point: int = 0
    qmin: int = -128
    qmax: int = 127
    node: str | None = None  # the producing node, where the format names nodes
    _sums: dict = field(default_factory=dict, repr=False)
    _sample: list = field(default_factory=list, repr=False)

    def add(self, float_values: np.ndarray, quant_values: np.ndarray) -> None:
        """One image's values of this tensor (channels last), float and dequantized."""
        f = np.asarray(float_values, np.float64)
        channels = f.shape[-1] if f.ndim else 1
        f = f.reshape(-1, channels)
        q = np.asarray(quant_values, np.float64).reshape(f.shape)
        # the tensor's own quantization, by the rounding rule of core.tensors (before clamping)
        raw = round_half_away(f / self.scale) + self.zero_point if self.scale else None
        own = (np.clip(raw, self.qmin, self.qmax) - self.zero_point) * self.scale \
            if self.scale else f
        sums = {
            "channel_power": (f ** 2).sum(0), "channel_own_noise": ((f - own) ** 2).sum(0),
            "channel_max": np.abs(f).max(0), "power": (f ** 2).sum(), "own_noise": ((f - own) ** 2).sum(),
            "own_dot": (f * own).sum(), "own_power": (own ** 2).sum(), "noise": ((f - q) ** 2).sum(),
            "dot": (f * q).sum(), "quant_power": (q ** 2).sum(), "sum": f.sum(), "count": f.size,
            "saturated": 0 if raw is None else int(((raw < self.qmin) | (raw > self.qmax)).sum()),
        }
        for key, value in sums.items():
            if key == "channel_max":
                self._sums[key] = np.maximum(self._sums.get(key, value), value)
            else:
                self._sums[key] = self._sums.get(key, 0) + value
        flat = np.abs(f).ravel()
        step = max(1, flat.size // SAMPLE_PER_IMAGE)
        self._sample.append(flat[::step])

    def figures(self) -> dict:
        """SNR (dB) and cosine of the tensor's own quantization and of the accumulated error."""
        s = self._sums
        active = s["channel_power"] > 0
        channel_snr = [snr_db(p, n) for p, n in zip(s["channel_power"][active],
                                                    s["channel_own_noise"][active])] or [SNR_CAP_DB]
        return {"own_snr_db": float(np.mean(channel_snr)), "own_worst_channel_snr_db": float(min(channel_snr)),
                "own_cosine": _cosine(s["own_dot"], s["power"], s["own_power"]),
                "accumulated_snr_db": snr_db(s["power"], s["noise"]),
                "accumulated_cosine": _cosine(s["dot"], s["power"], s["quant_power"])}

    def problems(self) -> list[str]:
        """What kind of quantization problem this tensor shows, where one can be told."""
        if not self.scale:
            return []
        s, found = self._sums, []
        ranges = s["channel_max"]
        typical = float(np.median(ranges))
        if len(ranges) > 1 and typical > 0 and ranges.max() / typical > 20:
            wide = np.flatnonzero(ranges / typical > 20)
            found.append(f"outlier channels: channel{'s' if len(wide) > 1 else ''} "
                         f"{', '.join(map(str, wide[:5]))} reach {ranges.max():.3g} while the "
                         f"median channel stays under {typical:.3g}; one per-tensor int8 step "
                         f"({self.scale:.3g}) crushes the others")
        magnitudes = np.concatenate(self._sample)
        bulk = float(np.percentile(magnitudes, 99.0)) if magnitudes.size else 0.0
        if not found and bulk > 0 and ranges.max() / bulk > 20:
            found.append(f"outliers: the range reaches {ranges.max():.3g} while 99% of values stay "
                         f"under {bulk:.3g}, so the int8 step ({self.scale:.3g}) is coarse for "
                         "almost everything")
        mean = s["sum"] / s["count"]
        spread = float(np.sqrt(max(s["power"] / s["count"] - mean ** 2, 0.0)))
        if spread < 2 * self.scale:
            found.append(f"near zero: the float output's spread ({spread:.3g}) is under two int8 "
                         f"steps ({self.scale:.3g})")
        saturated = s["saturated"] / s["count"]
        if saturated > 0.01:
            found.append(f"saturation: {saturated:.1%} of the float values fall outside the int8 range")
        return found


@dataclass
class LayerError:
    """The figures of one tensor, in depth order."""

    depth: int
    name: str
    op: str
    scale: float
    own_snr_db: float
    own_worst_channel_snr_db: float
    own_cosine: float
    accumulated_snr_db: float
    accumulated_cosine: float
    problems: list[str] = field(default_factory=list)
    node: str | None = None

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def layer_errors(tensors: list[TensorStats]) -> list[LayerError]:
    """The figures of every tensor that saw data, in the order given (depth)."""
    return [LayerError(depth, t.name, t.op, float(t.scale), **t.figures(), problems=t.problems(),
                       node=t.node) for depth, t in enumerate(tensors) if t._sums]


def costliest(rows: list[LayerError], count: int = 3) -> list[LayerError]:
    """The layers whose own quantization costs most: lowest mean per-channel SNR first (float
    tensors of fp16/dynamic models, which have none, by their accumulated error)."""
    quantized = [row for row in rows if row.scale]
    if quantized:
        return sorted(quantized, key=lambda row: row.own_snr_db)[:count]
    return sorted(rows, key=lambda row: row.accumulated_snr_db)[:count]
