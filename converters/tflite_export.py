"""Export a Keras model to TFLite with TFLiteConverter: float32, float16, dynamic range or full int8."""

from __future__ import annotations

import re
import warnings

import numpy as np

from deploytool.errors import UserError
from deploytool.quiet import native_output_silenced

from .targets import Exported, ExportTarget
from .tracing import inference_function

TFLITE_QUANTIZATIONS = ("none", "fp16", "dynamic", "int8")


class ConversionError(UserError):
    """A converter refused the model; the message names the converter and its first error line."""


def _layers_of(model) -> list:
    flatten = getattr(model, "_flatten_layers", None)
    return list(flatten(include_self=False)) if flatten else list(model.layers)


def failing_layer(text: str, model):
    """The layer of ``model`` a converter's error text points at: TensorFlow op names are
    prefixed with the Keras layer names (``model/up_sampling2d/resize/ScaleAndTranslate``); the
    one named first in the text, longest name first where names share a prefix. None if none."""
    found = {}
    for layer in sorted(_layers_of(model), key=lambda layer: -len(layer.name)):
        # Keras 3 numbers the scope of a layer called again by its model: "conv_1/"
        match = re.search(rf"(?:^|[/\"' ]){re.escape(layer.name)}(?:_\d+)?/", text)
        if match and not any(match.start() >= start and match.end() <= end
                             for start, end in found.values()):
            found[layer.name] = (match.start(), match.end())
    if not found:
        return None
    name = min(found, key=lambda key: found[key][0])
    return next(layer for layer in _layers_of(model) if layer.name == name)


def layer_running_op(model, op: str):
    """The layer whose traced inference graph runs TensorFlow op type ``op`` (TFLite's errors
    name the op but lose its scope): found in the op names of the model's traced function and
    the functions it calls. None if it cannot be told."""
    try:
        graph = inference_function(model).graph.as_graph_def()
    except Exception:
        return None
    names = [node.name for node in graph.node if node.op == op]
    names += [node.name for function in graph.library.function for node in function.node_def
              if node.op == op]
    return failing_layer(" ".join(f"/{name}" for name in names), model) if names else None


def _missing_op(text: str) -> str | None:
    match = re.search(r"'tf\.(\w+)' op is neither a custom op nor a flex op", text)
    return match.group(1) if match else None


def conversion_failure(exc: Exception, model, converter: str) -> "ConversionError":
    """A one-line :class:`ConversionError` naming the Keras layer, its type and the converter's
    reason, when the error text points at a layer; else the converter's most telling line."""
    text = str(exc)
    op = _missing_op(text)
    reason = (f"TensorFlow's {op} op has no TFLite built-in kernel" if op and converter ==
              "TFLiteConverter" else first_error_line(exc))
    layer = failing_layer(text, model) or (layer_running_op(model, op) if op else None)
    if layer is None:
        return ConversionError(f"{converter} failed: {reason}")
    return ConversionError(f"layer '{layer.name}' ({type(layer).__name__}) cannot be converted "
                           f"by {converter}: {reason}")


def first_error_line(exc: Exception) -> str:
    """The most telling line of a converter's (often multi-page) error."""
    lines = [re.sub(r"^\S+:\d+:\d+: ", "", line.strip()) for line in str(exc).splitlines()
             if line.strip()]
    for line in lines:
        if "error:" in line.lower() or "not supported" in line.lower():
            return line
    return lines[0] if lines else type(exc).__name__


def _converter(model, workdir):
    """A TFLiteConverter for ``model`` at batch 1 (as phones run it; static shapes let the
    converter fold shape arithmetic such as a Reshape's target, which OpenCV's TFLite importer
    and the GPU delegate cannot take): from the tf_keras model's inference function, or, for a
    stock Keras 3 model, from its SavedModel export (the route Keras 3 documents;
    from_keras_model breaks on Keras 3 models) written into ``workdir``."""
    from deploytool.keras3 import is_keras3_model
    from deploytool.keras_env import tf

    from .tracing import input_spec

    if not is_keras3_model(model):
        return tf.lite.TFLiteConverter.from_concrete_functions([inference_function(model)], model)
    saved_model = f"{workdir}/saved_model"
    try:
        with native_output_silenced(stdout=True):
            model.export(saved_model, "tf_saved_model", verbose=False,
                         input_signature=[input_spec(model)])
    except Exception as exc:
        raise ConversionError(f"Keras 3 could not export its SavedModel: {first_error_line(exc)}") from exc
    return tf.lite.TFLiteConverter.from_saved_model(saved_model)


def export_tflite(model, quantization: str = "none", calibration: np.ndarray | None = None,
                  int8_io: str = "int8") -> bytes:
    """Convert ``model`` (tf_keras, or stock Keras 3 through its SavedModel) to a .tflite
    flatbuffer.

    ``quantization``: "none" (float32), "fp16" (float16 weights), "dynamic" (int8 weights, float
    activations) or "int8" (full integer; needs ``calibration``, preprocessed float32 images, as the
    representative data set). ``int8_io`` ("int8" or "float") picks the int8 model's input and
    output type.
    """
    import tempfile

    from deploytool.keras_env import tf

    if quantization not in TFLITE_QUANTIZATIONS:
        raise UserError(f"unknown TFLite quantization {quantization!r}; choose from {TFLITE_QUANTIZATIONS}")
    if quantization == "int8":
        if calibration is None or len(calibration) == 0:
            raise UserError("full int8 quantization needs calibration images")
        if int8_io not in ("int8", "float"):
            raise UserError(f"int8 input/output type must be 'int8' or 'float', got {int8_io!r}")
    with tempfile.TemporaryDirectory(prefix="deploytool-tflite-") as workdir:
        converter = _converter(model, workdir)
        if quantization != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "int8":
            converter.representative_dataset = lambda: ([calibration[i:i + 1]]
                                                        for i in range(len(calibration)))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if int8_io == "int8":
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        try:
            with native_output_silenced(stdout=True), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return converter.convert()
        except Exception as exc:
            raise conversion_failure(exc, model, "TFLiteConverter") from exc


class TFLiteTarget(ExportTarget):
    """TFLite through TFLiteConverter; runs on LiteRT (and OpenCV's TFLite importer)."""

    name = "tflite"
    label = "TFLite"
    suffix = ".tflite"
    precisions = ("fp32", "fp16", "dynamic", "int8")
    runtime = "tflite"

    def exporter(self, keras3: bool) -> str:
        return ("Keras 3 model.export (SavedModel, batch 1) -> TFLiteConverter.from_saved_model"
                if keras3 else "TFLiteConverter.from_concrete_functions (batch 1)")

    def inspect(self, path) -> dict:
        from deploytool.inspect_model import inspect_tflite

        return inspect_tflite(path)

    def export(self, model, precision, calibration, options) -> Exported:
        images = calibration.images if calibration is not None else None
        if precision == "int8" and options.keep_float:
            from .tflite_debug import tflite_keeping_float

            return Exported(tflite_keeping_float(model, images, options.int8_io, options.keep_float))
        quantization = "none" if precision == "fp32" else precision
        return Exported(export_tflite(model, quantization, images, options.int8_io))

    def activations(self, float_artifact: bytes, artifact: bytes, images, options) -> list:
        from .tflite_debug import tflite_activations

        return tflite_activations(float_artifact, artifact, images)

    def keep_float_closure(self, artifact: bytes, tensors: list[str]) -> list[str]:
        from .tflite_debug import tflite_consumers

        consumers = tflite_consumers(artifact)
        return list(dict.fromkeys(name for tensor in tensors
                                  for name in [tensor, *consumers.get(tensor, [])]))
