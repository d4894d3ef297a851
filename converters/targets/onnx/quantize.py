"""int8 ONNX: ONNX Runtime's static quantizer in QDQ form (uint8 activations, int8 weights,
per channel), calibrated by min/max, percentile or entropy, with chosen layers left in float."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from deploytool.converters.failures import ConversionError, first_error_line
from deploytool.converters.targets.onnx.debug import onnx_keeping_float_nodes
from deploytool.converters.targets.onnx.inputs import image_reader
from deploytool.converters.targets.onnx.names import initializers_sorted
from deploytool.core.errors import UserError
from deploytool.core.quiet import native_output_silenced

CALIBRATION_METHODS = ("minmax", "percentile", "entropy")
# ONNX Runtime's calibrators keep every tensor of every image they are given before reducing them
# to ranges or histograms: percentile calibration of ConvNeXtTiny (96x96) on 300 images grew past
# this machine's 24 GiB and was killed. Given a slice at a time they merge as they go.
CALIBRATION_CHUNK = 8


def calibration_stride(count: int, chunk: int = CALIBRATION_CHUNK) -> int:
    """The largest slice of at most ``chunk`` images that divides ``count`` (ONNX Runtime's
    slices must be equal)."""
    return next(size for size in range(min(chunk, count), 0, -1) if count % size == 0)


def quantize_onnx_int8(proto, calibration: np.ndarray, nchw_input: bool = False,
                       per_channel: bool = True, method: str = "minmax",
                       keep_float: list[str] | None = None, chunk: int = CALIBRATION_CHUNK,
                       ranges: Path | None = None):
    """Statically quantize an fp32 ONNX model to int8 in QDQ form: uint8 activations and int8
    weights (u8s8, the fast form on x86), calibrated on ``calibration`` images by ``method``
    (min/max, ONNX Runtime's percentile or entropy calibrators); the tensors ``keep_float``
    (with their producers and consumers) stay float. The calibrator sees ``chunk`` images at a
    time (its memory grows with what it holds at once; min/max merge exactly, histograms by
    ONNX Runtime's own re-binning). With ``ranges`` (a JSON file), the calibration's tensor ranges
    are read from it where it exists, else computed and written there: ONNX Runtime's own
    calibration cache, so that the same graph, images and method are calibrated once."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if calibration is None or len(calibration) == 0:
        raise UserError("int8 ONNX quantization needs calibration images")
    reader = image_reader(calibration, nchw_input)
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
                                calibrate_method=calibrator, nodes_to_exclude=excluded,
                                calibration_cache_path=ranges,
                                extra_options={"CalibStridedMinMax":
                                               calibration_stride(len(calibration), chunk)})
        except Exception as exc:
            if "Too many bins for data range" in str(exc):  # numpy, inside the histogram calibrators
                raise ConversionError(
                    f"onnxruntime's {method} calibrator cannot histogram a tensor whose values "
                    "span fewer float32 steps than its bins (a LayerNorm's 1/sqrt(variance) near "
                    "1, for one); calibrate by minmax") from exc
            raise ConversionError(f"onnxruntime quantize_static failed: {first_error_line(exc)}") from exc
        quantized = onnx.load(int8_path)
    initializers_sorted(quantized)
    return quantized
