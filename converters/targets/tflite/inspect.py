"""What is inside a .tflite: inputs and outputs (shape, dtype, quantization), op histogram,
weight bytes by dtype and phone-GPU readiness, read with LiteRT's flatbuffer schema in pure
Python (no TensorFlow import): a malformed file is a one-line error here instead of a crash in a
native runtime."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from deploytool.converters.targets.tflite.flatbuffer import operator_names, read_tflite
from deploytool.converters.targets.tflite.gpu_readiness import readiness_of

from deploytool.core.errors import UserError
from deploytool.core.tensors import tensor_entry

TFLITE_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool",
                7: "int16", 9: "int8", 10: "float64"}


def inspect_tflite(path: Path) -> dict:
    """Parse a .tflite flatbuffer (identifier TFL3)."""
    schema, model = read_tflite(path)
    try:
        codes = operator_names(schema, model)
        graph = model.Subgraphs(0)
        ops = Counter(codes[graph.Operators(i).OpcodeIndex()] for i in range(graph.OperatorsLength()))
        inputs = {graph.Inputs(i) for i in range(graph.InputsLength())}
        weights, tensors = Counter(), []
        for index in range(graph.TensorsLength()):
            tensor = graph.Tensors(index)
            dtype = TFLITE_TYPES.get(tensor.Type(), f"type{tensor.Type()}")
            buffer = model.Buffers(tensor.Buffer()) if tensor.Buffer() < model.BuffersLength() else None
            size = buffer.DataLength() if buffer is not None else 0
            if size and index not in inputs:
                weights[dtype] += size
            quant = tensor.Quantization()
            scale = zero_point = None
            if quant is not None and quant.ScaleLength():
                scale = float(quant.Scale(0)) if quant.ScaleLength() == 1 else f"per-channel ({quant.ScaleLength()})"
                zero_point = int(quant.ZeroPoint(0)) if quant.ZeroPointLength() else 0
            tensors.append(tensor_entry(tensor.Name().decode(errors="replace"),
                                         [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else [],
                                         dtype, scale, zero_point))
        io = lambda getter, count: [tensors[getter(i)] for i in range(count)]  # noqa: E731
        readiness = readiness_of(schema, model)
        outputs = io(graph.Outputs, graph.OutputsLength())
        if len(outputs) > 1:  # named as the signature names them (the model's output names)
            signed = signature_output_names(model)
            outputs = [{**tensors[graph.Outputs(i)], "tensor": tensors[graph.Outputs(i)]["name"],
                        "name": signed.get(graph.Outputs(i), tensors[graph.Outputs(i)]["name"])}
                       for i in range(graph.OutputsLength())]
        return {"format": "tflite", "gpu": {k: readiness[k] for k in ("ready", "refused")}, "inputs": io(graph.Inputs, graph.InputsLength()),
                "outputs": outputs,
                "ops": dict(ops.most_common()), "weight_bytes": dict(weights),
                "subgraphs": model.SubgraphsLength()}
    except UserError:
        raise
    except Exception as exc:  # truncated or corrupt flatbuffer
        raise UserError(f"{path}: corrupt TFLite file: truncated or malformed flatbuffer "
                        f"({type(exc).__name__})") from None


def signature_output_names(model) -> dict[int, str]:
    """Tensor index -> output name in the model's one signature ({} without exactly one)."""
    if model.SignatureDefsLength() != 1:
        return {}
    signature = model.SignatureDefs(0)
    return {signature.Outputs(i).TensorIndex(): signature.Outputs(i).Name().decode(errors="replace")
            for i in range(signature.OutputsLength())}
