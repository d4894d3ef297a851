"""Accuracy that quantization costs on a trained model: `deploytool train` on the offline digits,
then float vs PTQ int8 (TFLite and ONNX) vs QAT int8, on all 360 test images.

    .venv/bin/python benchmarks/digits_quantization.py [--out /tmp/deploytool-digits]
"""

import argparse
import json
import shutil
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.training.train import TrainOptions, train
from deploytool.workflows.verification.verify import verify

MODELS = {"lenet_bn": TrainOptions(epochs=10), "resnet18": TrainOptions(epochs=10, width=0.25)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/deploytool-digits")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    rows = []
    for model, options in MODELS.items():
        run = out / "runs" / model
        metrics = train(model, "digits", run, options)
        row = {"model": model, "train_seconds": metrics["wall_seconds"],
               "float": metrics["test_accuracy"]}
        for label, convert_options in (
                ("TFLite int8 PTQ", ConvertOptions(precision="int8")),
                ("ONNX int8 PTQ", ConvertOptions(to="onnx", precision="int8")),
                ("TFLite int8 QAT", ConvertOptions(precision="int8", qat=True, qat_epochs=2))):
            convert_options.out_dir = out / "artifacts" / model
            result = convert(load_source(str(run)), convert_options)
            report = verify([result.artifact], "all", data="digits", samples=360)
            backend = "tflite" if result.artifact.suffix == ".tflite" else "onnxruntime"
            (cell,) = [r for r in report.rows if r.backend == backend]
            row[label] = cell.figures["accuracy"]
            row[f"{label} top-1 agreement"] = cell.figures["top1_agreement"]
            if convert_options.qat:
                row["PTQ after the same fine-tuning"] = \
                    result.manifest.record["qat_report"]["ptq_int8_accuracy_after_same_finetuning"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| model | float | TFLite int8 PTQ | ONNX int8 PTQ | TFLite int8 QAT (2 epochs) | PTQ after the same fine-tuning |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['model']} | {row['float']:.4f} | {row['TFLite int8 PTQ']:.4f} | "
              f"{row['ONNX int8 PTQ']:.4f} | {row['TFLite int8 QAT']:.4f} | "
              f"{row['PTQ after the same fine-tuning']:.4f} |")
    (out / "digits_quantization.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
