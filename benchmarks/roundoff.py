"""Where an fp32 artifact's difference from Keras comes from: the tf_keras rebuild, BatchNorm
folding, the converter, or plain float32 round-off.

For keras.applications families saved by Keras 3 (docs/own-models.md's files, built with
`deploytool.reports.own_models.build_family_file`), every float32 computation of the same network is
compared with the original model run in float64 (its float64 twin), on 16 held-out photos
preprocessed as the family expects: the Keras 3 original itself, its tf_keras rebuild, the folded
rebuild, and the fp32 .tflite on LiteRT. If all four sit at the same distance from float64, the
difference between any two of them is float32 round-off, not a conversion error.

    .venv/bin/python benchmarks/roundoff.py [FAMILY ...] [--work artifacts/own-models]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploytool.converters.passes.fold_batchnorm import fold_batchnorm  # noqa: E402
from deploytool.converters.targets.tflite.export import export_tflite  # noqa: E402
from deploytool.sources.datasets import load_photos  # noqa: E402
from deploytool.sources.keras3 import load_keras3_model, rebuild_as_tf_keras  # noqa: E402
from deploytool.reports.own_models import build_family_file, family_by_name  # noqa: E402
from deploytool.core.preprocessing import Preprocessing  # noqa: E402
from deploytool.core.roundoff import float64_twin  # noqa: E402
from deploytool.runtimes.tflite_runner import TFLiteRunner  # noqa: E402


def measure(name: str, work: Path) -> dict:
    family = family_by_name(name)
    original = load_keras3_model(build_family_file(family, work / "models"))
    shape = tuple(original.inputs[0].shape[1:])
    images = Preprocessing.preset_for(shape, family.preset).apply(load_photos(shape[:2]).x_test[:16])
    exact = np.asarray(float64_twin(original).predict_on_batch(images.astype(np.float64)))
    figures = {"Keras 3 original (float32)": original.predict_on_batch(images)}
    try:
        rebuilt = rebuild_as_tf_keras(original)
        figures["tf_keras rebuild"] = rebuilt.predict_on_batch(images)
        folded, _ = fold_batchnorm(rebuilt)
        figures["rebuild, BatchNorm folded"] = folded.predict_on_batch(images)
        model = folded
    except Exception as exc:  # no exact twin: the Keras 3 path
        print(f"{name}: no tf_keras rebuild ({exc}); TFLite through Keras 3")
        model = original
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "m.tflite")
        path.write_bytes(export_tflite(model))
        figures["fp32 .tflite on LiteRT"] = TFLiteRunner(path).infer(images)
    return {label: float(np.max(np.abs(np.asarray(values, np.float64) - exact)))
            for label, values in figures.items()}


def runtime_ratios(name: str, work: Path, page: dict) -> dict:
    """Each fp32 cell's max abs (docs/own-models.md's run) in units of the Keras reference's own
    float32 round-off on the same 32 held-out photos verify compared on."""
    from deploytool.sources.datasets import load_photos, sample_split

    family = family_by_name(name)
    original = load_keras3_model(build_family_file(family, work / "models"))
    shape = tuple(original.inputs[0].shape[1:])
    raw, _, _ = sample_split(load_photos(shape[:2]), "test", 32, 0)
    images = Preprocessing.preset_for(shape, family.preset).apply(raw)
    roundoff = float(np.max(np.abs(
        np.asarray(float64_twin(original).predict_on_batch(images.astype(np.float64)))
        - np.asarray(original.predict_on_batch(images), np.float64))))
    ratios = {}
    for cell in page["families"][name]["cells"]:
        if cell["artifact"].endswith("fp32") and cell.get("figures"):
            ratios[(cell["artifact"], cell["runtime"])] = cell["figures"]["max_abs"] / roundoff
    return {"roundoff": roundoff, "ratios": ratios}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", default=["InceptionV3", "ResNet50", "EfficientNetV2B0",
                                                        "MobileNetV2"])
    parser.add_argument("--work", default="artifacts/own-models", type=Path)
    parser.add_argument("--ratios", action="store_true",
                        help="Instead: every fp32 cell of the own-models run (WORK/own-models.json) "
                             "in units of its reference's float32 round-off.")
    args = parser.parse_args()
    if args.ratios:
        import json

        page = json.loads((args.work / "own-models.json").read_text())
        every = []
        print("| model | reference round-off | cell / round-off (min-max) | largest |")
        print("|---|---:|---:|---|")
        for name in page["families"]:
            result = runtime_ratios(name, args.work, page)
            ratios = result["ratios"]
            if not ratios:
                continue
            worst = max(ratios, key=ratios.get)
            every += [value for key, value in ratios.items()]
            print(f"| {name} | {result['roundoff']:.1e} | {min(ratios.values()):.1f}-"
                  f"{max(ratios.values()):.1f} | {' on '.join(worst)} |", flush=True)
        below = [value for value in every if value < 1000]  # importer bugs are far above
        print(f"\n{len(every)} fp32 cells; largest ratio below 1000: {max(below):.1f}")
        return
    print("| model | " + " | ".join(["Keras 3 original", "tf_keras rebuild", "folded rebuild",
                                     ".tflite (LiteRT)"]) + " |")
    print("|---|---:|---:|---:|---:|")
    for name in args.families:
        result = measure(name, args.work)
        cells = [f"{value:.1e}" for value in result.values()]
        while len(cells) < 4:
            cells.insert(1, "–")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
