"""Every node output of a .onnx on ONNX Runtime, as the per-layer comparison reads them."""

import numpy as np
import onnx
from onnx import TensorProto, helper

from deploytool.converters.targets.onnx.tensors import onnx_tensors


def test_every_float_node_output_is_kept_but_a_scalar_which_is_no_layer():
    """A scalar per image (a swish's beta, a global sum) cannot be stacked over images, nor
    compared as a layer: it is left out, the maps around it kept."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["relu"], name="relu"),
         helper.make_node("ReduceSum", ["relu"], ["total"], name="total", keepdims=0),
         helper.make_node("Mul", ["relu", "total"], ["y"], name="scaled")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    images = np.random.default_rng(0).normal(size=(3, 2, 2, 3)).astype(np.float32)
    tensors = onnx_tensors(model.SerializeToString(), images, nchw=False)
    assert list(tensors) == ["relu", "scaled"]
    relu = np.maximum(images, 0)
    np.testing.assert_allclose(tensors["scaled"][1],
                               relu * relu.reshape(3, -1).sum(1)[:, None, None, None], rtol=1e-5)
    assert tensors["relu"][0] == "Relu" and tensors["relu"][1].shape == (3, 2, 2, 3)
    onnx.checker.check_model(model)
