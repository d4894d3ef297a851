"""Every node output of a frozen GraphDef on TensorFlow, for comparing runtimes layer by layer:
by node name, the name OpenCV's TensorFlow importer gives the layer."""

from __future__ import annotations

import numpy as np


def pb_tensors(content: bytes, images: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """{node name: (op, values of its first output over ``images`` (N, ...), NHWC)} of every
    node with a float output, in graph order (constants and the input left out)."""
    from deploytool.converters.targets.pb.graph_reader import graph_endpoints, read_graph
    from deploytool.core.keras_env import tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(content)
    inputs, _ = graph_endpoints(read_graph(content))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    fetched = [node for node in graph_def.node if node.op not in ("Const", "Placeholder")]
    tensors = [graph.get_tensor_by_name(f"{node.name}:0") for node in fetched]
    keep = [(node, tensor) for node, tensor in zip(fetched, tensors) if tensor.dtype.is_floating]
    with tf.compat.v1.Session(graph=graph) as session:
        runs = [session.run([tensor for _, tensor in keep],
                            {f"{inputs[0].name}:0": images[i:i + 1]}) for i in range(len(images))]
    return {node.name: (node.op, np.concatenate([np.asarray(run[k], np.float32) for run in runs]))
            for k, (node, _) in enumerate(keep)}
