"""ResNet-50 at 224x224x3 (random weights, randomised BN statistics): every figure
docs/commands/convert.md quotes, each measured side by side in one run on this CPU (2 threads,
batch 1).

- int8 vs fp32 TFLite latency (LiteRT) and size; int8 vs fp32 ONNX Runtime latency and size
- folded vs unfolded Keras latency (eager call and predict_on_batch)
- `deploytool convert` vs the bare TFLiteConverter call for the same output (fp32 and int8)

    .venv/bin/python benchmarks/resnet50.py [--out /tmp/deploytool-r50] [--runs 30]

Latencies are medians, each runtime in its own child process (`deploytool bench`).
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from deploytool.converters.options import ConvertOptions
from deploytool.converters.passes.fold_batchnorm import fold_batchnorm
from deploytool.core.keras_env import tf
from deploytool.core.quiet import native_output_silenced
from deploytool.models.weights import randomize_batchnorm
from deploytool.sources.calibration import calibration_set
from deploytool.sources.model_source import load_source
from deploytool.workflows.measuring.bench import bench
from deploytool.workflows.conversion.convert import convert


def median_seconds(call, runs, warmup=3):
    for _ in range(warmup):
        call()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def bare_tflite(model, calibration=None):
    """What a user writes by hand: TFLiteConverter on the Keras model, nothing else."""
    start = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    with native_output_silenced(stdout=True):
        converter.convert()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/deploytool-r50")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    out = Path(args.out)
    source = load_source("resnet50")
    randomize_batchnorm(source.model, seed=0)
    source.trained = True  # randomised statistics give decisive outputs: judge top-1 too
    model = source.model
    figures = {}

    image = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
    folded, _ = fold_batchnorm(model)
    for name, candidate in (("unfolded", model), ("folded", folded)):
        figures[f"keras eager {name} ms"] = 1e3 * median_seconds(
            lambda: candidate(image, training=False), args.runs)
        figures[f"keras predict_on_batch {name} ms"] = 1e3 * median_seconds(
            lambda: candidate.predict_on_batch(image), args.runs)
    print(json.dumps(figures, indent=2), flush=True)

    calibration = calibration_set(None, source.preprocessing, 300).images
    artifacts, conversion = {}, {}
    for to, precision in (("tflite", "fp32"), ("tflite", "int8"), ("onnx", "fp32"), ("onnx", "int8")):
        options = ConvertOptions(to=to, precision=precision, out_dir=out)
        started = time.perf_counter()
        result = convert(source, options)
        key = f"{to} {options.precision}"
        conversion[key] = {"pipeline_s": time.perf_counter() - started,
                           "conversion_s": result.manifest.record["conversion_seconds"],
                           "size_bytes": result.manifest.record["artifact"]["size_bytes"],
                           "parity": result.manifest.record["parity"]["figures"]}
        artifacts[key] = result.artifact
        print(key, json.dumps(conversion[key]), flush=True)
    conversion["bare tflite fp32"] = {"conversion_s": bare_tflite(model)}
    conversion["bare tflite int8"] = {"conversion_s": bare_tflite(model, calibration)}
    print(json.dumps({k: v for k, v in conversion.items() if k.startswith("bare")}), flush=True)

    rows = {f"{row.artifact} {row.backend}": row for row in
            bench(list(artifacts.values()), "all", threads=2, batch=1, runs=args.runs, warmup=5)}
    latency = {key: row.median_ms for key, row in rows.items() if row.status == "ok"}
    print(json.dumps(latency, indent=2), flush=True)
    lat = lambda name, backend: latency[f"{artifacts[name].name} {backend}"]  # noqa: E731
    ratios = {
        "TFLite int8 / fp32 latency (LiteRT)": lat("tflite int8", "tflite") / lat("tflite fp32", "tflite"),
        "ONNX int8 / fp32 latency (ONNX Runtime)": lat("onnx int8", "onnxruntime") / lat("onnx fp32", "onnxruntime"),
        "TFLite int8 / fp32 size": conversion["tflite int8"]["size_bytes"] / conversion["tflite fp32"]["size_bytes"],
        "ONNX int8 / fp32 size": conversion["onnx int8"]["size_bytes"] / conversion["onnx fp32"]["size_bytes"],
        "Keras eager call, unfolded / folded time": figures["keras eager unfolded ms"] / figures["keras eager folded ms"],
        "Keras predict_on_batch, unfolded / folded time": figures["keras predict_on_batch unfolded ms"] / figures["keras predict_on_batch folded ms"],
        "convert fp32 (strip+fold+export) / bare converter": conversion["tflite fp32"]["conversion_s"] / conversion["bare tflite fp32"]["conversion_s"],
        "convert int8 (strip+fold+export) / bare converter": conversion["tflite int8"]["conversion_s"] / conversion["bare tflite int8"]["conversion_s"],
        "whole convert fp32 (+ reference, parity, manifest) / bare converter": conversion["tflite fp32"]["pipeline_s"] / conversion["bare tflite fp32"]["conversion_s"],
    }
    print("\n| measured side by side | ratio |\n|---|---:|")
    for name, value in ratios.items():
        print(f"| {name} | {value:.3f} |")
    print("\n| artifact | size | runtime | median latency |\n|---|---:|---|---:|")
    for key, row in rows.items():
        if row.status == "ok":
            print(f"| {row.artifact} | {row.size_bytes / 1e6:.1f} MB | {row.backend}"
                  f"{' (' + row.engine + ')' if row.engine else ''} | {row.median_ms:.1f} ms |")
    (out / "benchmark.json").write_text(json.dumps(
        {"keras": figures, "conversion": conversion, "latency_ms": latency, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
