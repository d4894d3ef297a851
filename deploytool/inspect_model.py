"""What is inside a .tflite, .onnx or Keras file: inputs and outputs (shape, dtype, quantization),
op histogram, weight sizes by dtype, and the manifest next to it.

TFLite files are read with LiteRT's flatbuffer schema in pure Python (no TensorFlow import) and
ONNX files with the onnx library: a malformed file raises an error here instead of crashing a
native runtime. A file whose sha256 differs from the manifest beside it is reported as such.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .errors import UserError
from .manifest import integrity_failures, read_manifest

TFLITE_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool",
                7: "int16", 9: "int8", 10: "float64"}


def _tensor_entry(name, shape, dtype, scale=None, zero_point=None) -> dict:
    entry = {"name": name, "shape": shape, "dtype": dtype}
    if scale is not None:
        entry["quantization"] = {"scale": scale, "zero_point": zero_point}
    return entry


def inspect_tflite(path: Path) -> dict:
    """Parse a .tflite flatbuffer (identifier TFL3)."""
    from .gpu_readiness import readiness_of
    from .tflite_flatbuffer import operator_names, read_tflite

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
            tensors.append(_tensor_entry(tensor.Name().decode(errors="replace"),
                                         [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else [],
                                         dtype, scale, zero_point))
        io = lambda getter, count: [tensors[getter(i)] for i in range(count)]  # noqa: E731
        readiness = readiness_of(schema, model)
        return {"format": "tflite", "gpu": {k: readiness[k] for k in ("ready", "refused")}, "inputs": io(graph.Inputs, graph.InputsLength()),
                "outputs": io(graph.Outputs, graph.OutputsLength()),
                "ops": dict(ops.most_common()), "weight_bytes": dict(weights),
                "subgraphs": model.SubgraphsLength()}
    except UserError:
        raise
    except Exception as exc:  # truncated or corrupt flatbuffer
        raise UserError(f"{path}: corrupt TFLite file: truncated or malformed flatbuffer "
                        f"({type(exc).__name__})") from None


def inspect_onnx(path: Path) -> dict:
    """Parse an .onnx protobuf (without loading external data)."""
    import onnx
    from .untrusted import check_onnx_external_data

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
        return _tensor_entry(info.name, dims, dtype)

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
            "weight_bytes": dict(weights)}


def inspect_keras(path: Path, unsafe: bool = False) -> dict:
    """Load a Keras model file safely and describe its layers and weights."""
    from .sources import load_keras_file

    from .keras3 import is_keras3_model

    model = load_keras_file(path, unsafe)
    dtype = lambda value: np.dtype(getattr(value, "name", value)).name  # noqa: E731 (Keras 3: str)
    weights = Counter()
    for weight in model.weights:
        weights[dtype(weight.dtype)] += int(np.prod(weight.shape)) * np.dtype(dtype(weight.dtype)).itemsize
    names = getattr(model, "output_names", None) or [t.name for t in model.outputs]
    return {"format": "keras", "name": model.name,
            "saved_by": "Keras 3" if is_keras3_model(model) else "tf_keras (Keras 2)",
            "inputs": [_tensor_entry(t.name, list(t.shape), dtype(t.dtype)) for t in model.inputs],
            "outputs": [_tensor_entry(name, list(t.shape), dtype(t.dtype))
                        for name, t in zip(names, model.outputs)],
            "ops": dict(Counter(type(layer).__name__ for layer in model.layers).most_common()),
            "weight_bytes": dict(weights), "parameters": int(model.count_params())}


def inspect_file(path, unsafe: bool = False) -> dict:
    """Describe an artifact of any registered format (each target parses its own files without
    TensorFlow) or a Keras model file, with its size and manifest."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    from converters.targets import target_for, targets

    suffix = path.suffix.lower()
    artifact_target = target_for(path) if path.is_file() else None
    if artifact_target is not None:
        report = artifact_target.inspect(path)
    elif path.is_dir() or suffix in (".keras", ".h5", ".hdf5"):
        report = inspect_keras(path, unsafe)
    else:
        kinds = ", ".join(t.suffix for t in targets().values())
        raise UserError(f"{path}: not a model file ({kinds}, .keras, .h5 or a SavedModel folder)")
    from .fileio import size_of

    manifest = read_manifest(path) if path.is_file() else None
    integrity = None
    if manifest is not None:
        integrity = (integrity_failures(path, manifest) or ["ok"])[0]
    return {"file": str(path), "size_bytes": size_of(path), **report, "manifest": manifest,
            "integrity": integrity}
