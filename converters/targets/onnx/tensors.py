"""Every node output of a .onnx on ONNX Runtime (each float one added as a graph output), for comparing
runtimes layer by layer: by node name, the name OpenCV's ONNX importer gives the layer
(``onnx_node!<name>``)."""

from __future__ import annotations

import numpy as np


def onnx_tensors(content: bytes, images: np.ndarray, nchw: bool) -> dict[str, tuple[str, np.ndarray]]:
    """{node name: (op type, values of its first output over ``images`` (N, ...))} of every node
    whose first output is a float tensor (not a scalar), in graph order; ``images`` are NHWC, fed NCHW when the
    file takes NCHW."""
    import onnx
    import onnxruntime

    proto = onnx.load_from_string(content)
    nodes = [(node.name, node.op_type, node.output[0]) for node in proto.graph.node if node.output]
    inferred = onnx.shape_inference.infer_shapes(proto)
    typed = {info.name: info for info in [*inferred.graph.value_info, *inferred.graph.output]}
    present = {output.name for output in proto.graph.output}
    for _, _, output in nodes:  # every node's first float output becomes a graph output
        info = typed.get(output)
        if output not in present and info is not None and \
                info.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            proto.graph.output.append(info)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    feed = images.transpose(0, 3, 1, 2) if nchw else images
    runs = [dict(zip(names, session.run(None, {session.get_inputs()[0].name: feed[i:i + 1]})))
            for i in range(len(feed))]
    return {name: (op, np.concatenate([np.asarray(run[output], np.float32) for run in runs]))
            for name, op, output in nodes
            if output in runs[0] and np.asarray(runs[0][output]).dtype.kind == "f"
            and np.asarray(runs[0][output]).ndim > 0}  # a scalar (a swish's beta) is no layer
