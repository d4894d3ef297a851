"""`deploytool inspect`: tensors, ops, weights and manifest of .tflite, .onnx and Keras files."""

import json
from pathlib import Path

import pytest

from support import run_cli


@pytest.fixture
def files(lenet_artifacts):
    return {"tflite": lenet_artifacts["tflite_int8"], "onnx": lenet_artifacts["onnx_fp32"],
            "keras": lenet_artifacts["keras"]}


def inspect(*args):
    return run_cli("inspect", *args)


def test_int8_tflite_shows_its_quantized_input_ops_and_manifest(files):
    result = inspect(files["tflite"], "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (tensor,) = report["inputs"]
    assert tensor["dtype"] == "int8" and tensor["shape"] == [1, 28, 28, 1]
    assert tensor["quantization"]["scale"] == pytest.approx(1 / 255, rel=1e-3)
    assert report["ops"]["CONV_2D"] == 2 and report["ops"]["FULLY_CONNECTED"] == 3
    assert "int8" in report["weight_bytes"]
    assert report["manifest"]["artifact"]["sha256"] and report["size_bytes"] == files["tflite"].stat().st_size


def test_onnx_shows_ops_and_float_weights(files):
    report = json.loads(inspect(files["onnx"], "--json").stdout)
    assert report["inputs"][0]["shape"] == [None, 28, 28, 1]
    assert report["ops"]["Conv"] == 2 and report["weight_bytes"]["float32"] > 0
    assert report["opset"][0] == "ai.onnx 17"


def test_keras_file_shows_layers_and_parameters(files):
    result = inspect(files["keras"])
    assert result.exit_code == 0, result.output
    assert "BatchNormalization" in result.stdout and "float32" in result.stdout


@pytest.mark.parametrize("name, content, message", [
    ("cut.tflite", lambda f: f["tflite"].read_bytes()[:3000], "corrupt TFLite file"),
    ("text.tflite", lambda f: b"hello world, not a model", "not a TFLite file"),
    ("cut.onnx", lambda f: f["onnx"].read_bytes()[:500], "not a valid ONNX model"),
    ("notes.txt", lambda f: b"notes", "not a model file"),
])
def test_corrupt_or_non_model_files_exit_2_with_one_line(tmp_path, files, name, content, message):
    path = tmp_path / name
    path.write_bytes(content(files))
    result = inspect(path)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_missing_file_exits_2(tmp_path):
    result = inspect(Path(tmp_path) / "missing.onnx")
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_onnx_external_data_outside_its_folder_is_refused(tmp_path):
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((2, 2), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])],
                              [weight])
    model = helper.make_model(graph)
    onnx.external_data_helper.set_external_data(model.graph.initializer[0], "../../etc/passwd")
    model.graph.initializer[0].ClearField("raw_data")
    path = tmp_path / "escape.onnx"
    path.write_bytes(model.SerializeToString())
    result = inspect(path)
    assert result.exit_code == 2
    assert "outside the model's folder; refused" in result.stderr
