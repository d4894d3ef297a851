"""Export a Keras model to TFLite with TFLiteConverter: float32, float16, dynamic range or full int8."""

from __future__ import annotations

import re
import warnings

import numpy as np

from deploytool.errors import UserError
from deploytool.keras_env import tf
from deploytool.quiet import native_output_silenced

TFLITE_QUANTIZATIONS = ("none", "fp16", "dynamic", "int8")


class ConversionError(UserError):
    """A converter refused the model; the message names the converter and its first error line."""


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

    spec = tf.TensorSpec((1, *tuple(model.inputs[0].shape)[1:]), tf.float32)
    if not is_keras3_model(model):
        function = tf.function(lambda images: model(images, training=False))
        return tf.lite.TFLiteConverter.from_concrete_functions(
            [function.get_concrete_function(spec)], model)
    saved_model = f"{workdir}/saved_model"
    try:
        with native_output_silenced(stdout=True):
            model.export(saved_model, "tf_saved_model", verbose=False, input_signature=[spec])
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
            raise ConversionError(f"TFLiteConverter failed: {first_error_line(exc)}") from exc
