"""ONNX's side of the int8 diagnosis: every quantized activation of a QDQ .onnx next to the same
tensor of the float .onnx (onnxruntime.quantization.qdq_loss_debug's activation matching), and
QDQ models that keep chosen layers in float (quantize_static's nodes_to_exclude) or calibrate
another way (percentile, entropy)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from deploytool.converters.targets.onnx.inputs import INPUT_NAME, image_reader

FUSED_ACTIVATIONS = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh"}
ACTIVATION_RANGE = (0, 255)  # uint8 activations (u8s8, deploytool's QDQ form)


def _graph_maps(proto):
    """Producer node of every tensor, consumer nodes of every tensor, and node order."""
    producer, consumers, order = {}, {}, {}
    for position, node in enumerate(proto.graph.node):
        order[node.name] = position
        for output in node.output:
            producer[output] = node.name
        for name in node.input:
            consumers.setdefault(name, []).append(node.name)
    return producer, consumers, order


NCHW_OPS = {"Conv", "ConvTranspose", "BatchNormalization", "MaxPool", "AveragePool",
            "GlobalAveragePool", "GlobalMaxPool", "LpPool", "InstanceNormalization", "Resize"}


def channel_layouts(proto, nchw_input: bool) -> dict[str, str]:
    """"NCHW" or "NHWC" for every 4-D tensor whose layout can be followed: the input as exported,
    ONNX's own spatial ops write NCHW, Transposes permute, other ops keep their input's layout.
    (tf2onnx keeps most of a graph NCHW between a Transpose after the input and one before the
    classifier, so a tensor's channels are not always on the last axis.)"""
    from onnx import helper

    layouts = {INPUT_NAME: "NCHW" if nchw_input else "NHWC"}
    swap = {(0, 2, 3, 1): {"NCHW": "NHWC"}, (0, 3, 1, 2): {"NHWC": "NCHW"}}
    for node in proto.graph.node:
        source = next((layouts[name] for name in node.input if name in layouts), None)
        if node.op_type in NCHW_OPS:
            layout = "NCHW"
        elif node.op_type == "Transpose":
            perm = tuple(next((helper.get_attribute_value(a) for a in node.attribute if a.name == "perm"), ()))
            layout = swap.get(perm, {}).get(source)
        elif node.op_type in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gemm", "MatMul"):
            layout = None
        else:
            layout = source
        for output in node.output:
            if layout:
                layouts[output] = layout
    return layouts


def tensor_shapes(proto) -> dict[str, tuple]:
    """The shape of every tensor of one image (batch dimension dropped), by ONNX shape inference."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {}
    for info in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in info.type.tensor_type.shape.dim]
        if len(dims) > 1 and all(dims[1:]):
            shapes[info.name] = tuple(dims[1:])
    return shapes


def _quantization_of(quant_proto) -> dict[str, tuple[float, int]]:
    """Scale and zero point of every activation a QuantizeLinear quantizes."""
    from onnx import numpy_helper

    constants = {t.name: numpy_helper.to_array(t) for t in quant_proto.graph.initializer}
    found = {}
    for node in quant_proto.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[1] in constants:
            zero_point = constants.get(node.input[2], np.zeros((), np.uint8)) if len(node.input) > 2 else 0
            found[node.input[0]] = (float(np.ravel(constants[node.input[1]])[0]),
                                    int(np.ravel(zero_point)[0]) if np.size(zero_point) else 0)
    return found


def onnx_activations(float_model: bytes, quant_model: bytes, images: np.ndarray,
                     nchw: bool) -> tuple[list, list[str]]:
    """Every quantized activation tensor of ``quant_model`` (in the float graph's node order) with
    the float model's values of the same tensor, on ``images`` (preprocessed float32, NHWC); and
    the names of the quantized tensors the float model has no tensor of."""
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations, create_activation_matching,
                                                         modify_model_output_intermediate_tensors)

    from deploytool.core.quant_errors import TensorStats
    from deploytool.core.quiet import native_output_silenced

    float_proto, quant_proto = onnx.load_from_string(float_model), onnx.load_from_string(quant_model)
    producer, _, order = _graph_maps(float_proto)
    quantization = _quantization_of(quant_proto)
    with tempfile.TemporaryDirectory(prefix="deploytool-qdq-debug-") as tmp:
        paths = {}
        for kind, proto in (("float", float_proto), ("quant", quant_proto)):
            plain, augmented = Path(tmp, f"{kind}.onnx"), Path(tmp, f"{kind}.aug.onnx")
            onnx.save(proto, plain)
            with native_output_silenced():
                modify_model_output_intermediate_tensors(plain, augmented)
            paths[kind] = str(augmented)
        with native_output_silenced():
            float_acts = collect_activations(paths["float"], image_reader(images, nchw))
            quant_acts = collect_activations(paths["quant"], image_reader(images, nchw))
    matching = create_activation_matching(quant_acts, float_acts)
    layouts = channel_layouts(float_proto, nchw)
    shapes = tensor_shapes(float_proto)

    def channels_last(name, image):
        """One image of a tensor the debugger hands over flattened, in its own shape with the
        channels last (an NCHW tensor's channels are its first axis once the batch is gone)."""
        shape = shapes.get(name)
        if shape and int(np.prod(shape)) == image.size:
            image = image.reshape(shape)
        return np.moveaxis(image, 0, -1) if image.ndim == 3 and layouts.get(name) == "NCHW" else image

    tensors, unmatched = [], []
    for name, values in matching.items():
        if name not in quantization or name == INPUT_NAME:
            continue
        if "float" not in values or name not in producer:
            unmatched.append(name)
            continue
        scale, zero_point = quantization[name]
        node = float_proto.graph.node[order[producer[name]]]
        stats = TensorStats(name, node.op_type, scale, zero_point, *ACTIVATION_RANGE, node=node.name)
        for floating, quantized in zip(values["float"], values["post_qdq"]):  # one image per run
            stats.add(channels_last(name, np.asarray(floating, np.float32)),
                      channels_last(name, np.asarray(quantized, np.float32)))
        tensors.append((order[producer[name]], stats))
    return [tensor for _, tensor in sorted(tensors, key=lambda item: item[0])], unmatched


def onnx_keeping_float_nodes(float_model: bytes, tensors: list[str]) -> list[str]:
    """The float graph's nodes to exclude so that ``tensors`` stay float: each one's producer and
    every node that reads it (else QDQ is inserted before the consumer anyway)."""
    import onnx

    proto = onnx.load_from_string(float_model)
    producer, consumers, order = _graph_maps(proto)
    nodes = []
    for tensor in tensors:
        chain, current = [], producer.get(tensor)
        # back through activations to the op they follow: the quantizer fuses Conv+Relu, so
        # the Conv's output would carry the same quantization otherwise
        while current is not None:
            chain.append(current)
            node = proto.graph.node[order[current]]
            if node.op_type not in FUSED_ACTIVATIONS or not node.input:
                break
            current = producer.get(node.input[0])
        for name in [*chain, *consumers.get(tensor, [])]:
            if name and name not in nodes:
                nodes.append(name)
    return nodes
