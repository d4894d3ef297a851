"""Export a Keras model to ONNX with tf2onnx, and quantize ONNX models to int8 with ONNX Runtime."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from deploytool.errors import UserError
from deploytool.quiet import native_output_silenced

from .targets import Exported, ExportTarget
from .tflite_export import ConversionError, conversion_failure, first_error_line
from .tracing import frozen_graph, input_spec, plain_grouped_convolutions

INPUT_NAME = "input"
DEFAULT_OPSET = 17


_ERFC_REGISTERED = []


def register_erfc() -> None:
    """Teach tf2onnx TensorFlow's Erfc (what exact GELU, ``tf.nn.gelu(approximate=False)``,
    computes with: 0.5 x erfc(-x / sqrt 2)) as 1 - Erf(x); tf2onnx 1.17 converts Erf only."""
    if _ERFC_REGISTERED:
        return
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:  # noqa: F841 - registered by the decorator
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
            one = ctx.make_const(utils.make_name("erfc_one"), np.array(1, dtype))
            erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name)
            outputs, shapes, dtypes = node.output, ctx.get_shape(node.output[0]), ctx.get_dtype(node.output[0])
            ctx.remove_node(node.name)
            ctx.make_node("Sub", [one.output[0], erf.output[0]], outputs=outputs, name=node.name,
                          shapes=[shapes], dtypes=[dtypes])

    _ERFC_REGISTERED.append(True)


def export_onnx(model, opset: int = DEFAULT_OPSET, nchw_input: bool = False):
    """Convert ``model`` (tf_keras, or stock Keras 3 through its traced inference function) to an
    ONNX ModelProto with one float input named 'input' (NHWC, or NCHW with ``nchw_input``)."""
    import tf2onnx

    from deploytool.keras3 import is_keras3_model

    signature = (input_spec(model, None, INPUT_NAME),)
    nchw = [INPUT_NAME] if nchw_input else None
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)
    try:
        register_erfc()
        if is_keras3_model(model):  # the inference function Keras 3 itself traces and exports
            graph_def, inputs, outputs = frozen_graph(model, batch=None)
            with native_output_silenced(stdout=True):
                proto, _ = tf2onnx.convert.from_graph_def(
                    graph_def, input_names=inputs, output_names=outputs, opset=opset,
                    inputs_as_nchw=[inputs[0]] if nchw_input else None)
            proto.graph.input[0].name = INPUT_NAME
            for node in proto.graph.node:
                node.input[:] = [INPUT_NAME if name == inputs[0] else name for name in node.input]
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

    initializers = {tensor.name for tensor in proto.graph.initializer}
    extra = [i.name for i in proto.graph.input if i.name not in initializers][1:]
    if extra:
        raise ConversionError(f"tf2onnx left {len(extra)} captured tensor(s) as extra graph "
                              f"inputs ({', '.join(extra[:3])}); the model cannot run on images alone")
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


CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def quantize_onnx_int8(proto, calibration: np.ndarray, nchw_input: bool = False,
                       per_channel: bool = True, method: str = "minmax",
                       keep_float: list[str] | None = None):
    """Statically quantize an fp32 ONNX model to int8 in QDQ form: uint8 activations and int8
    weights (u8s8, the fast form on x86), calibrated on ``calibration`` images by ``method``
    (min/max, ONNX Runtime's percentile or entropy calibrators); the tensors ``keep_float``
    (with their producers and consumers) stay float."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)

    from .onnx_debug import onnx_keeping_float_nodes

    if calibration is None or len(calibration) == 0:
        raise UserError("int8 ONNX quantization needs calibration images")
    reader = type("Reader", (_ImageReader, CalibrationDataReader), {})(calibration, nchw_input)
    with tempfile.TemporaryDirectory(prefix="deploytool-onnx-") as tmp:
        fp32_path, int8_path = Path(tmp, "fp32.onnx"), Path(tmp, "int8.onnx")
        onnx.save(proto, fp32_path)
        try:
            excluded = onnx_keeping_float_nodes(proto.SerializeToString(), keep_float or [])
            calibrator = {"minmax": CalibrationMethod.MinMax,
                          "percentile": CalibrationMethod.Percentile,
                          "entropy": CalibrationMethod.Entropy}[method]
            with native_output_silenced(stdout=True):  # the entropy calibrator prints
                quantize_static(str(fp32_path), str(int8_path), reader,
                                quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                                weight_type=QuantType.QInt8, per_channel=per_channel,
                                calibrate_method=calibrator, nodes_to_exclude=excluded)
        except Exception as exc:
            raise ConversionError(f"onnxruntime quantize_static failed: {first_error_line(exc)}") from exc
        return onnx.load(int8_path)


class OnnxTarget(ExportTarget):
    """ONNX through tf2onnx (int8: ONNX Runtime's static QDQ quantizer); runs on ONNX Runtime
    (and OpenCV's ONNX importer)."""

    name = "onnx"
    label = "ONNX"
    suffix = ".onnx"
    precisions = ("fp32", "int8")
    runtime = "onnxruntime"
    calibration_methods = CALIBRATION_METHODS

    def exporter(self, keras3: bool) -> str:
        return ("tf2onnx.convert.from_graph_def (Keras 3 inference function, frozen)" if keras3
                else "tf2onnx.convert.from_keras")

    def inspect(self, path) -> dict:
        from deploytool.inspect_model import inspect_onnx

        return inspect_onnx(path)

    def export(self, model, precision, calibration, options) -> Exported:
        proto = export_onnx(model, options.opset, options.nchw)
        if precision == "int8":
            proto = quantize_onnx_int8(proto, calibration.images, options.nchw,
                                       method=options.calibration_method,
                                       keep_float=options.keep_float)
        return Exported(proto.SerializeToString())

    def activations(self, float_artifact: bytes, artifact: bytes, images, options) -> list:
        from .onnx_debug import onnx_activations

        return onnx_activations(float_artifact, artifact, images, options.nchw)

    def input_layout(self, options) -> str:
        return "NCHW" if options.nchw else "NHWC"

    def input_name(self, runner) -> str:
        return INPUT_NAME
