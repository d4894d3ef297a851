"""The ONNX target: tf2onnx's graph (int8: ONNX Runtime's static QDQ quantizer), run by ONNX
Runtime (and OpenCV's ONNX importer)."""

from __future__ import annotations

from dataclasses import dataclass

from deploytool.converters.targets.onnx.inputs import INPUT_NAME
from deploytool.converters.targets.registry import (ExportTarget, Exported, TargetOptions,
                                                    target_option)

DEFAULT_OPSET = 17


@dataclass(frozen=True)
class OnnxOptions(TargetOptions):
    """Settings only an .onnx has."""

    opset: int = target_option(DEFAULT_OPSET, "--opset", "Opset.", bounds=(11, 21))
    nchw_input: bool = target_option(False, "--nchw", "Take NCHW input (for runtimes that want it).")
    free_size: bool = target_option(
        False, "--free-size", "Keep the input's height and width free, as in the model file "
        "(which must leave them free; --input-shape is the size checked, and a second size is "
        "checked too).")


class OnnxTarget(ExportTarget):
    """ONNX through tf2onnx (int8: ONNX Runtime's static QDQ quantizer); runs on ONNX Runtime
    (and OpenCV's ONNX importer)."""

    name = "onnx"
    label = "ONNX"
    suffix = ".onnx"
    order = 2
    precisions = ("fp32", "int8")
    runtime = "onnxruntime"
    calibration_methods = ("minmax", "percentile", "entropy")
    options_type = OnnxOptions

    def exporter(self, keras3: bool) -> str:
        return ("tf2onnx.convert.from_graph_def (Keras 3 inference function, frozen)" if keras3
                else "tf2onnx.convert.from_keras")

    def inspect(self, path) -> dict:
        from deploytool.converters.targets.onnx.inspect import inspect_onnx

        return inspect_onnx(path)

    def export(self, model, precision, calibration, options, reuse=None) -> Exported:
        """tf2onnx's graph, made once per model and settings (``reuse``'s ``onnx_export``);
        int8: quantized with ranges calibrated once per graph, images and method (``reuse``'s
        ``onnx_calibration``, a file ONNX Runtime writes and then reads)."""
        from deploytool.converters.targets.onnx.export import export_onnx
        from deploytool.converters.targets.onnx.quantize import quantize_onnx_int8
        from deploytool.core.reuse import made_once

        settings = options.target_options

        def exported():
            free = model
            if settings.free_size:
                from deploytool.sources.input_size import with_free_size

                free = with_free_size(model)
            return export_onnx(free, settings.opset, settings.nchw_input)

        proto = made_once(reuse, "onnx_export", (id(model), settings), exported)
        if precision == "int8":
            ranges = None
            if reuse is not None:
                ranges, _ = reuse.path("onnx_calibration", (id(proto), id(calibration),
                                                            options.calibration_method), ".json")
            proto = quantize_onnx_int8(proto, calibration.images, settings.nchw_input,
                                       method=options.calibration_method,
                                       keep_float=options.keep_float, ranges=ranges)
        return Exported(proto.SerializeToString(deterministic=True))

    def quantized_from(self, reuse) -> bytes | None:
        """tf2onnx's float graph, as the quantizer was given it."""
        proto = reuse.first("onnx_export")
        return proto.SerializeToString() if proto is not None else None

    def describe(self, exported, about, log):
        """metadata_props: the spec's image keys and deploytool's own (:mod:`.metadata`)."""
        from deploytool.converters.targets.onnx.metadata import with_metadata

        data, record = with_metadata(exported.data, about)
        return Exported(data, exported.side_files), record

    def activations(self, float_artifact: bytes, artifact: bytes, images, options):
        from deploytool.converters.targets.onnx.debug import onnx_activations

        return onnx_activations(float_artifact, artifact, images, options.target_options.nchw_input)

    def tensors(self, artifact: bytes, images, options) -> dict:
        from deploytool.converters.targets.onnx.tensors import onnx_tensors

        return onnx_tensors(artifact, images, options.target_options.nchw_input)

    def input_layout(self, options) -> str:
        return "NCHW" if options.target_options.nchw_input else "NHWC"

    def input_name(self, runner) -> str:
        return INPUT_NAME
