"""The runner interface: load an artifact, describe its input and outputs, infer on float NHWC
images.

Every runner takes and returns float32: images (N, H, W, C) normalised as the preprocessing record
says; every output of the artifact, by its name (deploytool's exporters give each output the
name of the Keras output it computes), as (N, ...) arrays. Quantized inputs and outputs are converted with the model's own scale
and zero point; the rounding rule is half away from zero (TFLite's and Java's Math.round for
positives), applied the same way everywhere.
"""

from __future__ import annotations

import abc
import functools
import importlib
import pkgutil
import time
from pathlib import Path

import numpy as np

from deploytool.core.errors import ArtifactMismatch, UserError
from deploytool.core.tensors import TensorInfo

DEFAULT_THREADS = 2  # the CPU threads a runtime may use, unless told otherwise


class Runner(abc.ABC):
    """Base class: subclasses set ``name``, the artifact suffixes they ``read`` and their
    ``variants`` (constructor options to try in turn, e.g. OpenCV's engines), and implement
    :meth:`_load` and :meth:`_run` (and :meth:`_prepare` / :meth:`_finish` where the runtime's
    input or output needs converting). A subclass registers itself by its name."""

    name = "runner"
    label = "runner"  # how tables call it
    order = 100  # where tables and --backend's choices list it
    reads: tuple[str, ...] = ()
    variants: tuple[dict, ...] = ({},)
    environment: str | None = None  # the environment of its own it runs in (core.environments)
    takes_pixels = False  # fed 8-bit images and preprocesses them itself (a client library)
    emulated = False  # runs on an emulated CPU: its timings are not the real CPU's
    compared_with: str | None = None  # a runtime whose outputs it must equal, value for value
    registry: dict[str, type] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name != "runner":
            missing = sorted(name for name in Runner.__abstractmethods__
                             if getattr(getattr(cls, name), "__isabstractmethod__", False))
            if missing:
                raise TypeError(f"runner {cls.__name__} leaves out the abstract method(s) "
                                f"{', '.join(missing)}")
            Runner.registry[cls.name] = cls

    def __init__(self, path, threads: int = DEFAULT_THREADS):
        self.path = Path(path)
        self.threads = threads
        self.inputs: list[TensorInfo] = []
        self.outputs: list[TensorInfo] = []
        self._loaded = False

    @classmethod
    def variant_name(cls, options: dict) -> str | None:
        """How reports call the variant made with constructor ``options`` (OpenCV's engine)."""
        return options.get("engine")

    @classmethod
    def layer_in_log(cls, log: str) -> str | None:
        """The layer a failed child run's own log (its stderr) names, in a few words ("at layer
        NAME (TYPE ...)"), for a runtime that logs more than its error says; None by default."""
        return None

    def load(self) -> "Runner":
        """Load the artifact (once); fills :attr:`inputs` and :attr:`outputs`. An artifact that
        gives two outputs one name is refused (:class:`ArtifactMismatch`): its outputs could
        not be told apart, and one would silently stand for the other."""
        if not self._loaded:
            self._check_source()
            self._load()
            names = [info.name for info in self.outputs]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ArtifactMismatch(f"{self.path.name}: {len(names)} outputs, named "
                                       f"{', '.join(names)}: {', '.join(repeated)} names several "
                                       "of them, which cannot be told apart")
            self._loaded = True
        return self

    def _check_source(self) -> None:
        """Refuse a missing artifact before any runtime opens it."""
        if not self.path.exists():
            raise UserError(f"{self.path}: no such file")

    @property
    @abc.abstractmethod
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) the runner expects its NHWC images to have (None where the
        model takes any size)."""

    def _checked(self, images: np.ndarray) -> np.ndarray:
        self.load()
        images = np.asarray(images, np.float32)
        fits = images.ndim == 4 and all(want in (None, -1) or have == want
                                        for have, want in zip(images.shape[1:], self.input_shape))
        if not fits:
            raise UserError(f"{self.path.name}: expected images shaped (N, "
                            f"{', '.join(map(str, self.input_shape))}), got {images.shape}")
        return images

    def infer_all(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Every output for NHWC float32 images: {name: float32 (N, ...)}, in the artifact's
        order."""
        images = self._checked(images)
        return self._finish(self._run(self._prepare(images)), len(images))

    def infer(self, images: np.ndarray) -> np.ndarray:
        """The artifact's one output as float32 (N, values) for NHWC float32 images; an artifact
        with several outputs is a one-line error (read them with :meth:`infer_all`)."""
        outputs = self.infer_all(images)
        if len(outputs) != 1:
            raise UserError(f"{self.path.name} has {len(outputs)} outputs ({', '.join(outputs)}); "
                            "this step reads models with one output")
        (values,) = outputs.values()
        return values.reshape(len(values), -1)

    def time_inference(self, images: np.ndarray, runs: int = 20, warmup: int = 3,
                       min_seconds: float = 0.0) -> list[float]:
        """Seconds per runtime call on one batch, after ``warmup`` calls: ``runs`` calls, or more
        until they add up to ``min_seconds`` (a model that runs in microseconds needs thousands
        of calls before two medians can be told apart). Input conversion (quantizing,
        transposing) is done once beforehand, as when calling the runtime by hand."""
        prepared = self._prepare(self._checked(images))
        for _ in range(warmup):
            self._run(prepared)
        timings = []
        while len(timings) < runs or sum(timings) < min_seconds:
            start = time.perf_counter()
            self._run(prepared)
            timings.append(time.perf_counter() - start)
        return timings

    def profile(self, images: np.ndarray, runs: int = 20) -> list[dict]:
        """Where the time of a batch-1 call goes: [{"name", "op", "ms"}] per operator (or layer),
        the median of ``runs`` calls on ``images[:1]`` after one warm-up (a call the OS or a
        thread pool stalls does not tilt it), in execution order. A
        runtime that cannot report it raises a :class:`UserError` saying why."""
        raise UserError(f"{self.label} reports no per-operator times")

    @abc.abstractmethod
    def _load(self):
        """Open the artifact with the runtime and fill :attr:`inputs` and :attr:`outputs`."""

    def _prepare(self, images):
        """Images in the form the runtime takes (default: as they are)."""
        return images

    @abc.abstractmethod
    def _run(self, prepared):
        """One runtime call on prepared input; returns the raw outputs, one array (N, ...) per
        entry of :attr:`outputs`, in that order."""

    def _finish(self, raw, count: int) -> dict[str, np.ndarray]:
        """The runtime's raw outputs as float32 (count, ...) arrays by output name."""
        return {info.name: np.asarray(values, np.float32).reshape(count, *np.shape(values)[1:])
                for info, values in zip(self.outputs, raw)}


@functools.cache
def _import_runner_modules() -> None:
    """Import each ``*_runner`` module of this package, which registers its runner (once a
    process), so a new runtime is one module here and nothing else to edit."""
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.endswith("_runner"):
            importlib.import_module(f"{__package__}.{info.name}")


def runners() -> dict[str, type]:
    """Every registered runner class by name, in their ``order`` (Keras first)."""
    _import_runner_modules()
    return dict(sorted(Runner.registry.items(), key=lambda item: item[1].order))


def artifact_runtimes() -> list[str]:
    """Names of the runtimes that run exported artifacts (every runner but the Keras reference)."""
    return [name for name, cls in runners().items() if cls.reads]


def runtimes_reading(path) -> list[str]:
    """Names of the runtimes that read ``path``'s kind of artifact, its own runtime first."""
    from deploytool.converters.targets.registry import target_for

    suffix = Path(path).suffix.lower()
    names = [name for name, cls in runners().items() if suffix in cls.reads]
    own = target_for(path)
    return sorted(names, key=lambda name: name != (own.runtime if own else None))


def runner_for(path, backend: str | None = None, threads: int = DEFAULT_THREADS,
               **options) -> Runner:
    """The runner for an artifact: by ``backend`` name (``options`` go to its constructor, e.g.
    ``engine`` for OpenCV) or, when None, the runtime the file's format is made for (Keras files:
    the Keras runner)."""
    from deploytool.converters.targets.registry import target_for

    known = runners()
    if backend is None:
        own = target_for(path)
        backend = own.runtime if own else "keras"
    if backend not in known:
        raise UserError(f"unknown backend {backend!r}; known: {', '.join(sorted(known))}")
    return known[backend](path, threads=threads, **options)
