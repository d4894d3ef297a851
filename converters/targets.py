"""Export targets register themselves: a subclass of :class:`ExportTarget` with a ``name`` is a
format ``deploytool convert --to NAME`` writes. The CLI's choices, convert, verify, bench,
inspect, the matrix and the pipeline all read this registry, so a new format is one exporter
file (plus, if no runtime reads it yet, one runner file).

Importing this module imports no TensorFlow: exporters load their libraries when they export.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from deploytool.errors import UserError

# the modules whose import registers the built-in targets
BUILTIN_TARGETS = ("converters.tflite_export", "converters.onnx_export", "converters.pb_export")
PRECISIONS = ("fp32", "fp16", "dynamic", "int8")


@dataclass
class Exported:
    """What an exporter wrote: the artifact's bytes and any companion files (suffix -> bytes)."""

    data: bytes
    side_files: dict[str, bytes] = field(default_factory=dict)


class ExportTarget:
    """One export format. Subclasses set the class attributes and implement :meth:`export`."""

    name = ""  # the --to value
    label = ""  # how tables call it ("TFLite")
    suffix = ""  # the artifact's file suffix
    precisions: tuple[str, ...] = ("fp32",)  # what --fp16/--dynamic/--int8 this format offers
    runtime = ""  # the runtime the format is made for: failing there is a failure, never "n/a"
    calibration_methods: tuple[str, ...] = ("minmax",)  # int8 calibrators this format offers
    registry: dict[str, "ExportTarget"] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            ExportTarget.registry[cls.name] = cls()

    def export(self, model, precision: str, calibration, options) -> Exported:
        """The serialized artifact of ``model`` (already stripped, folded and simplified)."""
        raise NotImplementedError

    def exporter(self, keras3: bool) -> str:
        """The converter entry point a model goes through (for the manifest), on the tf_keras
        path or, with ``keras3``, through the Keras 3 model itself."""
        return ""

    def inspect(self, path) -> dict:
        """Tensors, op histogram and weight bytes of an artifact, parsed without TensorFlow
        (a damaged file is a one-line error)."""
        raise NotImplementedError

    def activations(self, float_artifact: bytes, artifact: bytes, images, options) -> list:
        """Every quantized activation of ``artifact`` next to the same tensor of the float
        artifact of the same model (:class:`deploytool.quant_errors.TensorActivations`), in
        depth order; a format without quantized activations has none to show."""
        raise UserError(f"{self.label} artifacts have no per-layer quantization to diagnose")

    def keep_float_closure(self, artifact: bytes, tensors: list[str]) -> list[str]:
        """What ``options.keep_float`` must name so that ``tensors`` stay float (the exporter may
        add producers and consumers itself)."""
        return list(tensors)

    def check(self, options) -> None:
        """Refuse settings this format cannot honour (beyond the precision), with the alternative."""

    def input_layout(self, options) -> str:
        """The layout of the artifact's input as its own runtime takes it."""
        return "NHWC"

    def input_name(self, runner) -> str:
        """The input tensor's name, as a runtime feeding it by name needs it."""
        return runner.inputs[0].name


def targets() -> dict[str, ExportTarget]:
    """Every registered target by name (the built-in ones loaded)."""
    for module in BUILTIN_TARGETS:
        importlib.import_module(module)
    return dict(ExportTarget.registry)


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
