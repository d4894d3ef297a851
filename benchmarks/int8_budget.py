"""int8 within an accuracy budget on every zoo model trained briefly on the offline digits, as
the trained matrix trains them (28x28x1, width 0.25, up to 30 epochs with early stopping; give
`--runs` the matrix's run folders to reuse them), then `deploytool convert RUN --int8 --max-drop
0.3` to TFLite and to ONNX, and each artifact's top-1 accuracy on all 360 test images against the
float model's (the budget is judged on the same held-out images: none of them is used to train or
calibrate).

    .venv/bin/python benchmarks/int8_budget.py [MODEL ...] [--runs artifacts/matrix/runs] [--out /tmp/deploytool-budget]
"""

import argparse
import json
import time
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.core.child import call_in_child
from deploytool.models import list_models
from deploytool.reports.matrix_settings import EPOCHS, WIDTH
from deploytool.reports.matrix_trained import training_options
from deploytool.sources.model_source import load_source
from deploytool.workflows.quantization.budget import Budget, budgeted_convert
from deploytool.workflows.training.train import train
from deploytool.workflows.verification.verify import verify

MAX_DROP = 0.3


def measure(model: str, out: Path, runs: Path, epochs: int) -> dict:
    """Train (once, in RUNS), convert within the budget and verify MODEL; the row is cached in
    OUT/rows."""
    cached = out / "rows" / f"{model}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    run = runs / model
    if not (run / "model.keras").exists():
        train(model, "digits", run, training_options(epochs, WIDTH))
    row = {"model": model}
    for target in ("tflite", "onnx"):
        started = time.perf_counter()
        result = budgeted_convert(load_source(str(run)),
                                  ConvertOptions(to=target, precision="int8",
                                                 out_dir=out / "artifacts" / model),
                                  Budget(max_drop=MAX_DROP))
        report = verify([result.artifact], target if target == "tflite" else "onnxruntime",
                        data="digits", samples=360)
        figures = report.rows[0].figures
        budget = result.manifest.record["budget"]
        row[target] = {"float": figures["accuracy_reference"], "int8": figures["accuracy"],
                       "drop_points": 100 * (figures["accuracy_reference"] - figures["accuracy"]),
                       "agreement": figures["top1_agreement"],
                       "plain_int8_drop_points": budget["attempts"][0]["figures"]["top1_drop_points"],
                       "chosen": budget["chosen"], "in_float": len(budget["layers_in_float"]),
                       "met": budget["met"], "seconds": round(time.perf_counter() - started, 1)}
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(row))
    return row


def measure_in_child(model: str, out: str, runs: str, epochs: int) -> None:
    """:func:`measure`, in a process of its own (its row lands in OUT/rows)."""
    measure(model, Path(out), Path(runs), epochs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list_models())
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", default="/tmp/deploytool-budget", type=Path)
    parser.add_argument("--runs", type=Path, help="trained run folders (default OUT/runs)")
    args = parser.parse_args()
    runs = args.runs or args.out / "runs"
    rows = []
    for model in args.models:
        if len(args.models) > 1:  # each model in a process of its own (see matrix_trained)
            for _ in range(2):  # a process that dies is tried once more
                if (args.out / "rows" / f"{model}.json").exists():
                    break
                call_in_child(f"{__file__}:measure_in_child", model, str(args.out), str(runs),
                              args.epochs)
        rows.append(measure(model, args.out, runs, args.epochs))
        print(json.dumps(rows[-1]), flush=True)
    print("\n| model | float top-1 | TFLite int8 (plain drop → budgeted) | ONNX int8 (plain drop → budgeted) |")
    print("|---|---:|---|---|")
    for row in rows:
        cells = [f"{row[t]['int8']:.4f} ({row[t]['plain_int8_drop_points']:+.2f} → "
                 f"{row[t]['drop_points']:+.2f} pts, {row[t]['chosen']}{'' if row[t]['met'] else ', NOT MET'})"
                 for t in ("tflite", "onnx")]
        print(f"| {row['model']} | {row['tflite']['float']:.4f} | {cells[0]} | {cells[1]} |")
    worst = max(max(row[t]["drop_points"] for t in ("tflite", "onnx")) for row in rows)
    met = sum(row[t]["met"] for row in rows for t in ("tflite", "onnx"))
    print(f"\nlargest budgeted drop: {worst:.2f} points (budget {MAX_DROP}); budget met by "
          f"{met} of {2 * len(rows)} artifacts")
    (args.out / "int8_budget.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
