"""A serialized TensorFlow GraphDef read in pure Python (the protobuf wire format), so that
``inspect`` and the OpenCV and TensorFlow runners read a .pb without importing TensorFlow, and a
damaged file is a one-line error."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# TensorFlow's DataType enum -> numpy dtype name and size
DTYPES = {1: ("float32", 4), 2: ("float64", 8), 3: ("int32", 4), 4: ("uint8", 1), 5: ("int16", 2),
          6: ("int8", 1), 7: ("string", 0), 9: ("int64", 8), 10: ("bool", 1), 14: ("bfloat16", 2),
          19: ("float16", 2)}


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
