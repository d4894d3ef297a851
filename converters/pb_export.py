"""A frozen TensorFlow GraphDef (.pb) for OpenCV's TensorFlow importer, the route users take with
``cv2.dnn.readNetFromTensorflow`` (and that fails on graphs with unfolded FusedBatchNormV3,
variables or functions).

The model arrives stripped, BatchNorm-folded and simplified (convert's passes); its inference
function is traced at batch 1 (static shapes: no shape arithmetic for the importer), every variable
and captured tensor frozen into a constant, grouped convolutions traced plain, and the graph
pruned for inference (Identity nodes bypassed, control edges dropped). The text form of the same graph is written
beside it (``.pbtxt``) for reading and for the hand edits OpenCV users make; the frozen .pb loads in
OpenCV on its own (passing the full text graph as OpenCV's ``config`` would define every constant
twice). TensorFlow runs the graph NHWC; OpenCV's importer takes an NCHW blob.

:func:`read_graph` parses a GraphDef in pure Python (the protobuf wire format), so ``inspect``
and OpenCV's runner read a .pb without importing TensorFlow, and a damaged file is a one-line
error.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from deploytool.errors import UserError

from .targets import Exported, ExportTarget
from .tracing import frozen_graph

# TensorFlow's DataType enum -> numpy dtype name and size
DTYPES = {1: ("float32", 4), 2: ("float64", 8), 3: ("int32", 4), 4: ("uint8", 1), 5: ("int16", 2),
          6: ("int8", 1), 7: ("string", 0), 9: ("int64", 8), 10: ("bool", 1), 14: ("bfloat16", 2),
          19: ("float16", 2)}


def export_frozen_graph(model) -> tuple[bytes, str]:
    """The frozen, pruned inference GraphDef of ``model`` at batch 1, binary and as text."""
    from deploytool.keras_env import tf

    try:
        graph_def, _, outputs = frozen_graph(model, batch=1)
        graph_def = prune_for_inference(graph_def, [name.split(":")[0] for name in outputs])
        graph_def = explicit_constants(graph_def)
    except Exception as exc:
        from .tflite_export import conversion_failure

        raise conversion_failure(exc, model, "convert_variables_to_constants_v2") from exc
    functions = [node.op for node in graph_def.node if node.op.endswith("PartitionedCall")]
    if functions or graph_def.library.function:
        raise UserError("the frozen graph still calls TensorFlow functions "
                        f"({', '.join(sorted(set(functions)) or ['library functions'])}), "
                        "which OpenCV's TensorFlow importer cannot read")
    return graph_def.SerializeToString(), str(graph_def)


def prune_for_inference(graph_def, outputs: list[str]):
    """The graph with every Identity and IdentityN bypassed (freezing leaves an Identity after
    each former variable read, and OpenCV's importer loses constants behind them; IdentityN, from
    a custom-gradient function such as swish, is a layer it cannot create), control edges and
    NoOps dropped,
    and only what ``outputs`` need kept."""
    from deploytool.keras_env import tf

    alias = {node.name: node.input[0] for node in graph_def.node
             if node.op == "Identity" and node.name not in outputs
             and len([i for i in node.input if not i.startswith("^")]) == 1}

    # IdentityN (tf.custom_gradient's forward pass, e.g. swish) passes input k through as output k
    passes = {node.name: [i for i in node.input if not i.startswith("^")] for node in graph_def.node
              if node.op == "IdentityN" and node.name not in outputs}

    def resolve(reference: str) -> str:
        name, _, index = reference.partition(":")
        while (name in alias and index in ("", "0")) or name in passes:
            if name in passes:
                name, _, index = passes[name][int(index or 0)].partition(":")
            else:
                name, _, index = alias[name].partition(":")
        return f"{name}:{index}" if index not in ("", "0") else name

    pruned = tf.compat.v1.GraphDef()
    pruned.versions.CopyFrom(graph_def.versions)
    for node in graph_def.node:
        if node.name in alias or node.name in passes or node.op == "NoOp":
            continue
        copy = pruned.node.add()
        copy.CopyFrom(node)
        copy.ClearField("input")
        copy.input.extend(resolve(i) for i in node.input if not i.startswith("^"))
    return fold_constants(tf.compat.v1.graph_util.extract_sub_graph(pruned, outputs), outputs)


def fold_constants(graph_def, outputs: list[str]):
    """The graph with every node computed from constants alone replaced by the constant it
    computes (Keras 3 reshapes a depthwise kernel at run time; OpenCV's importer wants the
    kernel itself as a constant). Only single-output nodes read at output 0 are folded."""
    from deploytool.keras_env import tf

    constant = {node.name for node in graph_def.node if node.op == "Const"}
    multi_output = {ref.split(":")[0] for node in graph_def.node for ref in node.input
                    if ":" in ref and not ref.endswith(":0")}
    folded = []
    for node in graph_def.node:  # frozen graphs are in topological order
        if node.op in ("Const", "Placeholder") or node.name in outputs or node.name in multi_output:
            continue
        if node.input and all(ref.split(":")[0] in constant for ref in node.input):
            constant.add(node.name)
            folded.append(node.name)
    if not folded:
        return graph_def
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            values = session.run([f"{name}:0" for name in folded])
    result = tf.compat.v1.GraphDef()
    result.versions.CopyFrom(graph_def.versions)
    computed = dict(zip(folded, values))
    for node in graph_def.node:
        copy = result.node.add()
        if node.name in computed:
            copy.name, copy.op = node.name, "Const"
            value = computed[node.name]
            copy.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            copy.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        else:
            copy.CopyFrom(node)
    return tf.compat.v1.graph_util.extract_sub_graph(result, outputs)


def explicit_constants(graph_def):
    """The graph with every constant whose value TensorFlow stored compressed (a splat as one
    value, or all zeros as no value at all) written out in full as ``tensor_content``: the same
    values, but OpenCV's importer reads only full values and asserts on an empty field
    (``!field.empty() in function 'getTensorContentRef_'``: a Rescaling offset of 0, a Cropping2D
    slice's zero begin)."""
    from deploytool.keras_env import tf

    for node in graph_def.node:
        if node.op != "Const" or "value" not in node.attr:
            continue
        tensor = node.attr["value"].tensor
        if tensor.tensor_content or tensor.dtype == tf.string.as_datatype_enum:
            continue
        value = tf.make_ndarray(tensor)
        count = max(1, int(value.size))
        stored = max(len(getattr(tensor, field)) for field in
                     ("float_val", "double_val", "int_val", "int64_val", "bool_val", "half_val"))
        if stored == count and count > 1 or (stored == 1 and count == 1):
            continue
        shape = type(tensor.tensor_shape)()
        shape.CopyFrom(tensor.tensor_shape)
        dtype = tensor.dtype
        tensor.Clear()
        tensor.dtype, tensor.tensor_content = dtype, value.tobytes()
        tensor.tensor_shape.CopyFrom(shape)
    return graph_def


# --- a GraphDef read without TensorFlow --------------------------------------------------------
def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


def _fields(data: bytes):
    """(field number, wire type, value) of a protobuf message: ints for varints and fixed
    fields, bytes for length-delimited ones."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            value, position = struct.unpack_from("<Q", data, position)[0], position + 8
        elif wire == 2:
            size, position = _varint(data, position)
            if position + size > len(data):
                raise ValueError("length runs past the end")
            value, position = data[position:position + size], position + size
        elif wire == 5:
            value, position = struct.unpack_from("<I", data, position)[0], position + 4
        else:
            raise ValueError(f"wire type {wire}")
        if number == 0:
            raise ValueError("field number 0")
        yield number, wire, value


def _shape(data: bytes) -> list:
    dims = []
    for number, _, value in _fields(data):
        if number == 2:  # Dim {size = 1}
            size = next((v for n, _, v in _fields(value) if n == 1), 0)
            dims.append(None if size >= 1 << 63 else size)  # -1 as a two's complement varint
    return dims


@dataclass
class GraphNode:
    """A NodeDef as inspect needs it."""

    name: str = ""
    op: str = ""
    inputs: list = field(default_factory=list)
    dtype: str | None = None
    shape: list | None = None
    tensor_bytes: int = 0


def _attr_value(node: GraphNode, key: str, data: bytes) -> None:
    for number, _, value in _fields(data):
        if number == 6 and key in ("dtype", "T"):
            node.dtype = DTYPES.get(value, (f"type {value}", 0))[0]
        elif number == 7 and key == "shape":
            node.shape = _shape(value)
        elif number == 8 and key == "value":  # TensorProto
            dtype, shape, content = None, [], b""
            for tensor_number, _, tensor_value in _fields(value):
                if tensor_number == 1:
                    dtype = tensor_value
                elif tensor_number == 2:
                    shape = _shape(tensor_value)
                elif tensor_number == 4:
                    content = tensor_value
            name, size = DTYPES.get(dtype, (f"type {dtype}", 0))
            count = 1
            for dim in shape:
                count *= dim or 0
            node.dtype, node.shape = name, shape
            node.tensor_bytes = len(content) or count * size


def read_graph(data: bytes) -> list[GraphNode]:
    """The nodes of a serialized GraphDef; a malformed one raises ValueError."""
    nodes = []
    for number, wire, value in _fields(data):
        if number != 1 or wire != 2:
            continue
        node = GraphNode()
        for node_number, node_wire, node_value in _fields(value):
            if node_wire != 2:
                continue
            if node_number == 1:
                node.name = node_value.decode("utf-8", "replace")
            elif node_number == 2:
                node.op = node_value.decode("utf-8", "replace")
            elif node_number == 3:
                node.inputs.append(node_value.decode("utf-8", "replace"))
            elif node_number == 5:  # map entry {key = 1, value = 2}
                entry = {n: v for n, _, v in _fields(node_value)}
                _attr_value(node, entry.get(1, b"").decode("utf-8", "replace"), entry.get(2, b""))
        nodes.append(node)
    if not nodes:
        raise ValueError("no nodes")
    return nodes


def graph_endpoints(nodes: list[GraphNode]) -> tuple[list[GraphNode], list[GraphNode]]:
    """The Placeholder inputs and the output nodes (consumed by no other node) of a graph."""
    consumed = {name.lstrip("^").split(":")[0] for node in nodes for name in node.inputs}
    inputs = [node for node in nodes if node.op == "Placeholder"]
    outputs = [node for node in nodes if node.name not in consumed and node.op not in ("Const", "NoOp")
               and node.op != "Placeholder"]
    return inputs, outputs


def inspect_pb(path) -> dict:
    """Inputs, outputs, op histogram and constant bytes of a frozen GraphDef, without TensorFlow."""
    path = Path(path)
    try:
        nodes = read_graph(path.read_bytes())
    except (ValueError, struct.error, UnicodeError) as exc:
        raise UserError(f"{path}: not a valid TensorFlow GraphDef ({exc})") from None
    inputs, outputs = graph_endpoints(nodes)
    weights = Counter()
    for node in nodes:
        if node.op == "Const" and node.dtype:
            weights[node.dtype] += node.tensor_bytes
    return {"format": "pb",
            "inputs": [{"name": n.name, "shape": n.shape, "dtype": n.dtype} for n in inputs],
            "outputs": [{"name": n.name, "shape": None, "dtype": n.dtype} for n in outputs],
            "ops": dict(Counter(node.op for node in nodes if node.op != "Const").most_common()),
            "weight_bytes": dict(weights)}


class PbTarget(ExportTarget):
    """A frozen TensorFlow GraphDef; runs on TensorFlow itself and OpenCV's TensorFlow importer."""

    name = "pb"
    label = "TF GraphDef"
    suffix = ".pb"
    precisions = ("fp32",)
    runtime = "tensorflow"

    def exporter(self, keras3: bool) -> str:
        return ("convert_variables_to_constants_v2 on the " + ("Keras 3 " if keras3 else "") +
                "inference function (batch 1), pruned for inference")

    def export(self, model, precision, calibration, options) -> Exported:
        binary, text = export_frozen_graph(model)
        return Exported(binary, {".pbtxt": text.encode()})

    def input_layout(self, options) -> str:
        return "NHWC"  # TensorFlow's; OpenCV's TensorFlow importer is fed NCHW

    def inspect(self, path) -> dict:
        return inspect_pb(path)
