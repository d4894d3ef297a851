"""`deploytool matrix`: real conversions and verifications rendered as the compatibility page."""

from click.testing import CliRunner

from deploytool.cli import main


def test_matrix_of_one_model_covers_every_artifact_and_runtime(tmp_path):
    out = tmp_path / "compatibility.md"
    result = CliRunner().invoke(main, ["matrix", "lenet_bn", "--input-shape", "28,28,1",
                                       "--width", "1", "--samples", "8", "--out", str(out),
                                       "--artifacts", str(tmp_path / "artifacts")])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for heading in ("## TFLite interpreter (LiteRT)", "## OpenCV dnn", "## ONNX Runtime",
                    "## TensorFlow (GraphDef)", "## Failures and their causes"):
        assert heading in text
    lenet_rows = [line for line in text.splitlines() if line.startswith("| lenet_bn |")]
    assert len(lenet_rows) == 4  # one table per runtime
    tflite, onnxruntime, opencv, tensorflow = lenet_rows
    assert tflite.count("✅") == 3 and onnxruntime.count("✅") == 2 and tensorflow.count("✅") == 1
    assert opencv.count("✅") == 5  # all but int8 TFLite, which OpenCV's importer cannot load
    assert "lenet_bn · TFLite int8 · OpenCV dnn**: new and classic engines" in text
    assert "upstream limitation" in text
    assert "11 of 12 runnable cells pass" in text  # 6 kinds x 4 runtimes, less 12 unreadable
