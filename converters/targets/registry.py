"""Export targets register themselves: a concrete subclass of :class:`ExportTarget` with a
``name`` is a format ``deploytool convert --to NAME`` writes. Each format is one package here
(``tflite/``, ``onnx/``, ``pb/``) whose ``target`` module defines its target: exporter, debug
hooks, inspection and readers live beside it. :func:`targets` discovers the packages, so a new
format is one package and nothing else to edit; the CLI's choices and flags, convert, verify,
bench, inspect, the matrices and the pipeline all read this registry.

A target owns its options (:class:`TargetOptions`, a typed dataclass): the CLI makes one flag of
each field and the manifest records them (:class:`deploytool.converters.options.ConvertOptions`).

Importing this module imports no TensorFlow: exporters load their libraries when they export.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

from deploytool.core.errors import UserError


def target_option(default, flag: str, help: str, choices: tuple | None = None,
                  bounds: tuple[int, int] | None = None):
    """A field of a :class:`TargetOptions` dataclass: its default, the CLI ``flag`` that sets it
    (a bool field is an on/off switch), the flag's help and, for a string, its ``choices``, for
    an integer its inclusive ``bounds``."""
    return field(default=default, metadata={"flag": flag, "help": help, "choices": choices,
                                            "bounds": bounds})


@dataclass(frozen=True)
class TargetOptions:
    """The settings only one format has (a subclass per target, fields made with
    :func:`target_option`). Plain JSON both ways: :meth:`to_record` and :meth:`from_record`."""

    def to_record(self) -> dict:
        """Plain-JSON form, one key per field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> "TargetOptions":
        """The options a :meth:`to_record` dict holds (absent or null keys take their
        defaults)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in (record or {}).items()
                      if key in names and value is not None})

    @classmethod
    def flags(cls) -> dict[str, dataclasses.Field]:
        """The CLI flag of every field -> the field."""
        return {f.metadata["flag"]: f for f in dataclasses.fields(cls)}


@dataclass
class Exported:
    """What an exporter wrote: the artifact's bytes and any companion files (suffix -> bytes)."""

    data: bytes
    side_files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelDescription:
    """What a file's own metadata can say about the model it holds (for the libraries phone
    apps run models with): its name, a sentence, a version, the preprocessing its input
    expects, each output's kind in the file's order, the labels of the output they name, and
    the file's precision and input layout."""

    name: str
    summary: str
    version: str
    preprocessing: object  # deploytool.core.preprocessing.Preprocessing
    outputs: dict  # output name -> kind (scores, regression, embedding, dense)
    labels: list | None  # the class names of the first output of kind scores, one per value
    postprocess: str | None  # what the file's scores still need (softmax, sigmoid) or None
    precision: str
    input_layout: str = "NHWC"


class ExportTarget(abc.ABC):
    """One export format. Subclasses set the class attributes and implement :meth:`export`,
    :meth:`exporter` and :meth:`inspect`; a subclass with a ``name`` registers itself when it is
    defined, and one that leaves an abstract method out fails right there."""

    name = ""  # the --to value
    label = ""  # how tables call it ("TFLite")
    suffix = ""  # the artifact's file suffix
    order = 100  # where tables, the CLI and the pipeline list it
    precisions: tuple[str, ...] = ("fp32",)  # what --fp16/--dynamic/--int8 this format offers
    runtime = ""  # the runtime the format is made for: failing there is a failure, never "n/a"
    calibration_methods: tuple[str, ...] = ("minmax",)  # int8 calibrators this format offers
    quantization_aware = False  # whether --qat (tfmot fine-tuning) exports to this format
    options_type: type[TargetOptions] = TargetOptions  # the settings only this format has
    registry: dict[str, "ExportTarget"] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            missing = sorted(name for name in ExportTarget.__abstractmethods__
                             if getattr(getattr(cls, name), "__isabstractmethod__", False))
            if missing:
                raise TypeError(f"export target {cls.__name__} leaves out the abstract method(s) "
                                f"{', '.join(missing)}")
            ExportTarget.registry[cls.name] = cls()

    @abc.abstractmethod
    def export(self, model, precision: str, calibration, options, reuse=None) -> Exported:
        """The serialized artifact of ``model`` (already stripped, folded and simplified);
        ``options`` is the whole :class:`~deploytool.converters.options.ConvertOptions`;
        ``reuse`` (a :class:`~deploytool.core.reuse.Reuse`, or None) holds what the
        conversions of one search share (a float export, calibration statistics)."""

    def quantized_from(self, reuse) -> bytes | None:
        """The float model the int8 files of a search were quantized from, as ``reuse`` holds
        it (the twin `diagnose` compares their layers with), or None."""
        return None

    def same_preparation(self, options):
        """``options`` with the settings that do not change the prepared model set as another
        conversion's would be, so that conversions differing only in them share one (TFLite: an
        int8 file's float input and output)."""
        return options

    @abc.abstractmethod
    def exporter(self, keras3: bool) -> str:
        """The converter entry point a model goes through (for the manifest), on the tf_keras
        path or, with ``keras3``, through the Keras 3 model itself."""

    @abc.abstractmethod
    def inspect(self, path) -> dict:
        """Tensors, op histogram and weight bytes of an artifact, parsed without TensorFlow
        (a damaged file is a one-line error)."""

    def activations(self, float_artifact: bytes, artifact: bytes, images, options) -> list:
        """Every quantized activation of ``artifact`` next to the same tensor of the float
        artifact of the same model (:class:`deploytool.core.quant_errors.TensorStats`), in
        depth order, and the names of the quantized tensors the float artifact has no twin of;
        a format without quantized activations has none to show."""
        raise UserError(f"{self.label} artifacts have no per-layer quantization to diagnose")

    def tensors(self, artifact: bytes, images, options) -> dict:
        """Every intermediate output of ``artifact`` on its own runtime over ``images`` (NHWC
        float32), {name: (op, values (N, ...))} in execution order, named as OpenCV's importer
        names the layer that computes it (for comparing runtimes layer by layer)."""
        raise UserError(f"{self.label} artifacts cannot be compared layer by layer")

    def keep_float_closure(self, artifact: bytes, tensors: list[str]) -> list[str]:
        """What ``options.keep_float`` must name so that ``tensors`` stay float (the exporter may
        add producers and consumers itself)."""
        return list(tensors)

    def float_edges(self, options):
        """``options`` with the model's input and output in float where the format would make
        them int8 (the accuracy budget keeps them in float along with any layer it keeps)."""
        return options

    def budget_variants(self, options) -> list[tuple[str, object]]:
        """(label, options) of the int8 variants this format offers that cost nothing in speed
        to speak of, for the accuracy budget to try before keeping layers in float (the
        calibrators are tried for every format)."""
        return []

    def graph_rewrites(self, options) -> list:
        """Exact ``model -> (model, report)`` passes this format wants before export with these
        ``options`` (a runtime's fast path), run on the tf_keras path after the shared passes."""
        return []

    def check(self, options) -> None:
        """Refuse settings this format cannot honour (beyond the precision), with the alternative."""

    def prepare_source(self, source, options, log):
        """The model source as these ``options`` need it before calibration and the passes (a
        model that takes pixels where the file's input must mean pixels); default: as it is."""
        return source

    def input_layout(self, options) -> str:
        """The layout of the artifact's input as its own runtime takes it."""
        return "NHWC"

    def input_name(self, runner) -> str:
        """The input tensor's name, as a runtime feeding it by name needs it."""
        return runner.inputs[0].name

    def describe(self, exported: Exported, about: ModelDescription, log) -> tuple[Exported, dict | None]:
        """The exported file with ``about`` written into it as the format's own metadata, and
        the manifest's record of what was written (None: the format has no metadata here)."""
        return exported, None


@functools.cache
def _import_target_packages() -> None:
    """Import each sub-package's ``target`` module, which registers its target (once a process)."""
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.ispkg:
            importlib.import_module(f"{__package__}.{info.name}.target")


def targets() -> dict[str, ExportTarget]:
    """Every registered target by name, in their ``order``: the built-in packages' targets and
    any subclass defined since."""
    _import_target_packages()
    return dict(sorted(ExportTarget.registry.items(), key=lambda item: item[1].order))


def target(name: str) -> ExportTarget:
    """The target called ``name``, or a one-line error listing them."""
    known = targets()
    if name not in known:
        raise UserError(f"unknown target {name!r}; choose {', '.join(sorted(known))}")
    return known[name]


def target_for(path) -> ExportTarget | None:
    """The target whose artifacts have ``path``'s suffix, or None."""
    suffix = Path(path).suffix.lower()
    return next((t for t in targets().values() if t.suffix == suffix), None)


def artifact_kinds() -> list[tuple[str, str, str]]:
    """(label, target, precision) of every artifact kind the targets offer, in registry order."""
    return [(f"{t.label} {precision}", t.name, precision)
            for t in targets().values() for precision in t.precisions]


def calibration_methods() -> list[str]:
    """Every int8 calibrator some target offers, in registry order."""
    return list(dict.fromkeys(m for t in targets().values() for m in t.calibration_methods))
