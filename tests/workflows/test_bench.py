"""`deploytool bench`: measured latency, throughput, memory and size per artifact and runtime."""

import json

import pytest
from PIL import Image

from support import run_cli


@pytest.fixture
def artifacts(lenet_artifacts):
    return [lenet_artifacts["tflite_fp32"], lenet_artifacts["onnx_fp32"]]


def test_one_runtime_is_timed_with_the_keras_baseline(lenet_artifacts):
    result = run_cli("bench", lenet_artifacts["tflite_fp32"], "--backend", "tflite", "--runs", "3",
                     "--warmup", "1", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["artifact"], r["backend"], r["status"]) for r in rows] == [
        ("lenet_bn.keras (Keras baseline)", "keras", "ok"), ("lenet_bn_fp32.tflite", "tflite", "ok")]
    assert 0 < rows[1]["median_ms"] <= rows[1]["p90_ms"]


@pytest.mark.heavy
def test_every_artifact_is_timed_on_every_runtime_with_a_keras_baseline(artifacts, tmp_path):
    plot = tmp_path / "latency.png"
    result = run_cli("bench", *artifacts, "--runs", "5", "--warmup", "1",
                     "--json", "--plot", plot)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["artifact"], r["backend"]) for r in rows] == [
        ("lenet_bn.keras (Keras baseline)", "keras"), ("lenet_bn_fp32.tflite", "tflite"),
        ("lenet_bn_fp32.tflite", "opencv"), ("lenet_bn_fp32.tflite", "mediapipe"),
        ("lenet_bn_fp32.tflite", "litert_arm64"),
        ("lenet_bn_fp32.onnx", "onnxruntime"), ("lenet_bn_fp32.onnx", "opencv")]
    grey = rows.pop(3)  # MediaPipe's image tasks take RGB models only
    assert grey["status"] == "error" and "RGB" in grey["error"]
    for row in rows:
        assert row["status"] == "ok", row
        assert row["emulated"] == (row["backend"] == "litert_arm64")
        assert 0 < row["median_ms"] <= row["p90_ms"]
        assert row["images_per_second"] == pytest.approx(1000 / row["median_ms"])
        assert row["size_bytes"] > 0 and row["peak_memory_mb"] > 0
    tflite_memory = rows[1]["peak_memory_mb"]
    assert tflite_memory < rows[0]["peak_memory_mb"]  # LiteRT's child never loads TensorFlow
    assert Image.open(plot).size[0] > 0


@pytest.mark.heavy
def test_batch_option_feeds_batches(artifacts):
    result = run_cli("bench", artifacts[1], "--backend", "onnxruntime", "--batch", "4", "--runs", "3",
                     "--json")
    rows = json.loads(result.stdout)
    assert rows[-1]["images_per_second"] == pytest.approx(4000 / rows[-1]["median_ms"])


def test_bad_arguments_exit_2(artifacts, tmp_path):
    assert run_cli("bench", artifacts[0], "--runs", "0").exit_code == 2
    result = run_cli("bench", tmp_path / "none.tflite")
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_keras_baseline_is_a_compiled_call_without_predict_overhead():
    import statistics

    import numpy as np

    from deploytool.runtimes.keras_runner import KerasRunner
    from deploytool.models import create_model

    model = create_model("lenet_bn", input_shape=(28, 28, 1), num_classes=10)
    images = np.random.default_rng(0).random((1, 28, 28, 1), np.float32)
    runner = KerasRunner(model=model).load()
    np.testing.assert_allclose(runner.infer(images), model.predict_on_batch(images), atol=1e-6)
    compiled = statistics.median(runner.time_inference(images, runs=20, warmup=3))
    for _ in range(3):
        model.predict_on_batch(images)
    timings = []
    for _ in range(20):
        import time

        start = time.perf_counter()
        model.predict_on_batch(images)
        timings.append(time.perf_counter() - start)
    assert compiled < statistics.median(timings) / 2


def test_profile_gives_each_operators_time_where_the_runtime_reports_it(lenet_artifacts):
    """ONNX Runtime's profiler and OpenCV's per-layer timings name the operators of the .onnx,
    slowest first, with shares that add up; LiteRT says in one line why it has none."""
    result = run_cli("bench", lenet_artifacts["onnx_fp32"], lenet_artifacts["tflite_fp32"],
                     "--profile", "--runs", "3", "--json")
    assert result.exit_code == 0, result.output
    profiles = {(p["artifact"], p["backend"]): p for p in json.loads(result.stdout)}
    onnx = profiles[("lenet_bn_fp32.onnx", "onnxruntime")]
    assert any(row["op"] == "Conv" for row in onnx["operators"]) and onnx["total_ms"] > 0
    times = [row["ms"] for row in onnx["operators"]]
    assert times == sorted(times, reverse=True)
    assert abs(sum(onnx["by_op"].values()) - onnx["total_ms"]) < 1e-6
    assert profiles[("lenet_bn_fp32.onnx", "opencv")]["operators"]
    assert "no per-operator profiler" in profiles[("lenet_bn_fp32.tflite", "tflite")]["error"]


def test_profile_of_a_frozen_graph_comes_from_tensorflows_step_statistics(tmp_path):
    from deploytool.converters.options import ConvertOptions
    from deploytool.workflows.conversion.convert import convert
    from deploytool.workflows.measuring.profile import profile

    from support import zoo_source

    artifact = convert(zoo_source("lenet_bn", (28, 28, 1)), ConvertOptions(to="pb", out_dir=tmp_path),
                       remember=False).artifact
    (measured,) = profile([artifact], "tensorflow", runs=2)
    assert measured.error is None and "Conv2D" in measured.by_op and measured.total_ms > 0


def test_an_int8_artifact_slower_than_its_float_twin_is_said_with_both_figures():
    from deploytool.workflows.measuring.bench import BenchRow, slower_than_float

    rows = [BenchRow("m_fp32.tflite", "tflite", 1000, median_ms=0.016, precision="fp32", reference="m.keras"),
            BenchRow("m_int8.tflite", "tflite", 400, median_ms=0.076, precision="int8", reference="m.keras"),
            BenchRow("m_int8.onnx", "onnxruntime", 400, median_ms=0.05, precision="int8", reference="m.keras"),
            BenchRow("n_int8.tflite", "tflite", 400, median_ms=0.01, precision="int8", reference="n.keras")]
    assert slower_than_float(rows) == [
        "on tflite, m_int8.tflite takes 0.076 ms against 0.016 ms for m_fp32.tflite: int8 is 4.8x "
        "slower than float32 here (`deploytool bench --profile` shows where the time goes)"]


def test_an_int8_artifact_finds_the_fp32_one_of_the_same_model_beside_it(tmp_path):
    """convert times an int8 file against this float sibling (and says so when int8 is slower);
    another model's fp32 file in the same folder is not its sibling."""
    from deploytool.converters.options import ConvertOptions
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.measuring.bench import against_float_sibling, float_sibling
    from deploytool.workflows.conversion.convert import convert

    tiny = dict(input_shape=(28, 28, 1), num_classes=10, width=0.25)
    lenet = load_source("lenet_bn", **tiny)
    int8 = convert(lenet, ConvertOptions(to="onnx", precision="int8", out_dir=tmp_path,
                                         calib_samples=16)).artifact
    assert float_sibling(int8) is None and against_float_sibling(int8) == []
    convert(load_source("alexnet", **tiny), ConvertOptions(to="onnx", out_dir=tmp_path))
    assert float_sibling(int8) is None
    fp32 = convert(lenet, ConvertOptions(to="onnx", out_dir=tmp_path)).artifact
    assert float_sibling(int8)[0] == fp32 and float_sibling(int8)[1].precision == "fp32"
    assert float_sibling(fp32) is None
