"""The TFLite target: TFLiteConverter's flatbuffer, run by LiteRT (and OpenCV's TFLite importer)."""

from __future__ import annotations

from dataclasses import dataclass

from deploytool.converters.targets.registry import (ExportTarget, Exported, TargetOptions,
                                                    target_option)


@dataclass(frozen=True)
class TFLiteOptions(TargetOptions):
    """Settings only a .tflite has."""

    int8_io: str = target_option("int8", "--int8-io", "Input/output type of a full-int8 model; "
                                 "uint8 takes 8-bit pixels as they are (the normalization goes "
                                 "into the graph), as MediaPipe Tasks and the Task Library feed "
                                 "them.", choices=("int8", "uint8", "float"))
    rgb_input: bool = target_option(False, "--rgb-input", "Take RGB where the model takes grey "
                                    "(BT.601 luma as its first layer) or BGR (the channels "
                                    "reversed there), so that MediaPipe Tasks and the Task "
                                    "Library, which feed RGB only, run it.")


class TFLiteTarget(ExportTarget):
    """TFLite through TFLiteConverter; runs on LiteRT (and OpenCV's TFLite importer)."""

    name = "tflite"
    label = "TFLite"
    suffix = ".tflite"
    order = 1
    precisions = ("fp32", "fp16", "dynamic", "int8")
    runtime = "tflite"
    quantization_aware = True
    options_type = TFLiteOptions

    def exporter(self, keras3: bool) -> str:
        return ("Keras 3 model.export (SavedModel, batch 1) -> TFLiteConverter.from_saved_model"
                if keras3 else "TFLiteConverter.from_concrete_functions (batch 1)")

    def float_edges(self, options):
        """Float input and output: the int8 file quantizes its input and dequantizes its output
        inside, so the logits are not rounded to 256 levels (what held a MobileNetV2 at worst
        cosine 0.94 with every ranked layer in float)."""
        from dataclasses import replace

        return replace(options, target_options=replace(options.target_options, int8_io="float"))

    def budget_variants(self, options) -> list[tuple[str, object]]:
        """Float input and output, where they are int8."""
        if options.target_options.int8_io != "int8":
            return []
        return [("float input and output", self.float_edges(options))]

    def check(self, options) -> None:
        """uint8 input and output: a post-training full-int8 file only."""
        if options.target_options.int8_io == "uint8" and options.qat:
            from deploytool.core.errors import UserError

            raise UserError("--int8-io uint8 is offered for post-training int8; with --qat use "
                            "--int8-io int8 or float")

    def prepare_source(self, source, options, log):
        """With ``--rgb-input``, a grey or BGR model takes RGB
        (:mod:`deploytool.converters.passes.rgb_input`); with uint8 input, the model takes
        8-bit pixels, its normalization moved into the graph
        (:mod:`deploytool.converters.passes.pixel_input`), its preprocessing record the resize
        and channel order alone. The Keras reference is then the model with those first layers."""
        from deploytool.converters.passes.pixel_input import normalization_in_graph
        from deploytool.converters.passes.rgb_input import rgb_input_in_graph

        if options.target_options.rgb_input:
            source = _rewritten(source, rgb_input_in_graph, "rgb_input", "--rgb-input", log)
        if options.precision == "int8" and options.target_options.int8_io == "uint8":
            source = _rewritten(source, normalization_in_graph, "normalization_in_graph",
                                "--int8-io uint8", log)
        return source

    def graph_rewrites(self, options) -> list:
        """Full int8 (post-training): average poolings as depthwise convolutions, which LiteRT's
        XNNPACK delegate runs in int8 (it takes no int8 AVERAGE_POOL_2D)."""
        from deploytool.converters.passes.simplify import average_pools_as_depthwise

        return [average_pools_as_depthwise] if options.precision == "int8" and not options.qat else []

    def inspect(self, path) -> dict:
        """The flatbuffer's tensors and ops, and its TFLite Model Metadata (read in MediaPipe's
        environment; ``{"unread": why}`` where that is not installed)."""
        from deploytool.core.environments import EnvironmentMissing

        from .inspect import inspect_tflite
        from .metadata import read_metadata

        report = inspect_tflite(path)
        try:
            report["metadata"] = read_metadata(path)
        except (EnvironmentMissing, RuntimeError) as unread:
            report["metadata"] = {"unread": str(unread)}
        return report

    def export(self, model, precision, calibration, options, reuse=None) -> Exported:
        """int8: with ``reuse``, the model converted once (``tflite_export``, calibrated on the
        first calibration set), calibrated again for each other set (``tflite_calibration``),
        then quantized with ``options.keep_float`` left in float."""
        from .export import export_tflite

        images = calibration.images if calibration is not None else None
        int8_io = options.target_options.int8_io
        calibrated = None
        if precision == "int8" and reuse is not None:
            calibrated = _shared_calibration(reuse, model, calibration, int8_io)
        return Exported(export_tflite(model, precision, images, int8_io, options.keep_float,
                                      calibrated))

    def quantized_from(self, reuse) -> bytes | None:
        """The calibrated float model (its ops and tensor names are the int8 file's)."""
        made = reuse.first("tflite_export")
        return made[1] if made is not None else None

    def same_preparation(self, options):
        """An int8 file's int8 and float input and output come from the same prepared model
        (uint8 does not: its normalization goes into the graph)."""
        from dataclasses import replace

        if options.target_options.int8_io != "float":
            return options
        return replace(options, target_options=replace(options.target_options, int8_io="int8"))

    def describe(self, exported, about, log):
        """TFLite Model Metadata, written with MediaPipe's writer (:mod:`.metadata`)."""
        from .metadata import described

        return described(exported, about, log)

    def activations(self, float_artifact: bytes, artifact: bytes, images, options):
        from .debug import tflite_activations

        return tflite_activations(float_artifact, artifact, images)

    def tensors(self, artifact: bytes, images, options) -> dict:
        from deploytool.converters.targets.tflite.tensors import tflite_tensors

        return tflite_tensors(artifact, images)

    def keep_float_closure(self, artifact: bytes, tensors: list[str]) -> list[str]:
        from .debug import tflite_consumers

        consumers = tflite_consumers(artifact)
        return list(dict.fromkeys(name for tensor in tensors
                                  for name in [tensor, *consumers.get(tensor, [])]))


def _shared_calibration(reuse, model, calibration, int8_io: str) -> bytes:
    """``model`` calibrated on ``calibration``, from what ``reuse`` holds: one conversion per
    model (and pixel input), one calibration per set of images."""
    from .export import calibrated_tflite, recalibrated_tflite

    model_key = (id(model), int8_io == "uint8")
    first_images, converted = reuse.get("tflite_export", model_key, lambda: (
        id(calibration), calibrated_tflite(model, calibration.images, int8_io)))
    return reuse.get("tflite_calibration", (*model_key, id(calibration)), lambda: (
        converted if first_images == id(calibration)
        else recalibrated_tflite(converted, calibration.images, int8_io)))


def _rewritten(source, rewrite, record: str, flag: str, log):
    """``source`` with its model and preprocessing as ``rewrite`` (a pass taking the model and
    its preprocessing) leaves them, recorded under ``record`` in its description."""
    from dataclasses import replace

    from deploytool.core.errors import UserError

    if source.framework == "keras3":
        raise UserError(f"{flag} rewrites the graph on the tf_keras path, and {source.name} has "
                        f"no exact tf_keras twin ({source.framework_reason})")
    model, report = rewrite(source.model, source.preprocessing)
    log(report.summary())
    return replace(source, model=model, preprocessing=report.preprocessing, reference_path=None,
                   description={**source.description, record: report.as_dict()})

