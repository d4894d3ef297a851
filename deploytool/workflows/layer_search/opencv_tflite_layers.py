"""The layer of a .tflite that an OpenCV load or run failure points at, when OpenCV's message does
not name it: read from the flatbuffer (pure Python), named by the op's output tensor as verify's
other lines name layers, with the op.

OpenCV's TFLite importer says "Lookup table for RELU" (an int8 op with a fused activation it has
no table for), "'K_b' is 64" (a FULLY_CONNECTED fed a 4-D 1x1 map), "PLACEHOLDER_FOR_GREATER_OP_CODES"
(an op whose code is 128 or more, such as GELU: the importer reads only the deprecated one-byte
code), "Unsupported operator type ELU" (an op it has no layer for), "Unknown opcode for INT8 Eltwise layer 'SUB'" or "Unknown operation type "mul"" (an int8
SUB or MUL) without a layer ("Can't create layer "NAME" of type "T"" names its own).
"""

from __future__ import annotations

import re

from deploytool.converters.targets.tflite.flatbuffer import operator_names, read_tflite

# builtin options that carry a fused activation, by their BuiltinOptions member name
FUSED = ("Conv2DOptions", "DepthwiseConv2DOptions", "FullyConnectedOptions", "AddOptions",
         "MulOptions", "SubOptions", "Pool2DOptions")
INT8 = 9  # TensorType.INT8
NEWER_OPS = 127  # deprecated_builtin_code of every op numbered 128 or more


def _ops(path):
    """(op name, output tensor, input tensors, fused activation name) of every operator of the
    main subgraph, in execution order."""
    schema, model = read_tflite(path)
    names = operator_names(schema, model)
    activations = {value: name for name, value in vars(schema.ActivationFunctionType).items()
                   if not name.startswith("_")}
    options_by_number = {getattr(schema.BuiltinOptions, name): name for name in FUSED}
    graph = model.Subgraphs(0)
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        fused = None
        kind = options_by_number.get(op.BuiltinOptionsType())
        if kind and op.BuiltinOptions() is not None:
            options = getattr(schema, kind)()
            options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            fused = activations.get(options.FusedActivationFunction())
        inputs = [graph.Tensors(i) for i in op.InputsAsNumpy() if i >= 0]
        newer = model.OperatorCodes(op.OpcodeIndex()).DeprecatedBuiltinCode() == NEWER_OPS
        yield names[op.OpcodeIndex()], graph.Tensors(op.Outputs(0)), inputs, fused, newer


def _name(tensor) -> str:
    """The tensor's name up to its first ';' (the TFLite converter joins the names of the ops it
    fused: "m/fc6_dense/MatMul;m/fc6_relu/Relu;...")."""
    return tensor.Name().decode(errors="replace").split(";")[0]


def failing_layer(path, message: str) -> str | None:
    """"at layer <name> (<OP>)" for the op of the .tflite at ``path`` that OpenCV's ``message``
    points at, or None when the message is not one of these or no op fits."""
    table = re.search(r"Lookup table for (\w+)", message)
    try:
        ops = list(_ops(path))
    except Exception:  # noqa: BLE001 - a file the flatbuffer reader cannot walk names no layer
        return None
    unsupported = re.search(r"Unsupported operator type (\w+)", message)
    unsupported = unsupported.group(1) if unsupported else None
    eltwise = re.search(r"INT8 Eltwise layer '(\w+)'|Unknown operation type \"(\w+)\"", message)
    eltwise = (eltwise.group(1) or eltwise.group(2)).upper() if eltwise else None
    for op, output, inputs, fused, newer in ops:
        if table and output.Type() == INT8 and (fused == table.group(1) or op == table.group(1)):
            return f"at layer {_name(output)} ({op} with a fused {table.group(1)}, int8)"
        if "'K_b' is" in message and op == "FULLY_CONNECTED" and inputs and \
                inputs[0].ShapeLength() == 4:
            return f"at layer {_name(output)} (FULLY_CONNECTED fed a 4-D map)"
        if "PLACEHOLDER_FOR_GREATER_OP_CODES" in message and newer:
            return f"at layer {_name(output)} ({op}, an op code above 127)"
        if eltwise and op == eltwise and output.Type() == INT8:
            return f"at layer {_name(output)} ({op}, int8)"
        if unsupported and op == unsupported:
            return f"at layer {_name(output)} ({op})"
    return None
