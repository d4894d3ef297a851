"""Will a .tflite file run on a phone's GPU? The ops the LiteRT GPU delegate would not take.

The rules are those of the GPU delegate's own compatibility check
(tensorflow/lite/tools/versioning/gpu_compatibility.cc, ``CheckGpuDelegateCompatibility``): the
ops it has kernels for, and the option limits it checks (fused activations, softmax beta,
strided-slice masks, tensor ranks of SLICE/STRIDED_SLICE, mirror-pad mode, fully-connected
weights format, int16 dequantization). They are applied here to the flatbuffer in pure Python,
because LiteRT's ``Analyzer.analyze(gpu_compatibility=True)`` in the builds this tool installs
(TensorFlow 2.21, ai-edge-litert 2.x) reports every model compatible, even one made of ops the
delegate has no kernel for (SEGMENT_SUM, LOCAL_RESPONSE_NORMALIZATION, REVERSE_V2). The check is
static: it says what the delegate would refuse, not how fast the GPU runs the rest.
"""

from __future__ import annotations

from collections import Counter

from deploytool.converters.targets.tflite.flatbuffer import (CUSTOM, builtin_code, operator_names,
                                                             read_tflite)

UNARY = {"ABS", "CEIL", "COS", "ELU", "EXP", "FLOOR", "GELU", "LOG", "LOGISTIC", "NEG", "RSQRT",
         "SIGN", "SIN", "SQRT", "SQUARE", "TANH"}
BINARY = {"ATAN2", "DIV", "EQUAL", "FLOOR_DIV", "FLOOR_MOD", "GREATER", "GREATER_EQUAL",
          "LOGICAL_AND", "LESS", "LESS_EQUAL", "MAXIMUM", "MINIMUM", "NOT_EQUAL", "POW",
          "SQUARED_DIFFERENCE", "SUB"}
# every builtin op the delegate's check has a case for
SUPPORTED = UNARY | BINARY | {
    "ADD", "ADD_N", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CAST", "CONCATENATION", "CONV_2D",
    "CUMSUM", "DENSIFY", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE", "DYNAMIC_UPDATE_SLICE",
    "EMBEDDING_LOOKUP", "FULLY_CONNECTED", "GATHER", "HARD_SWISH", "LSTM", "MAX_POOL_2D", "MEAN",
    "MIRROR_PAD", "MUL", "ONE_HOT", "PACK", "PAD", "PADV2", "PRELU", "QUANTIZE", "REDUCE_MAX",
    "REDUCE_MIN", "REDUCE_PROD", "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "RESHAPE",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "SELECT", "SELECT_V2", "SLICE", "SOFTMAX",
    "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "STABLEHLO_CLAMP", "STRIDED_SLICE", "SUM", "TILE",
    "TRANSPOSE", "TRANSPOSE_CONV",
}
SIGN_BIT = 5  # ActivationFunctionType.SIGN_BIT, the one fused activation the delegate refuses
INT16 = 7


def _options(schema, op):
    """The op's builtin options table, typed (None when it has none)."""
    table = op.BuiltinOptions()
    if table is None:
        return None
    names = {value: name for name, value in vars(schema.BuiltinOptions).items()
             if not name.startswith("_")}
    cls = getattr(schema, names.get(op.BuiltinOptionsType(), ""), None)
    if cls is None:
        return None
    options = cls()
    options.Init(table.Bytes, table.Pos)
    return options


def _limit(name: str, options, input_ranks: list[int], input_types: list[int]) -> str | None:
    """Why the delegate refuses this supported op with these options and inputs, or None."""
    activation = getattr(options, "FusedActivationFunction", lambda: 0)() if options else 0
    if activation == SIGN_BIT:
        return "fused SIGN_BIT activation"
    if name == "SOFTMAX" and options is not None and options.Beta() != 1:
        return f"softmax beta {options.Beta():g} (only 1)"
    if name == "STRIDED_SLICE":
        if options is not None and (options.EllipsisMask() or options.NewAxisMask()
                                    or options.ShrinkAxisMask()):
            return "strided slice with an ellipsis, new-axis or shrink-axis mask"
        if input_ranks and input_ranks[0] not in (3, 4):
            return f"strided slice of a {input_ranks[0]}-D tensor (3-D or 4-D only)"
    if name == "SLICE" and input_ranks and input_ranks[0] not in (3, 4):
        return f"slice of a {input_ranks[0]}-D tensor (3-D or 4-D only)"
    if name == "MIRROR_PAD" and options is not None and options.Mode() != 0:
        return "symmetric mirror padding (reflect only)"
    if name == "FULLY_CONNECTED" and options is not None and options.WeightsFormat() != 0:
        return "shuffled fully-connected weights"
    if name == "DEQUANTIZE" and input_types and input_types[0] == INT16:
        return "int16 dequantization"
    if name in ("ADD", "MUL") and len(input_ranks) != 2:
        return f"{name} of {len(input_ranks)} inputs (two only)"
    return None


def gpu_readiness(path) -> dict:
    """``{"ready": bool, "refused": {op: reason}, "ops": {op: count}}`` for a .tflite file: whether
    every op would run on LiteRT's GPU delegate, and for each op it would refuse, why."""
    return readiness_of(*read_tflite(path))


def readiness_of(schema, model) -> dict:
    """:func:`gpu_readiness` of a flatbuffer already read by :func:`read_tflite`."""
    names = operator_names(schema, model)
    refused, ops = {}, Counter()
    for index in range(model.SubgraphsLength()):
        graph = model.Subgraphs(index)
        for position in range(graph.OperatorsLength()):
            op = graph.Operators(position)
            name = names[op.OpcodeIndex()]
            ops[name] += 1
            if builtin_code(model.OperatorCodes(op.OpcodeIndex())) == CUSTOM:
                refused.setdefault(name, "custom op")
                continue
            if name not in SUPPORTED:
                refused.setdefault(name, "no GPU kernel")
                continue
            inputs = [graph.Tensors(op.Inputs(i)) for i in range(op.InputsLength())
                      if op.Inputs(i) >= 0]
            why = _limit(name, _options(schema, op), [t.ShapeLength() for t in inputs],
                         [t.Type() for t in inputs])
            if why:
                refused.setdefault(name, why)
    return {"ready": not refused, "refused": refused, "ops": dict(ops)}


def describe(readiness: dict) -> str:
    """One line: "yes" or "no: OP (why), ..."."""
    if readiness["ready"]:
        return "yes"
    return "no: " + ", ".join(f"{op} ({why})" for op, why in readiness["refused"].items())
