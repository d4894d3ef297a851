"""An .onnx (its names and its nodes) depends on the model alone, not on what the process
converted before."""

import pytest
from onnx import helper

from deploytool.converters.targets.onnx.export import export_onnx
from deploytool.converters.targets.onnx.names import counters_renumbered
from deploytool.core.keras_env import keras


def _model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(x)))


def test_the_same_model_exported_again_in_one_process_gives_the_same_bytes():
    model = _model()
    first = export_onnx(model, 17).SerializeToString(deterministic=True)
    export_onnx(_model(), 17)  # tf2onnx's name counter moves on meanwhile
    again = export_onnx(model, 17).SerializeToString(deterministic=True)
    assert first == again
    assert b"__1" in first  # tf2onnx's own names kept their form


def _small_nin():
    from deploytool.models import create_model

    keras.utils.set_random_seed(0)
    # 28x28 leaves NiN 1x1 feature maps, whose transposes tf2onnx turns into Reshapes
    return create_model("nin", input_shape=(28, 28, 1), num_classes=10, width=0.25)


@pytest.mark.parametrize("counter", [9, 50, 500, 5000])
def test_the_optimizers_keep_the_same_nodes_whatever_the_name_counter_stood_at(counter):
    """tf2onnx sorts nodes by name before its transpose optimizer; with its counter at 500 (a
    fresh process starts it at 1) this NiN kept another set of Reshapes."""
    from tf2onnx import utils

    model = _small_nin()
    fresh = export_onnx(model, 13).SerializeToString(deterministic=True)
    utils.INTERNAL_NAME = counter  # as if other conversions had run in this process
    assert export_onnx(model, 13).SerializeToString(deterministic=True) == fresh


def test_twelve_conversions_in_one_process_give_one_file():
    """Sets of tf2onnx's nodes, ordered by address, had made about one conversion in six keep 7
    Reshapes instead of 8 (or the reverse)."""
    model = _small_nin()
    files = {export_onnx(model, 13).SerializeToString(deterministic=True) for _ in range(12)}
    assert len(files) == 1


def test_counters_are_renumbered_in_graph_order_and_layer_names_are_kept():
    nodes = [helper.make_node("Reshape", ["input", "new_shape__69"], ["block__2/conv:0"], name="block__2/conv"),
             helper.make_node("Squeeze", ["block__2/conv:0"], ["Mean_Squeeze__79:0"], name="Mean_Squeeze__79"),
             helper.make_node("QuantizeLinear", ["Mean_Squeeze__79:0", "s"], ["Mean_Squeeze__79:0_QuantizeLinear"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", 1, [1, 4])],
                              [helper.make_tensor_value_info("Mean_Squeeze__79:0_QuantizeLinear", 1, [4])],
                              [helper.make_tensor("new_shape__69", 7, [1], [4])])
    proto = helper.make_model(graph)
    counters_renumbered(proto)
    assert [n.name for n in proto.graph.node][:2] == ["block__2/conv", "Mean_Squeeze__2"]
    assert list(proto.graph.node[0].input) == ["input", "new_shape__1"]
    assert proto.graph.initializer[0].name == "new_shape__1"
    assert proto.graph.output[0].name == "Mean_Squeeze__2:0_QuantizeLinear"


def test_initializers_are_put_in_the_order_of_their_names():
    from deploytool.converters.targets.onnx.names import initializers_sorted

    tensors = [helper.make_tensor(name, 7, [1], [i]) for i, name in enumerate(["new_shape__9", "a", "new_shape__4"])]
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", 1, [1])],
                              [helper.make_tensor_value_info("y", 1, [1])], tensors)
    proto = helper.make_model(graph)
    initializers_sorted(proto)
    assert [t.name for t in proto.graph.initializer] == ["a", "new_shape__4", "new_shape__9"]
    assert [t.int64_data[0] for t in proto.graph.initializer] == [1, 2, 0]  # each keeps its values


def test_conversions_in_two_threads_at_once_each_give_the_one_file():
    from concurrent.futures import ThreadPoolExecutor

    model = _small_nin()
    fresh = export_onnx(model, 13).SerializeToString(deterministic=True)
    with ThreadPoolExecutor(2) as pool:
        files = list(pool.map(lambda _: export_onnx(model, 13).SerializeToString(deterministic=True),
                              range(4)))
    assert files == [fresh] * 4
