"""Plain int8 ONNX (QDQ, no layer kept in float) of every trained zoo model of
docs/compatibility.md, in OpenCV dnn against ONNX Runtime and the float model, on all 360
held-out digits.

The matrix converts int8 within an accuracy budget and may keep layers in float (ResNet-101's
.onnx: all 140), so its int8 cells do not show alone whether OpenCV computes int8 right. This
does: the same plain int8 file on both runtimes.

    .venv/bin/python benchmarks/opencv_int8_onnx.py [MODEL ...]

Reads the trained runs in artifacts/matrix/runs (made by `deploytool matrix`); writes the files to
artifacts/opencv-int8, the results to docs/opencv-int8-onnx.json (a model already stored is
skipped unless named) and the table to docs/opencv-int8-onnx.md after each model.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from deploytool.core.fileio import write_bytes, write_json
from deploytool.reports.matrix_settings import SAMPLES
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import ConvertOptions, convert
from deploytool.workflows.verification.verify import verify

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "artifacts" / "matrix" / "runs"
WORK = ROOT / "artifacts" / "opencv-int8"
RESULTS = ROOT / "docs" / "opencv-int8-onnx.json"
MAX_DROP = 1.0  # points of top-1 against float, the matrix's int8 budget


def measure(model: str) -> dict:
    """Plain int8 .onnx of the trained ``model``, verified on ONNX Runtime and OpenCV."""
    started = time.perf_counter()
    source = load_source(str(RUNS / model))
    result = convert(source, ConvertOptions(to="onnx", precision="int8", out_dir=WORK / model,
                                            calib_samples=100))
    report = verify([result.artifact], "all", data="digits", samples=SAMPLES)
    row = {"seconds": None, "size_bytes": result.manifest.record["artifact"]["size_bytes"]}
    for verdict in report.rows:
        if verdict.backend not in ("onnxruntime", "opencv"):
            continue
        figures = verdict.figures or {}
        row[verdict.backend] = {
            "status": verdict.status, "engine": verdict.engine, "failures": verdict.failures,
            "accuracy": figures.get("accuracy"), "float_accuracy": figures.get("accuracy_reference"),
            "change_interval": figures.get("accuracy_change_interval"),
            "agreement": figures.get("top1_agreement"), "min_cosine": figures.get("min_cosine"),
            "samples": figures.get("samples")}
    row["seconds"] = round(time.perf_counter() - started)
    return row


def _change(cell: dict) -> float | None:
    if not cell or cell.get("accuracy") is None:
        return None
    return 100 * (cell["accuracy"] - cell["float_accuracy"])


def _cell(cell: dict) -> str:
    change = _change(cell)
    if change is None:
        return "❌ " + "; ".join(cell.get("failures") or ["did not run"]) if cell else "–"
    interval = cell.get("change_interval")
    sure = f" [{100 * interval[0]:+.1f}, {100 * interval[1]:+.1f}]" if interval else ""
    mark = "✅" if change >= -MAX_DROP - 1e-9 else "❌"
    return (f"{mark} {100 * cell['accuracy']:.1f} ({change:+.1f}{sure}), agreement "
            f"{cell['agreement']:.3f}, worst cosine {cell['min_cosine']:.3f}"
            + (f" ({cell['engine']})" if cell.get("engine") else ""))


def write_page(results: dict) -> Path:
    """docs/opencv-int8-onnx.md from the stored results."""
    changes = {model: (_change(row.get("opencv")), _change(row.get("onnxruntime")))
               for model, row in results.items()}
    within = [m for m, (opencv, _) in changes.items() if opencv is not None and opencv >= -MAX_DROP - 1e-9]
    same = [m for m, (opencv, ort) in changes.items() if opencv is not None and opencv == ort]
    lines = ["# Plain int8 ONNX in OpenCV dnn, on the trained zoo", "",
             "Each trained model of [compatibility.md](compatibility.md) converted by "
             "`deploytool convert RUN --to onnx --int8` (QDQ, 100 calibration digits, no layer kept "
             "in float) and verified by `deploytool verify` on ONNX Runtime and OpenCV dnn on all "
             f"{SAMPLES} held-out digits. A cell: top-1 accuracy in %, its change from the float "
             "Keras model in points with the change's paired 95 % interval, top-1 agreement with "
             "float, the worst image's cosine. Regenerate with "
             "`.venv/bin/python benchmarks/opencv_int8_onnx.py` (after `deploytool matrix`).", "",
             f"**In OpenCV, {len(within)} of {len(results)} models' plain int8 ONNX keep top-1 "
             f"within {MAX_DROP:g} point of float; on {len(same)} OpenCV's accuracy is exactly "
             "ONNX Runtime's on the same file.** A model that loses more in OpenCV loses it in "
             "ONNX Runtime too: the quantization's loss, which `convert --max-drop` (the "
             "budget) keeps in check, not OpenCV's.", "",
             "| model (float top-1) | ONNX Runtime | OpenCV dnn | time |", "|---|---|---|---:|"]
    for model, row in results.items():
        reference = (row.get("onnxruntime") or {}).get("float_accuracy")
        label = f"{model} ({100 * reference:.1f})" if reference is not None else model
        lines.append(f"| {label} | {_cell(row.get('onnxruntime'))} | {_cell(row.get('opencv'))} | "
                     f"{row['seconds']} s |")
    missing = sorted({p.name for p in RUNS.iterdir() if p.is_dir()} - set(results)) if RUNS.exists() else []
    if missing:
        lines += ["", f"Not measured yet: {', '.join(missing)}."]
    page = ROOT / "docs" / "opencv-int8-onnx.md"
    write_bytes(page, ("\n".join(lines) + "\n").encode())
    return page


def main(names: list[str]) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    models = names or sorted(p.name for p in RUNS.iterdir() if p.is_dir())
    for model in models:
        if model in results and model not in names:
            continue
        print(f"{model} ...", flush=True)
        results[model] = measure(model)
        results = dict(sorted(results.items()))
        write_json(RESULTS, results)
        print(f"  {write_page(results).name}: {_cell(results[model].get('opencv'))}", flush=True)
    write_page(results)


if __name__ == "__main__":
    main(sys.argv[1:])
