"""Models that call other models: every nesting shape (deploytool.reports.nesting), built by
tf_keras and by Keras 3, converted to every artifact kind and verified on every runtime. Counts
the outputs each artifact should have, the ones it has under their own names, how each head
compares with the inner models called directly (fp32: max abs error on 8 images), and every
verify row.

    .venv/bin/python benchmarks/nested_outputs.py [--out /tmp/deploytool-nested]
"""

import argparse
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from deploytool.converters.options import ConvertOptions
from deploytool.core.errors import UserError
from deploytool.reports.nesting import SHAPES, build, pixels
from deploytool.runtimes.base import runner_for
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.verification.verify import verify

KINDS = [("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "dynamic"), ("tflite", "int8"),
         ("onnx", "fp32"), ("onnx", "int8"), ("pb", "fp32")]
FRAMEWORKS = ("keras3", "tf_keras")


def measure(shape: str, framework: str, to: str, precision: str, out: Path) -> dict:
    """One cell: convert, compare every head with the inner models, verify on every runtime."""
    (out / "models").mkdir(exist_ok=True)
    path, names, expected = build(shape, framework, out / "models")
    row = {"shape": shape, "framework": framework, "kind": f"{to} {precision}",
           "expected": names}
    try:
        result = convert(load_source(str(path), preprocess={"preset": "raw"}),
                         ConvertOptions(to=to, precision=precision, calib_samples=64,
                                        out_dir=str(out / "artifacts" / f"{shape}_{framework}")),
                         remember=False)
    except UserError as exc:
        return {**row, "error": f"{type(exc).__name__} (exit {exc.exit_code}): {exc}"}
    kept = [o["name"] for o in result.manifest.record["artifact"]["outputs"]]
    images = pixels(8, seed=3)
    produced = runner_for(result.artifact).load().infer_all(images)
    heads = {name: float(np.max(np.abs(produced[name] - values.reshape(produced[name].shape))))
             for name, values in expected(images).items() if name in produced}
    report = verify([result.artifact], "all", samples=64)
    rows = [{"backend": r.backend, "output": r.output, "status": r.status,
             "failures": r.failures} for r in report.rows]
    return {**row, "kept": kept, "unique": len(set(kept)) == len(kept),
            "convert_parity": result.manifest.record["parity"]["passed"], "max_abs_vs_inner": heads,
            "verify_rows": rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/deploytool-nested")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cells = []
    for shape in SHAPES:
        for framework in FRAMEWORKS:
            for to, precision in KINDS:
                cell = measure(shape, framework, to, precision, out)
                cells.append(cell)
                print(json.dumps({k: v for k, v in cell.items() if k != "verify_rows"}), flush=True)
    (out / "nested_outputs.json").write_text(json.dumps(cells, indent=2))
    converted = [c for c in cells if "error" not in c]
    every_head = [c for c in converted if c["kept"] == c["expected"] and c["unique"]]
    fp32 = [c for c in converted if c["kind"].endswith("fp32")]
    rows = [r for c in converted for r in c["verify_rows"]]
    verified_counts = Counter(r["status"] for r in rows)
    rows_per_output = all(
        Counter(r["output"] for r in c["verify_rows"]) ==
        Counter({name: len({r["backend"] for r in c["verify_rows"]}) for name in c["expected"]})
        for c in converted)
    print(f"\n{len(cells)} conversions ({len(SHAPES)} shapes x {len(FRAMEWORKS)} Keras x "
          f"{len(KINDS)} kinds); refused: {len(cells) - len(converted)}")
    print(f"every output kept under its own name: {len(every_head)} of {len(converted)}")
    print(f"fp32: worst head vs the inner models, max abs "
          f"{max(max(c['max_abs_vs_inner'].values()) for c in fp32):.2e} over {len(fp32)} artifacts")
    print(f"convert's parity passed: {sum(c['convert_parity'] for c in converted)} of {len(converted)}")
    print(f"verify rows: {len(rows)} ({dict(verified_counts)}); one row per reference output "
          f"and runtime in every report: {rows_per_output}")
    for cell in cells:
        if "error" in cell:
            print(f"refused: {cell['shape']} {cell['framework']} {cell['kind']}: {cell['error']}")
    for cell in converted:
        for row in cell["verify_rows"]:
            if row["status"] == "fail":
                print(f"fail: {cell['shape']} {cell['framework']} {cell['kind']} "
                      f"{row['backend']} {row['output']}: {'; '.join(row['failures'])[:160]}")


if __name__ == "__main__":
    main()
