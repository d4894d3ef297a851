"""Node and tensor names that depend on the model alone.

tf2onnx names what it makes ``NAME__N`` (``new_shape__69``, ``Mean_Squeeze__79``, the names
derived from them: ``BiasAdd__6:0_QuantizeLinear``, and unknown dimensions: ``unk__12``) from a counter global to the process, so the
same model converted after other conversions in one process (a matrix cell, a budget search)
came out with other numbers, other names and another size: nin's .onnx was 315,808 bytes in one
run and 316,050 in another, its numbers the same. Renumbered in the graph's own order, the
file's bytes depend on the model alone.
"""

from __future__ import annotations

import re

# a counter suffix ends its name or precedes a derived name's ":" or "_" (a Keras layer named
# "block__2/conv" keeps its name)
COUNTER = re.compile(r"__(\d+)(?=$|[:_])")


def _dims(graph):
    """Every symbolic dimension of the graph's declared values."""
    for value in [*graph.input, *graph.value_info, *graph.output]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                yield dim


def _names(graph):
    yield from (value.name for value in graph.input)
    yield from (dim.dim_param for dim in _dims(graph))
    for node in graph.node:
        yield node.name
        yield from node.input
        yield from node.output
    yield from (tensor.name for tensor in graph.initializer)
    yield from (value.name for value in graph.value_info)
    yield from (value.name for value in graph.output)


def counters_renumbered(proto) -> None:
    """Renumber tf2onnx's ``__N`` name suffixes of ``proto`` (in place) 1, 2, ... in order of
    first appearance (inputs, then the nodes in order, then initializers and outputs)."""
    order: dict[str, int] = {}
    for name in _names(proto.graph):
        for number in COUNTER.findall(name):
            order.setdefault(number, len(order) + 1)

    def new(name: str) -> str:
        return COUNTER.sub(lambda match: f"__{order[match.group(1)]}", name)

    graph = proto.graph
    for value in [*graph.input, *graph.value_info, *graph.output]:
        value.name = new(value.name)
    for node in graph.node:
        node.name = new(node.name)
        node.input[:] = [new(name) for name in node.input]
        node.output[:] = [new(name) for name in node.output]
    for tensor in graph.initializer:
        tensor.name = new(tensor.name)
    for dim in _dims(graph):
        dim.dim_param = new(dim.dim_param)


def initializers_sorted(proto) -> None:
    """Put ``proto``'s initializers in the order of their names (in place): tf2onnx and ONNX
    Runtime's quantizer write them in an order that follows Python's string hashing, so the same
    model came out as one of several files from one process to the next, and the quantizer,
    given them in another order, quantized AlexNet's .onnx differently (its budget search ranked
    18 layers instead of 19 under one hash seed in eight and kept 14 in float instead of 11)."""
    proto.graph.initializer.sort(key=lambda tensor: tensor.name)
