"""Export a Keras model to ONNX with tf2onnx, and quantize ONNX models to int8 with ONNX Runtime."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

import numpy as np

from deploytool.errors import UserError
from deploytool.keras_env import keras, tf
from deploytool.quiet import native_output_silenced

from .tflite_export import ConversionError, conversion_failure, first_error_line

INPUT_NAME = "input"
DEFAULT_OPSET = 17


@contextlib.contextmanager
def plain_grouped_convolutions(model):
    """tf_keras runs grouped Conv2D through an XLA-compiled function that tf2onnx sees as an opaque
    PartitionedCall; for the duration, trace them as plain grouped convolutions instead, which
    tf2onnx turns into an ONNX Conv with ``group``."""
    patched = [layer for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D) and getattr(layer, "groups", 1) > 1]
    for layer in patched:
        layer._jit_compiled_convolution_op = layer.convolution_op
    try:
        yield
    finally:
        for layer in patched:
            del layer._jit_compiled_convolution_op


def export_onnx(model, opset: int = DEFAULT_OPSET, nchw_input: bool = False):
    """Convert ``model`` (tf_keras, or stock Keras 3 through its traced inference function) to an
    ONNX ModelProto with one float input named 'input' (NHWC, or NCHW with ``nchw_input``)."""
    import tf2onnx

    from deploytool.keras3 import is_keras3_model

    shape = (None, *tuple(model.inputs[0].shape)[1:])
    signature = (tf.TensorSpec(shape, tf.float32, name=INPUT_NAME),)
    nchw = [INPUT_NAME] if nchw_input else None
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)
    try:
        if is_keras3_model(model):  # the inference function Keras 3 itself traces and exports
            function = tf.function(lambda images: model(images, training=False))
            with native_output_silenced(stdout=True):
                proto, _ = tf2onnx.convert.from_function(
                    function, input_signature=signature, opset=opset, inputs_as_nchw=nchw)
        else:
            with plain_grouped_convolutions(model), native_output_silenced(stdout=True):
                proto, _ = tf2onnx.convert.from_keras(
                    model, input_signature=signature, opset=opset, inputs_as_nchw=nchw)
    except Exception as exc:
        raise conversion_failure(exc, model, "tf2onnx") from exc
    check_onnx_ops(proto, model)
    return proto


def check_onnx_ops(proto, model) -> None:
    """Refuse a graph in which tf2onnx left TensorFlow ops that are no ONNX operator (it keeps
    what it cannot convert, and the file then fails to load): one line naming the layer."""
    import onnx

    for node in proto.graph.node:
        if node.domain in ("", "ai.onnx") and (
                node.op_type in ("PartitionedCall", "StatefulPartitionedCall") or
                not onnx.defs.has(node.op_type)):
            raise conversion_failure(
                RuntimeError(f"TensorFlow op {node.op_type} ({node.name}) has no ONNX "
                             "equivalent in tf2onnx"), model, "tf2onnx")


class _ImageReader:
    """ONNX Runtime calibration reader over preprocessed images, one image per batch."""

    def __init__(self, images: np.ndarray, nchw: bool):
        self.images = images.transpose(0, 3, 1, 2) if nchw else images
        self.index = 0

    def get_next(self):
        if self.index >= len(self.images):
            return None
        batch = {INPUT_NAME: self.images[self.index:self.index + 1]}
        self.index += 1
        return batch

    def rewind(self):
        self.index = 0


def quantize_onnx_int8(proto, calibration: np.ndarray, nchw_input: bool = False,
                       per_channel: bool = True):
    """Statically quantize an fp32 ONNX model to int8 in QDQ form: uint8 activations and int8
    weights (u8s8, the fast form on x86), calibrated by min/max on ``calibration`` images."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    if calibration is None or len(calibration) == 0:
        raise UserError("int8 ONNX quantization needs calibration images")
    reader = type("Reader", (_ImageReader, CalibrationDataReader), {})(calibration, nchw_input)
    with tempfile.TemporaryDirectory(prefix="deploytool-onnx-") as tmp:
        fp32_path, int8_path = Path(tmp, "fp32.onnx"), Path(tmp, "int8.onnx")
        onnx.save(proto, fp32_path)
        try:
            with native_output_silenced():
                quantize_static(str(fp32_path), str(int8_path), reader,
                                quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                                weight_type=QuantType.QInt8, per_channel=per_channel)
        except Exception as exc:
            raise ConversionError(f"onnxruntime quantize_static failed: {first_error_line(exc)}") from exc
        return onnx.load(int8_path)
