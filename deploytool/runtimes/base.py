"""The runner interface: load an artifact, describe its input/output, infer on float NHWC images.

Every runner takes and returns float32: images (N, H, W, C) normalised as the preprocessing record
says, outputs (N, classes). Quantized inputs and outputs are converted with the model's own scale
and zero point; the rounding rule is half away from zero (TFLite's and Java's Math.round for
positives), applied the same way everywhere.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError


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


class Runner(abc.ABC):
    """Base class: subclasses set ``name``, the artifact suffixes they ``read`` and their
    ``variants`` (constructor options to try in turn, e.g. OpenCV's engines), and implement
    :meth:`_load` and :meth:`_run` (and :meth:`_prepare` / :meth:`_finish` where the runtime's
    input or output needs converting). A subclass registers itself by its name."""

    name = "runner"
    label = "runner"  # how tables call it
    reads: tuple[str, ...] = ()
    variants: tuple[dict, ...] = ({},)
    registry: dict[str, type] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name != "runner":
            Runner.registry[cls.name] = cls

    def __init__(self, path, threads: int = 2):
        self.path = Path(path)
        self.threads = threads
        self.inputs: list[TensorInfo] = []
        self.outputs: list[TensorInfo] = []
        self._loaded = False

    def load(self) -> "Runner":
        """Load the artifact (once); fills :attr:`inputs` and :attr:`outputs`."""
        if not self._loaded:
            self._check_source()
            self._load()
            self._loaded = True
        return self

    def _check_source(self) -> None:
        """Refuse a missing artifact before any runtime opens it."""
        if not self.path.exists():
            raise UserError(f"{self.path}: no such file")

    @property
    @abc.abstractmethod
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) the runner expects its NHWC images to have."""

    def _checked(self, images: np.ndarray) -> np.ndarray:
        self.load()
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(self.input_shape):
            raise UserError(f"{self.path.name}: expected images shaped (N, "
                            f"{', '.join(map(str, self.input_shape))}), got {images.shape}")
        return images

    def infer(self, images: np.ndarray) -> np.ndarray:
        """Float32 outputs (N, classes) of the artifact's first output for NHWC float32 images."""
        images = self._checked(images)
        return self._finish(self._run(self._prepare(images)), len(images))

    def time_inference(self, images: np.ndarray, runs: int = 20, warmup: int = 3) -> list[float]:
        """Seconds per runtime call on one batch, after ``warmup`` calls. Input conversion
        (quantizing, transposing) is done once beforehand, as when calling the runtime by hand."""
        prepared = self._prepare(self._checked(images))
        for _ in range(warmup):
            self._run(prepared)
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            self._run(prepared)
            timings.append(time.perf_counter() - start)
        return timings

    @abc.abstractmethod
    def _load(self):
        """Open the artifact with the runtime and fill :attr:`inputs` and :attr:`outputs`."""

    def _prepare(self, images):
        """Images in the form the runtime takes (default: as they are)."""
        return images

    @abc.abstractmethod
    def _run(self, prepared):
        """One runtime call on prepared input; returns the raw output."""

    def _finish(self, raw, count: int) -> np.ndarray:
        """The runtime's raw output as float32 (count, classes)."""
        return np.asarray(raw, np.float32).reshape(count, -1)


# the modules whose import registers the built-in runners
BUILTIN_RUNNERS = ("keras_runner", "tflite_runner", "onnxruntime_runner", "opencv_runner",
                   "tensorflow_runner")


def runners() -> dict[str, type]:
    """Every registered runner class by name (the built-in ones loaded)."""
    import importlib

    for module in BUILTIN_RUNNERS:
        importlib.import_module(f"{__package__}.{module}")
    return dict(Runner.registry)


def artifact_runtimes() -> list[str]:
    """Names of the runtimes that run exported artifacts (every runner but the Keras reference)."""
    return [name for name, cls in runners().items() if cls.reads]


def runtimes_reading(path) -> list[str]:
    """Names of the runtimes that read ``path``'s kind of artifact, its own runtime first."""
    from converters.targets import target_for

    suffix = Path(path).suffix.lower()
    names = [name for name, cls in runners().items() if suffix in cls.reads]
    own = target_for(path)
    return sorted(names, key=lambda name: name != (own.runtime if own else None))


def runner_for(path, backend: str | None = None, threads: int = 2, **options) -> Runner:
    """The runner for an artifact: by ``backend`` name (``options`` go to its constructor, e.g.
    ``engine`` for OpenCV) or, when None, the runtime the file's format is made for (Keras files:
    the Keras runner)."""
    from converters.targets import target_for

    known = runners()
    if backend is None:
        own = target_for(path)
        backend = own.runtime if own else "keras"
    if backend not in known:
        raise UserError(f"unknown backend {backend!r}; known: {', '.join(sorted(known))}")
    return known[backend](path, threads=threads, **options)
