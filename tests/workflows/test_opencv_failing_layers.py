"""When OpenCV cannot load or run an artifact and its message names no layer, verify names it: in
a .tflite from the file (the int8 op with the fused activation OpenCV has no table for, the
FULLY_CONNECTED fed a 4-D map, an op whose code OpenCV cannot read, an int8 MUL), from the CLASSIC
engine's own log, and in an .onnx by running OpenCV on cuts of the graph."""

import json

import numpy as np
import pytest

from deploytool.core.keras_env import keras

from support import run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.fixture(scope="module")
def fc_on_a_1x1_map(tmp_path_factory):
    """conv (ReLU) -> a conv down to a 1x1 map -> Flatten -> Dense: the TFLite converter folds the
    Flatten into the FULLY_CONNECTED, which OpenCV's importer then reads with the wrong K."""
    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = layers.Flatten(name="flat")(layers.Conv2D(8, 8, name="to_1x1")(x))
    path = tmp_path_factory.mktemp("fc") / "fc1x1.keras"
    keras.Model(inputs, layers.Dense(3, name="fc")(x)).save(path)
    return path


def _classifier(folder, name: str, body):
    """8x8x3 -> ``body(inputs)`` -> global average pooling -> a 3-class softmax, saved as
    FOLDER/NAME.keras."""
    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = layers.GlobalAveragePooling2D(name="gap")(body(inputs))
    path = folder / f"{name}.keras"
    keras.Model(inputs, layers.Dense(3, activation="softmax", name="fc")(x)).save(path)
    return path


@pytest.fixture(scope="module")
def gated_gelu(tmp_path_factory):
    """conv * sigmoid(conv) -> GELU: the GELU's op code (150) is past what OpenCV's importer
    reads; in int8 OpenCV's new engine has no int8 MUL."""
    layers = keras.layers

    def body(inputs):
        gate = layers.Multiply(name="gate")([
            layers.Conv2D(4, 3, padding="same", name="conv_a")(inputs),
            layers.Conv2D(4, 3, padding="same", activation="sigmoid", name="conv_b")(inputs)])
        return layers.Activation("gelu", name="gelu")(gate)

    return _classifier(tmp_path_factory.mktemp("gelu"), "gated_gelu", body)


@pytest.fixture(scope="module")
def elu(tmp_path_factory):
    """conv -> ELU: an op OpenCV's TFLite importer has no layer for."""
    layers = keras.layers
    return _classifier(tmp_path_factory.mktemp("elu"), "elu", lambda inputs: layers.ELU(name="elu")(
        layers.Conv2D(4, 3, padding="same", name="conv")(inputs)))


@pytest.mark.parametrize("model, flags, layer", [
    ("fc_on_a_1x1_map", [], "(FULLY_CONNECTED fed a 4-D map)"),
    ("fc_on_a_1x1_map", ["--int8"], "at layer model/conv/Relu (CONV_2D with a fused RELU, int8)"),
    ("gated_gelu", [], "at layer model/gelu/Gelu/mul_2 (GELU, an op code above 127)"),
    ("gated_gelu", ["--int8"], "at layer model/gate/mul (MUL, int8)"),
    ("elu", [], "at layer model/elu/Elu (ELU)"),
])
def test_verify_names_the_tflite_layer_opencv_fails_on(model, flags, layer, tmp_path, request):
    converted = run_cli("convert", request.getfixturevalue(model), *flags, "--out", tmp_path,
                        "--json")
    assert converted.exit_code == 0, converted.output
    artifact = json.loads(converted.output[converted.output.index("{"):])["artifact"]["file"]
    result = run_cli("verify", tmp_path / artifact, "--backend", "opencv", "--json")
    assert result.exit_code == 1
    row = json.loads(result.stdout[result.stdout.index("{"):])["rows"][0]
    assert any(layer in failure for failure in row["failures"]), row["failures"]


def test_the_classic_engines_own_log_names_the_layer_whose_shape_it_cannot_work_out(
        fc_on_a_1x1_map, tmp_path):
    from deploytool.runtimes.isolation import run_isolated

    converted = run_cli("convert", fc_on_a_1x1_map, "--out", tmp_path, "--json")
    artifact = json.loads(converted.output[converted.output.index("{"):])["artifact"]["file"]
    run = run_isolated(tmp_path / artifact, "opencv", np.zeros((1, 8, 8, 3), np.float32),
                       engine="classic")
    assert run.kind == "error" and "'K_b' is 8" in run.error
    assert run.error.endswith("; at layer StatefulPartitionedCall:0 (Gemm; input [1 x 8 x 1 x 1]; "
                              "weights [3 x 8])")


def test_verify_finds_the_onnx_node_opencv_fails_on_by_cutting_the_graph(tmp_path):
    layers = keras.layers
    _classifier(tmp_path, "ln", lambda inputs: layers.LayerNormalization(name="norm")(
        layers.Conv2D(4, 3, padding="same", name="conv")(inputs)))
    converted = run_cli("convert", tmp_path / "ln.keras", "--to", "onnx", "--out", tmp_path)
    assert converted.exit_code == 0, converted.output
    result = run_cli("verify", tmp_path / "ln_fp32.onnx", "--backend", "opencv", "--json")
    assert result.exit_code == 1
    row = json.loads(result.stdout[result.stdout.index("{"):])["rows"][0]
    # tf2onnx spells LayerNormalization out; OpenCV's NEW engine fails at its first Expand
    assert row["failures"][-1].startswith("at node model/norm/zeros (Expand); reproduction: ")
    reproduction = tmp_path / "ln_fp32_diagnose" / "opencv_repro_model_norm_zeros.onnx"
    assert str(reproduction) in row["failures"][-1]
    import cv2
    import onnxruntime

    image = np.zeros((1, 8, 8, 3), np.float32)
    session = onnxruntime.InferenceSession(str(reproduction), providers=["CPUExecutionProvider"])
    assert session.run(None, {session.get_inputs()[0].name: image})[0].shape == (64,)
    net = cv2.dnn.readNetFromONNX(str(reproduction), cv2.dnn.ENGINE_NEW)
    net.setInput(image)
    with pytest.raises(cv2.error, match=r"buf.shape\(\) == m.shape\(\)"):
        net.forward()


def test_an_engine_that_names_no_layer_is_looked_up_when_the_other_names_one(gated_gelu, tmp_path):
    """EfficientNetB0's int8 .tflite, as OpenCV failed it: CLASSIC named a layer ("Can't create
    layer"), NEW did not; the layer NEW fails on is still read from the file."""
    from deploytool.workflows.verification.verify import opencv_failing_layer

    converted = run_cli("convert", gated_gelu, "--int8", "--out", tmp_path)
    assert converted.exit_code == 0, converted.output
    message = ("new engine: error: cannot load: Unknown operation type \"mul\" in function "
               "'EltwiseLayerInt8Impl' (Bad argument); classic engine: error: failed to run: Can't "
               "create layer \"StatefulPartitionedCall:0\" of type \"GemmInt8\" in function "
               "'getLayerInstance' (Unspecified error)")
    assert opencv_failing_layer(tmp_path / "gated_gelu_int8.tflite", message, None) == \
        "at layer model/gate/mul (MUL, int8)"
    named_by_both = message.replace("Unknown operation type \"mul\"", "Can't create layer \"x\"")
    assert opencv_failing_layer(tmp_path / "gated_gelu_int8.tflite", named_by_both, None) is None
