"""Export a Keras model to TFLite with TFLiteConverter: float32, float16, dynamic range or full int8."""

from __future__ import annotations

import warnings

import numpy as np
from deploytool.converters.failures import ConversionError, conversion_failure, first_error_line
from deploytool.converters.tracing import inference_function, input_spec

from deploytool.core.errors import UserError
from deploytool.core.quiet import native_output_silenced

TFLITE_PRECISIONS = ("fp32", "fp16", "dynamic", "int8")


def _converter(model, workdir):
    """A TFLiteConverter for ``model`` at batch 1 (as phones run it; static shapes let the
    converter fold shape arithmetic such as a Reshape's target, which OpenCV's TFLite importer
    and the GPU delegate cannot take): from the tf_keras model's inference function, or, for a
    stock Keras 3 model, from its SavedModel export (the route Keras 3 documents;
    from_keras_model breaks on Keras 3 models) written into ``workdir``."""
    from deploytool.core.keras_env import is_keras3_model, tf

    if not is_keras3_model(model):
        return tf.lite.TFLiteConverter.from_concrete_functions([inference_function(model)], model)
    saved_model = f"{workdir}/saved_model"
    try:
        with native_output_silenced(stdout=True):
            if len(model.outputs) == 1:
                model.export(saved_model, "tf_saved_model", verbose=False,
                             input_signature=[input_spec(model)])
            else:
                export_named_outputs(model, saved_model)
    except Exception as exc:
        raise ConversionError(f"Keras 3 could not export its SavedModel: {first_error_line(exc)}") from exc
    return tf.lite.TFLiteConverter.from_saved_model(saved_model)


def export_named_outputs(model, saved_model: str) -> None:
    """Export a Keras 3 model with several outputs as a SavedModel whose serving signature
    returns them by output name (``model.export`` names them output_0, output_1, ... and the
    .tflite's own tensor order is not the model's)."""
    from deploytool.core.keras_env import keras3
    from deploytool.core.model_outputs import named_outputs

    archive = keras3().export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda images: named_outputs(model, model(images, training=False)),
                         input_signature=[input_spec(model)])
    archive.write_out(saved_model, verbose=False)


def export_tflite(model, precision: str = "fp32", calibration: np.ndarray | None = None,
                  int8_io: str = "int8") -> bytes:
    """Convert ``model`` (tf_keras, or stock Keras 3 through its SavedModel) to a .tflite
    flatbuffer.

    ``precision``: "fp32", "fp16" (float16 weights), "dynamic" (int8 weights, float
    activations) or "int8" (full integer; needs ``calibration``, preprocessed float32 images, as the
    representative data set). ``int8_io`` ("int8" or "float") picks the int8 model's input and
    output type.
    """
    import tempfile

    from deploytool.core.keras_env import tf

    if precision not in TFLITE_PRECISIONS:
        raise UserError(f"unknown TFLite precision {precision!r}; choose from {TFLITE_PRECISIONS}")
    if precision == "int8":
        if calibration is None or len(calibration) == 0:
            raise UserError("full int8 quantization needs calibration images")
        if int8_io not in ("int8", "float"):
            raise UserError(f"int8 input/output type must be 'int8' or 'float', got {int8_io!r}")
    with tempfile.TemporaryDirectory(prefix="deploytool-tflite-") as workdir:
        converter = _converter(model, workdir)
        if precision != "fp32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if precision == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        elif precision == "int8":
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
