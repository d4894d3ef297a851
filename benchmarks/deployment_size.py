"""The zoo at the size people deploy: every zoo model at 224x224x3, full width, 1000 classes
(random weights, randomised BatchNorm statistics), each artifact kind (.tflite fp32, fp16,
dynamic range, int8; .onnx fp32, int8; .pb fp32) on each runtime that runs it, at 1 and 2
threads: median and p90 latency (batch 1), size, and the int8/fp32 and fp16/fp32 ratios.

    .venv/bin/python benchmarks/deployment_size.py [--models resnet18,vgg16] [--runs 20] [--fresh]
        [--ray-address HEAD | --serial]

Results accumulate in docs/deployment-size.json (a model measured with the same settings is not
measured again unless --fresh or named in --models), and docs/deployment-size.md and .png are
rewritten from it. Each model is a cell of deploytool.cluster that measures time: on Ray (a local
instance, or the cluster at --ray-address) it runs with its node to itself, one model a node at a
time; each model's result is kept in --work as it ends, so an interrupted run resumes there. Each artifact kind of each model is
converted in a process of its own, and each runtime runs in its own child process (`deploytool bench`). Speed does not depend on the weights' values; int8 is calibrated on
32 images (enough for a scale; the accuracy of these random-weight models is not the point here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.cluster.cells import Cell, cache_file
from deploytool.cluster.run import run_cells
from deploytool.core.child import call_in_child
from deploytool.core.fileio import write_bytes, write_json
from deploytool.models.weights import randomize_batchnorm
from deploytool.sources.model_source import load_source
from deploytool.workflows.measuring.bench import MIN_SECONDS, bench
from deploytool.workflows.conversion.convert import convert

DOCS = Path(__file__).resolve().parents[1] / "docs"
RESULTS = DOCS / "deployment-size.json"
ARTIFACTS = (("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "dynamic"), ("tflite", "int8"),
             ("onnx", "fp32"), ("onnx", "int8"), ("pb", "fp32"))
THREADS = (1, 2)
CALIBRATION_IMAGES = 32
# cheapest first, so that a run cut short has measured the most models
ORDER = ("lenet_bn", "mobilenet_v2", "nin", "alexnet", "resnet18", "googlenet", "regnetx_32",
         "bn_inception", "densenet121", "resnet34", "resnet50", "resnet50_v2", "se_resnet50",
         "resnext50_32x4d", "se_resnext50_32x4d", "vgg11", "resnet101", "resnet152", "vgg16")


def settings(runs: int) -> dict:
    """What a stored result was measured with (a result with other settings is measured again)."""
    return {"input_shape": [224, 224, 3], "width": 1.0, "num_classes": 1000, "batch": 1,
            "runs": runs, "min_seconds": MIN_SECONDS, "threads": list(THREADS),
            "calibration_images": CALIBRATION_IMAGES,
            "artifacts": [f"{to} {precision}" for to, precision in ARTIFACTS]}


def convert_one(name: str, to: str, precision: str, out: Path, log) -> dict:
    """Convert zoo model ``name`` (224x224x3, randomised BatchNorm statistics) to one artifact
    kind in ``out``; a kind this model cannot take is a record with its error, not the end."""
    started = time.perf_counter()
    source = load_source(name, input_shape=(224, 224, 3))
    randomize_batchnorm(source.model, seed=0)
    try:
        result = convert(source, ConvertOptions(to=to, precision=precision, out_dir=out,
                                                calib_samples=CALIBRATION_IMAGES), remember=False)
    except Exception as error:
        log(f"{name} {to} {precision}: conversion failed: {error}")
        return {"error": f"{type(error).__name__}: {error}"[:300]}
    log(f"{name} {to} {precision}: {result.manifest.size_bytes / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.0f} s")
    return {"artifact": result.artifact.name, "size_bytes": result.manifest.size_bytes,
            "convert_seconds": round(time.perf_counter() - started, 1)}


def in_child(function: str, *args) -> dict:
    """This script's ``function`` called with ``args`` in a process of its own: one process
    converting the seven kinds of VGG-11 in turn grew past this machine's 24 GiB; one model per
    process was not enough. A process that ends without a result is ``{"error": how}``."""
    answer = call_in_child(f"{__file__}:{function}", *args, echo=True)
    if answer.ok:
        return answer.value
    hint = " (SIGKILL: the out-of-memory killer, most likely)" if "SIGKILL" in answer.error else ""
    return {"error": f"its process ended without a result: {answer.error}{hint}"}


def convert_in_child(name: str, to: str, precision: str, work: str) -> dict:
    """:func:`convert_one`, in :func:`in_child`'s process."""
    return convert_one(name, to, precision, Path(work) / name, say)


def measure_in_child(name: str, runs: int, work: str) -> dict:
    """:func:`measure_model`, as a cell of deploytool.cluster runs it (in a process of its own),
    with the load average of its node before and after (what else ran meanwhile: this run's own
    work keeps it near 1-2 on 2 cores)."""
    load_before = os.getloadavg()[0]
    measured = measure_model(name, runs, Path(work), say)
    return {**measured, "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def say(message: str) -> None:
    """A progress line, at once."""
    print(message, flush=True)


def measure_model(name: str, runs: int, work: Path, log) -> dict:
    """Convert ``name`` to every artifact kind (each in its own process) and time each on every
    runtime that reads it (each runtime in its own process, through ``bench``)."""
    out = work / name
    artifacts, conversions = [], {}
    for to, precision in ARTIFACTS:
        record = in_child("convert_in_child", name, to, precision, str(work))
        if "error" in record and "artifact" not in record:
            log(f"{name} {to} {precision}: {record['error']}")
        conversions[f"{to} {precision}"] = record
        if "artifact" in record:
            artifacts.append(out / record["artifact"])
    rows = []
    for threads in THREADS:
        for row in bench(artifacts, "all", threads=threads, batch=1, runs=runs, warmup=3):
            rows.append({"artifact": row.artifact, "runtime": row.backend, "threads": threads,
                         "engine": row.engine, "precision": row.precision, "status": row.status,
                         "median_ms": row.median_ms, "p90_ms": row.p90_ms,
                         "size_bytes": row.size_bytes, "error": row.error})
            log(f"{name} {row.artifact} {row.backend} x{threads}: "
                + (f"{row.median_ms:.2f} ms" if row.status == "ok" else f"error {row.error}"))
    shutil.rmtree(out, ignore_errors=True)  # VGG-16's artifacts alone are gigabytes
    return {"conversions": conversions, "rows": rows}


def zoo_seconds(results: dict) -> int | None:
    """The time one command takes to measure the whole zoo: each model's measuring time (its
    conversions and timings, each model timed as it ran), added up; None until all are stored.
    Models measured in several runs add up the same as in one."""
    if not set(results["models"]) >= set(ORDER):
        return None
    return round(sum(results["models"][name]["seconds"] for name in ORDER))


def save(results: dict) -> None:
    """The results stored (with the whole zoo's time, derived) and the page rewritten from them."""
    results["wall_seconds"] = zoo_seconds(results)
    write_json(RESULTS, results)
    write_page(results)


def kind_of(row: dict) -> str:
    """'tflite int8' for a row's artifact ('keras' for the baseline)."""
    if row["runtime"] == "keras":
        return "keras"
    suffix = Path(row["artifact"]).suffix.lstrip(".")
    return f"{suffix} {row['precision']}"


def ratio(rows: list[dict], runtime: str, threads: int, fmt: str, precision: str) -> float | None:
    """``precision``'s median over fp32's, same model, format, runtime and threads."""
    def median(wanted):
        return next((r["median_ms"] for r in rows if r["status"] == "ok" and r["runtime"] == runtime
                     and r["threads"] == threads and kind_of(r) == f"{fmt} {wanted}"), None)
    low, float_ms = median(precision), median("fp32")
    return low / float_ms if low and float_ms else None


def write_page(results: dict) -> None:
    """docs/deployment-size.md and .png from the stored results."""
    wall_seconds = results.get("wall_seconds")
    models = [name for name in ORDER if name in results["models"]]
    missing = [name for name in ORDER if name not in results["models"]]
    lines = ["# The zoo at deployment size", "",
             "Every zoo model at 224x224x3, full width, 1000 classes (random weights, randomised "
             "BatchNorm statistics: speed does not depend on the values), batch 1, on this "
             "machine's CPU (2 cores). Median and p90 of "
             + (f"at least {results['settings']['runs']} timed calls, more until they add up to "
                f"{results['settings']['min_seconds']:g} s," if results["settings"].get("min_seconds")
                else f"{results['settings']['runs']} timed calls")
             + " after 3 warm-up calls (`deploytool bench`), each runtime in its own child "
             "process. int8 is calibrated on "
             f"{CALIBRATION_IMAGES} images. Regenerate with "
             "`.venv/bin/python benchmarks/deployment_size.py` (it measures only models not yet "
             "stored; `--fresh` measures all again)"
             + (f"; measuring the whole zoo takes {wall_seconds / 60:.0f} min (the models' own "
                f"measuring times added up: {wall_seconds} s)." if wall_seconds else "."), ""]
    unmeasured = results.get("unmeasured", {})
    if unmeasured:
        lines += ["Could not be measured on this machine: " + "; ".join(
            f"{name}: {why}" for name, why in unmeasured.items()) + ".", ""]
    missing = [name for name in missing if name not in unmeasured]
    if missing:
        lines += [f"Not measured yet: {', '.join(missing)}.", ""]
    loads = {name: results["models"][name].get("load_average") for name in models}
    busy = [name for name, load in loads.items() if load is None or max(load) > 2.5]
    if busy:
        lines += ["Measured while other work shared the 2 cores (1-minute load average above 2.5 "
                  "at the start or end, or not recorded): " + ", ".join(busy) + ". Their single "
                  "figures can be off by 2x; the ratios of one model are from the same minutes.", ""]
    lines += ["![median latency at 2 threads](deployment-size.png)", "",
              "## int8 and fp16 against fp32 (median latency ratio; below 1 is faster)", "",
              "| model | LiteRT int8/fp32 x1 | x2 | LiteRT fp16/fp32 x2 | LiteRT dynamic/fp32 x2 "
              "| ONNX Runtime int8/fp32 x1 | x2 | OpenCV int8/fp32 (.onnx) x2 |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in models:
        rows = results["models"][name]["rows"]
        cells = [ratio(rows, "tflite", 1, "tflite", "int8"), ratio(rows, "tflite", 2, "tflite", "int8"),
                 ratio(rows, "tflite", 2, "tflite", "fp16"), ratio(rows, "tflite", 2, "tflite", "dynamic"),
                 ratio(rows, "onnxruntime", 1, "onnx", "int8"), ratio(rows, "onnxruntime", 2, "onnx", "int8"),
                 ratio(rows, "opencv", 2, "onnx", "int8")]
        lines.append(f"| {name} | " + " | ".join(f"{c:.2f}" if c else "-" for c in cells) + " |")
    lines += ["", "## Every artifact on every runtime", "",
              "| model | artifact | size | runtime | 1 thread median / p90 | 2 threads median / p90 |",
              "|---|---|---:|---|---:|---:|"]
    for name in models:
        rows = results["models"][name]["rows"]
        keys = list(dict.fromkeys((kind_of(r), r["runtime"]) for r in rows))
        for kind, runtime in keys:
            by_threads = {r["threads"]: r for r in rows if (kind_of(r), r["runtime"]) == (kind, runtime)}
            any_row = next(iter(by_threads.values()))
            engine = next((r["engine"] for r in by_threads.values() if r["engine"]), None)
            cells = []
            for threads in THREADS:
                row = by_threads.get(threads)
                if row is None:
                    cells.append("-")
                elif row["status"] != "ok":
                    cells.append("fails: " + (row["error"] or "").split("\n")[0][:80].replace("|", "/"))
                else:
                    cells.append(f"{row['median_ms']:.2f} / {row['p90_ms']:.2f} ms")
            lines.append(f"| {name} | {kind} | {any_row['size_bytes'] / 1e6:.1f} MB | {runtime}"
                         f"{' (' + engine + ')' if engine else ''} | {cells[0]} | {cells[1]} |")
        failed = {k: v["error"] for k, v in results["models"][name]["conversions"].items() if "error" in v}
        for kind, error in failed.items():
            lines.append(f"| {name} | {kind} | - | conversion | fails: {error[:80]} | |")
    write_bytes(DOCS / "deployment-size.md", ("\n".join(lines) + "\n").encode())
    plot(results, models)


def plot(results: dict, models: list[str]) -> None:
    """Median latency at 2 threads per model, one bar per artifact kind on its own runtime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series = [("tflite fp32", "tflite"), ("tflite fp16", "tflite"), ("tflite int8", "tflite"),
              ("onnx fp32", "onnxruntime"), ("onnx int8", "onnxruntime"),
              ("onnx fp32", "opencv"), ("onnx int8", "opencv")]
    figure, axis = plt.subplots(figsize=(11, 0.5 * max(len(models), 1) * len(series) / 3 + 1.5))
    height = 0.8 / len(series)
    positions = np.arange(len(models))
    for index, (kind, runtime) in enumerate(series):
        values = []
        for name in models:
            row = next((r for r in results["models"][name]["rows"] if r["threads"] == 2
                        and r["runtime"] == runtime and kind_of(r) == kind and r["status"] == "ok"), None)
            values.append(row["median_ms"] if row else np.nan)
        axis.barh(positions + index * height, values, height, label=f"{kind} on {runtime}")
    axis.set_yticks(positions + 0.4 - height / 2, models)
    axis.invert_yaxis()
    axis.set(xscale="log", xlabel="median latency, batch 1, 2 threads (ms, log scale)",
             title="The zoo at 224x224x3 on this CPU")
    axis.grid(axis="x", which="both", alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(DOCS / "deployment-size.png", dpi=90)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated zoo names (default: the whole zoo)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--work", default="/tmp/deploytool-deployment-size")
    parser.add_argument("--fresh", action="store_true", help="measure stored models again")
    parser.add_argument("--page-only", action="store_true", help="rewrite the page from the JSON")
    parser.add_argument("--ray-address", help="a Ray cluster's head (default: a local instance)")
    parser.add_argument("--serial", action="store_true", help="one model after another, without Ray")
    args = parser.parse_args()
    work = Path(args.work)
    wanted = args.models.split(",") if args.models else list(ORDER)
    unknown = sorted(set(wanted) - set(ORDER))
    if unknown:
        parser.error(f"not zoo models: {', '.join(unknown)}")
    current = settings(args.runs)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.page_only:
        save(results)
        return
    if results.get("settings") != current or args.fresh:
        results = {"settings": current, "models": {}, "wall_seconds": None}
    started = time.perf_counter()
    # named models are measured again; the whole zoo measures only what is not stored. Each
    # model is a cell that measures time: on Ray, alone on its node (deploytool.cluster)
    todo = [name for name in ORDER if name in wanted and (args.models or name not in results["models"])]
    cells = [Cell(name, f"{Path(__file__).resolve()}:measure_in_child", (name, args.runs, str(work)),
                  exclusive=True) for name in todo]
    for cell in cells:
        cache_file(work, cell).unlink(missing_ok=True)
    for name, result in run_cells(cells, work, args.ray_address, args.serial, log=say).items():
        if not result.ok or "rows" not in result.value:  # its process was killed or failed
            results.setdefault("unmeasured", {})[name] = result.error or result.value["error"]
            print(f"{name}: not measured", flush=True)
            continue
        results.get("unmeasured", {}).pop(name, None)
        results["models"][name] = {**result.value, "seconds": round(result.seconds), "node": result.node}
        print(f"{name}: {results['models'][name]['seconds']} s", flush=True)
    save(results)
    print(f"measured {len(todo)} models in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
