"""`deploytool matrix`: real conversions and verifications rendered as the compatibility page."""

import pytest

from deploytool.cluster.local_cluster import LocalCluster
from support import run_cli

pytestmark = pytest.mark.heavy  # trains and converts whole models on every runtime


def test_matrix_of_one_model_covers_every_artifact_and_runtime(tmp_path):
    out = tmp_path / "compatibility.md"
    result = run_cli("matrix", "lenet_bn", "--random", "--input-shape", "28,28,1",
                     "--width", "1", "--samples", "8", "--out", out,
                     "--artifacts", tmp_path / "artifacts")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for heading in ("## TFLite interpreter (LiteRT)", "## OpenCV dnn", "## ONNX Runtime",
                    "## TensorFlow (GraphDef)", "## LiteRT 1.4 on ARM64 (emulated)",
                    "## Failures and their causes"):
        assert heading in text
    lenet_rows = [line for line in text.splitlines() if line.startswith("| lenet_bn |")]
    assert len(lenet_rows) == 6  # one table per runtime
    tflite, onnxruntime, opencv, tensorflow, mediapipe, arm64 = lenet_rows
    assert tflite.count("✅") == 3 and onnxruntime.count("✅") == 2 and tensorflow.count("✅") == 1
    assert arm64.count("✅") == 3  # every .tflite on the app's LiteRT, emulated
    assert mediapipe.count("🚫") == 3  # a grey model: MediaPipe feeds RGB only, not a failure
    assert "## Files a client does not take" in text
    assert opencv.count("✅") == 5  # all but int8 TFLite, which OpenCV's importer cannot load
    assert "lenet_bn · TFLite int8 · OpenCV dnn**: new and classic engines" in text
    assert "upstream limitation" in text
    # 6 kinds x 6 runtimes, less 18 unreadable and 3 MediaPipe declines
    assert "14 of 15 runnable cells pass; 3 files a client does not take" in text


def test_trained_matrix_reports_accuracy_latency_size_and_gpu_and_resumes(tmp_path):
    import json

    from PIL import Image

    out, work = tmp_path / "compatibility.md", tmp_path / "work"
    args = ["matrix", "lenet_bn", "--epochs", "3", "--out", str(out),
            "--artifacts", str(work)]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for heading in ("## TFLite interpreter (LiteRT)", "## Size and phone GPU",
                    "## Failures and their causes", "![accuracy change per cell](compatibility.png)"):
        assert heading in text
    data = json.loads(out.with_suffix(".json").read_text())
    cells = data["models"]["lenet_bn"]["cells"]
    measured = [c for c in cells if c["status"] == "pass"]
    assert len(measured) == 14  # 11, and the three .tflite files on the ARM64 LiteRT
    for cell in measured:  # every passing cell: accuracy against float, latency, size
        assert 0 <= cell["figures"]["accuracy"] <= 1 and cell["figures"]["accuracy_reference"] > 0.1
        assert 0 < cell["median_ms"] < 1000 and cell["size_bytes"] > 1000
    float_top1 = measured[0]["figures"]["accuracy_reference"]
    assert f"| lenet_bn ({100 * float_top1:.1f}) |" in text
    tflite = [c for c in cells if c["artifact"].startswith("TFLite") and c["status"] != "-"]
    assert all(c["gpu"]["ready"] for c in tflite) and "GPU ✅" in text
    assert Image.open(out.with_suffix(".png")).size[0] > 300
    # a rerun reuses the trained model and the cached cells
    again = run_cli(*args)
    assert again.exit_code == 0 and "training" not in again.stderr and "TFLite fp32" not in again.stderr
    assert json.loads(out.with_suffix(".json").read_text())["models"] == data["models"]
    # every cell computed again on a two-node cluster: the same cells but for latency and paths
    with LocalCluster(nodes=2, cpus_per_node=1) as address:
        on_cluster = run_cli(*args, "--fresh", "--ray-address", address)
    assert on_cluster.exit_code == 0, on_cluster.output
    assert "lenet_bn: timing on" in on_cluster.stderr  # its timing step, after its cell
    again_cells = json.loads(out.with_suffix(".json").read_text())["models"]["lenet_bn"]["cells"]
    assert without_timing_or_paths(again_cells) == without_timing_or_paths(cells)


def without_timing_or_paths(cells: list[dict]) -> list[dict]:
    """Cells as two runs in other places and at other moments must agree on them."""
    return [{k: v for k, v in cell.items() if k not in ("median_ms", "file", "path")} for cell in cells]


def test_a_page_says_which_cpu_and_whether_it_has_vnni():
    from deploytool.reports.matrix_sections import cpu_words

    assert cpu_words("model name\t: AMD EPYC\nflags\t\t: fpu avx avx2\n").endswith(
        "(AMD EPYC, without VNNI)")
    assert cpu_words("model name\t: Xeon\nflags\t\t: avx2 avx512f avx512_vnni amx_int8\n").endswith(
        "(Xeon, with VNNI)")
