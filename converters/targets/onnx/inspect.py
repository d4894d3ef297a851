"""What is inside an .onnx: inputs and outputs (a QDQ model's input quantizer shown), op
histogram, opsets, producer and weight bytes by dtype, read with the onnx library without loading
external data: a malformed file is a one-line error here instead of a crash in a native runtime."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from deploytool.core.errors import UserError
from deploytool.core.tensors import tensor_entry
from deploytool.core.untrusted import check_onnx_external_data


def inspect_onnx(path: Path) -> dict:
    """Parse an .onnx protobuf (without loading external data)."""
    import onnx

    check_onnx_external_data(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
        return _describe_onnx(model)
    except Exception as exc:
        raise UserError(f"{path}: not a valid ONNX model ({type(exc).__name__}: "
                        f"{(str(exc).strip().splitlines() or [''])[0][:120]})") from None


def _describe_onnx(model) -> dict:
    import onnx

    from deploytool.converters.targets.onnx.metadata import read_metadata
    from onnx import numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    weights = Counter()
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        weights[array.dtype.name] += array.nbytes

    def value_info(info):
        dims = [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type).name
        return tensor_entry(info.name, dims, dtype)

    inputs = [value_info(i) for i in graph.input if i.name not in initializers]
    for entry in inputs:  # a QDQ model quantizes its input right away: show that quantizer
        for node in graph.node:
            if node.op_type == "QuantizeLinear" and node.input[0] == entry["name"]:
                scale = numpy_helper.to_array(initializers[node.input[1]])
                zero_point = numpy_helper.to_array(initializers[node.input[2]])
                entry["quantization"] = {"scale": float(scale), "zero_point": int(zero_point),
                                         "dtype": zero_point.dtype.name}
    return {"format": "onnx", "opset": [f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import],
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "inputs": inputs, "outputs": [value_info(o) for o in graph.output],
            "ops": dict(Counter(n.op_type for n in graph.node).most_common()),
            "weight_bytes": dict(weights), "metadata": read_metadata(model)}
