"""What is inside a frozen GraphDef (.pb): inputs, outputs, op histogram and constant bytes,
without TensorFlow."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

from deploytool.converters.targets.pb.graph_reader import graph_endpoints, read_graph
from deploytool.core.errors import UserError


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
