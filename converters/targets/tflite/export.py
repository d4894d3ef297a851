"""Export a Keras model to TFLite with TFLiteConverter: float32, float16, dynamic range or full int8."""

from __future__ import annotations

import contextlib
import tempfile
import warnings

import numpy as np
from deploytool.converters.failures import ConversionError, conversion_failure, first_error_line
from deploytool.converters.targets.tflite.dead_ranges import require_loadable
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


INT8_IO = ("int8", "uint8", "float")


def export_tflite(model, precision: str = "fp32", calibration: np.ndarray | None = None,
                  int8_io: str = "int8", keep_float=(), calibrated: bytes | None = None) -> bytes:
    """Convert ``model`` (tf_keras, or stock Keras 3 through its SavedModel) to a .tflite
    flatbuffer.

    ``precision``: "fp32", "fp16" (float16 weights), "dynamic" (int8 weights, float
    activations) or "int8" (full integer; needs ``calibration``, preprocessed float32 images, as the
    representative data set). ``int8_io`` ("int8", "uint8" or "float") picks the int8 model's
    input and output type; uint8 takes a model whose input is 8-bit pixels
    (:mod:`deploytool.converters.passes.pixel_input`) and gives an input that means them as they
    are (scale 1, zero point 0). An int8 model is :func:`calibrated_tflite` (or ``calibrated``,
    made by it before, for the same model and images), then :func:`quantized_tflite` with the
    ops producing the tensors ``keep_float`` left in float.
    """
    from deploytool.core.keras_env import tf

    if precision not in TFLITE_PRECISIONS:
        raise UserError(f"unknown TFLite precision {precision!r}; choose from {TFLITE_PRECISIONS}")
    if precision == "int8":
        if calibrated is None:
            calibrated = calibrated_tflite(model, calibration, int8_io)
        return quantized_tflite(calibrated, int8_io, keep_float)
    with _conversion(model) as converter:
        if precision != "fp32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if precision == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        return _run(converter, model)


@contextlib.contextmanager
def _conversion(model):
    """A TFLiteConverter of ``model`` (:func:`_converter`) with its working folder."""
    with tempfile.TemporaryDirectory(prefix="deploytool-tflite-") as workdir:
        yield _converter(model, workdir)


def _run(converter, model) -> bytes:
    try:
        with native_output_silenced(stdout=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return converter.convert()
    except Exception as exc:
        raise conversion_failure(exc, model, "TFLiteConverter") from exc


def calibrated_tflite(model, calibration: np.ndarray | None, int8_io: str = "int8") -> bytes:
    """``model`` converted to a float .tflite that carries the value ranges of every tensor on
    ``calibration`` (TFLiteConverter's calibrate-only step, as LiteRT's QuantizationDebugger
    takes it): everything a full-int8 file needs that does not depend on which layers stay
    float or on the file's input and output type (uint8 adds an all-black and an all-white
    image, :func:`with_pixel_extremes`)."""
    from deploytool.core.keras_env import tf

    if calibration is None or len(calibration) == 0:
        raise UserError("full int8 quantization needs calibration images")
    if int8_io not in INT8_IO:
        raise UserError(f"int8 input/output type must be {' or '.join(INT8_IO)}, got {int8_io!r}")
    if int8_io == "uint8":
        calibration = with_pixel_extremes(calibration)
    with _conversion(model) as converter:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calibration[i:i + 1]]
                                                    for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter._experimental_calibrate_only = True  # noqa: SLF001 - the debugger's own route
        return _run(converter, model)


def recalibrated_tflite(calibrated: bytes, calibration: np.ndarray, int8_io: str = "int8") -> bytes:
    """A :func:`calibrated_tflite` model calibrated again on other images, without converting
    the model again: LiteRT's calibrator writes the new ranges over the old ones (the file
    quantized from it is the one :func:`calibrated_tflite` on those images gives; a test
    compares them)."""
    from tensorflow.lite.python.optimize import calibrator

    if int8_io == "uint8":
        calibration = with_pixel_extremes(calibration)
    try:
        with native_output_silenced(stdout=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return calibrator.Calibrator(calibrated).calibrate(
                lambda: ([calibration[i:i + 1]] for i in range(len(calibration))))
    except Exception as exc:
        raise ConversionError(f"TFLite's calibrator failed: {first_error_line(exc)}") from exc


def quantized_tflite(calibrated: bytes, int8_io: str = "int8", keep_float=()) -> bytes:
    """The full-int8 .tflite of a :func:`calibrated_tflite` model: MLIR's quantizer, as
    TFLiteConverter's own full-int8 conversion calls it, with the ops producing ``keep_float``
    (tensor names) denylisted, and int8, uint8 or float input and output as ``int8_io`` says;
    its read-only buffers deduplicated as the converter does. Refused when LiteRT could not load
    it (:func:`require_loadable`) or a uint8 input does not mean pixels as they are."""
    from tensorflow.lite.python import convert as lite_convert
    from tensorflow.lite.python.lite import _deduplicate_readonly_buffers

    from deploytool.core.keras_env import tf

    io_type = getattr(tf, int8_io) if int8_io != "float" else tf.float32
    try:
        with native_output_silenced(stdout=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flatbuffer = _deduplicate_readonly_buffers(lite_convert.mlir_quantize(
                calibrated, disable_per_channel=False, fully_quantize=False,
                input_data_type=io_type, output_data_type=io_type,
                denylisted_ops=[], denylisted_nodes=list(keep_float)))
    except Exception as exc:
        raise ConversionError(f"TFLite's quantizer failed: {first_error_line(exc)}") from exc
    if int8_io == "uint8":
        check_pixel_input(flatbuffer)
    require_loadable(flatbuffer)
    return flatbuffer


def with_pixel_extremes(calibration: np.ndarray) -> np.ndarray:
    """Calibration pixels that reach 0 and 255 in every channel, so that the calibrated input
    range, and with it the uint8 input's scale and zero point, is exactly 0..255 (scale 1, zero
    point 0): an all-black and an all-white image are added where the images do not."""
    lowest = calibration.reshape(-1, calibration.shape[-1]).min(axis=0)
    highest = calibration.reshape(-1, calibration.shape[-1]).max(axis=0)
    if np.all(lowest <= 0) and np.all(highest >= 255):
        return calibration
    extremes = np.stack([np.zeros(calibration.shape[1:], np.float32),
                         np.full(calibration.shape[1:], 255.0, np.float32)])
    return np.concatenate([calibration, extremes]).astype(np.float32)


def check_pixel_input(flatbuffer: bytes) -> None:
    """Refuse a uint8-input file whose input does not mean 8-bit pixels as they are."""
    from ai_edge_litert.interpreter import Interpreter

    (detail,) = Interpreter(model_content=flatbuffer).get_input_details()
    scale, zero_point = detail["quantization"]
    if detail["dtype"] != np.uint8 or abs(scale - 1.0) > 1e-6 or zero_point != 0:
        raise UserError(f"the uint8 input came out with scale {scale:g} and zero point "
                        f"{zero_point}, not 1 and 0: it would not take pixels as they are "
                        "(the calibration images must be 8-bit pixels)")
