"""TFLite's side of the int8 diagnosis: every quantized activation of an int8 .tflite next to the
same tensor of the float .tflite of the same model, and the consumers of each tensor (a layer kept
in float keeps its consumers in float too; the mixed file itself is
:func:`~deploytool.converters.targets.tflite.export.quantized_tflite`'s).

Both models come from the same traced function, so their tensors carry the same names; the
interpreters run without the XNNPACK delegate (it fuses ops and hides their outputs), with every
intermediate tensor preserved.
"""

from __future__ import annotations

import numpy as np

INTEGER_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
SKIPPED_OPS = {"DELEGATE", "QUANTIZE", "DEQUANTIZE"}


def _interpreter(content: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=content, experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter


def _feed(interpreter, image: np.ndarray) -> None:
    from deploytool.core.tensors import TensorInfo, quantize

    detail = interpreter.get_input_details()[0]
    scale, zero_point = detail["quantization"]
    data = image[None].astype(np.float32)
    if scale:
        data = quantize(data, TensorInfo("input", tuple(detail["shape"]), np.dtype(detail["dtype"]).name,
                                         scale, zero_point))
    interpreter.set_tensor(detail["index"], data.astype(detail["dtype"]))
    interpreter.invoke()


def tflite_activations(float_model: bytes, quant_model: bytes,
                       images: np.ndarray) -> tuple[list, list[str]]:
    """Every quantized activation tensor of ``quant_model`` (in execution order; for an fp16 or
    dynamic-range model, every float op output) with the float model's values of the same
    tensor, accumulated over ``images`` (preprocessed float32, NHWC); and the names of the
    quantized tensors the float model has no tensor of (a float model built another way)."""
    from deploytool.core.quant_errors import TensorStats

    floating, quantized = _interpreter(float_model), _interpreter(quant_model)
    float_index = {d["name"]: d["index"] for d in floating.get_tensor_details()}
    details = {d["index"]: d for d in quantized.get_tensor_details()}
    outputs = [(op["op_name"], index) for op in quantized._get_ops_details()
               if op["op_name"] not in SKIPPED_OPS for index in op["outputs"]]
    integer = any(np.dtype(details[i]["dtype"]).name in INTEGER_RANGES and details[i]["quantization"][0]
                  for _, i in outputs)
    chosen, unmatched = [], []
    for op_name, index in outputs:
        detail = details[index]
        dtype = np.dtype(detail["dtype"]).name
        scale, zero_point = detail["quantization"]
        if integer and dtype in INTEGER_RANGES and scale:
            stats = TensorStats(detail["name"], op_name, float(scale), int(zero_point),
                                *INTEGER_RANGES[dtype])
        elif not integer and dtype == "float32":
            stats = TensorStats(detail["name"], op_name, 0.0)
        else:
            continue
        if detail["name"] not in float_index:
            unmatched.append(detail["name"])
            continue
        chosen.append((stats, index, float_index[detail["name"]]))
    for image in images:
        _feed(floating, image)
        _feed(quantized, image)
        for stats, q_index, f_index in chosen:
            raw = quantized.get_tensor(q_index).astype(np.float32)
            if stats.scale:
                raw = (raw - stats.zero_point) * stats.scale
            stats.add(floating.get_tensor(f_index), raw)
    return [stats for stats, _, _ in chosen], unmatched


def tflite_consumers(quant_model: bytes) -> dict[str, list[str]]:
    """For every op output tensor, the output tensors of the ops that read it: keeping a layer
    in float means keeping its consumers in float too, or its output is quantized anyway."""
    interpreter = _interpreter(quant_model)
    names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] not in SKIPPED_OPS]
    consumers = {}
    for op in ops:
        for index in op["outputs"]:
            consumers[names[index]] = [names[out] for other in ops if index in other["inputs"]
                                       for out in other["outputs"]]
    return consumers
