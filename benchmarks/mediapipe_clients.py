"""What a phone makes of deploytool's .tflite files: a colour classifier trained here with Keras 3
(as a user would bring it), converted to every TFLite precision with its labels (int8 with uint8
input and output, as the standard clients take it, and with float input and output), each file
verified against the Keras model on x86 LiteRT, on MediaPipe Tasks' ImageClassifier (created from
the file alone, fed the held-out photos' pixels; the class names it reports read from the file)
and on the app's LiteRT 1.4 on an emulated ARM64 core (compared with x86 LiteRT value for value):
top-1 agreement with its 95 % interval, and the values that differ between the two LiteRTs; and
whether the scores MediaPipe reports are probabilities (their sum on one photo).

The data: crops of four of scikit-image's sample photographs (astronaut, coffee, cat, rocket), one
class each, 32x32; 120 crops per class to train and calibrate on, 200 others per class held
out (verify judges on the test split of those: 160 photos).

    .venv/bin/python benchmarks/mediapipe_clients.py [--work /tmp/deploytool-mediapipe-clients]
"""

import argparse
import json
from pathlib import Path

import numpy as np

CLASSES = ("astronaut", "chelsea", "coffee", "rocket")
KINDS = {"fp32": ("fp32", None), "fp16": ("fp16", None), "dynamic": ("dynamic", None),
         "int8 (uint8 I/O)": ("int8", "uint8"), "int8 (float I/O)": ("int8", "float")}
RUNTIMES = ("tflite", "mediapipe", "litert_arm64")


def category_names(artifact: str, image: str) -> dict:
    """The class names MediaPipe's ImageClassifier reports for one photo, best first (read from
    the file's metadata alone), and the sum of the scores it reports (1 for probabilities); run
    in MediaPipe's environment."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    classifier = vision.ImageClassifier.create_from_options(vision.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=artifact), max_results=-1))
    found = classifier.classify(mp.Image.create_from_file(image))
    categories = found.classifications[0].categories
    return {"names": [category.category_name for category in categories],
            "score_sum": float(sum(category.score for category in categories))}


def write_crops(folder: Path, per_class: int, seed: int) -> None:
    """``per_class`` random 32x32 crops (of a random 48-160 pixel square) of each photograph."""
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(seed)
    for name in CLASSES:
        photo = getattr(data, name)()
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            side = int(rng.integers(48, 161))
            top = int(rng.integers(0, photo.shape[0] - side))
            left = int(rng.integers(0, photo.shape[1] - side))
            crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((32, 32))
            crop.save(folder / name / f"{index}.png")


def train(folder: Path, out: Path) -> None:
    """A small Keras 3 CNN trained on the crops (inputs scaled to -1..1), saved as .keras."""
    import keras
    from PIL import Image

    images, labels = [], []
    for label, name in enumerate(CLASSES):
        for path in sorted((folder / name).glob("*.png")):
            images.append(np.asarray(Image.open(path).convert("RGB"), np.float32))
            labels.append(label)
    x, y = np.stack(images) / 127.5 - 1.0, np.array(labels)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    h = inputs
    for filters in (16, 32):
        h = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
        h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
        h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(len(CLASSES), activation="softmax")(h))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=15, batch_size=32, verbose=0, shuffle=True)
    model.save(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/deploytool-mediapipe-clients", type=Path)
    args = parser.parse_args()
    from deploytool.converters.options import ConvertOptions
    from deploytool.core.child import call_in_child
    from deploytool.core.environments import require
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.conversion.convert import convert
    from deploytool.workflows.verification.verify import verify

    work = args.work
    train_folder, held_out = work / "train", work / "held_out"
    if not train_folder.exists():
        write_crops(train_folder, 120, seed=0)
    if not held_out.exists():
        write_crops(held_out, 200, seed=1)
    model = work / "classifier.keras"
    if not model.exists():
        train(train_folder, model)
    labels = work / "labels.txt"
    labels.write_text("\n".join(CLASSES) + "\n")
    rows = {}
    photo = str(sorted((held_out / CLASSES[0]).glob("*.png"))[0])
    for kind, (precision, io) in KINDS.items():
        options = ConvertOptions.create(
            "tflite", **({"int8_io": io} if io else {}), precision=precision,
            out_dir=work / "artifacts" / kind.split()[0] / (io or ""),
            calib_data=f"folder:{train_folder}" if precision == "int8" else None)
        source = load_source(str(model), preprocess={"preset": "symmetric"}, labels=str(labels))
        result = convert(source, options, remember=False)
        names = call_in_child(f"{Path(__file__).resolve()}:category_names", result.artifact, photo,
                              python=require("mediapipe"), timeout=300)
        report = verify([result.artifact], "all", data=f"folder:{held_out}", samples=160)
        for row in report.rows:
            if row.backend in RUNTIMES:
                figures = row.figures or {}
                rows[f"{kind} / {row.backend}"] = {
                    "status": row.status, "top1_agreement": figures.get("top1_agreement"),
                    "interval": figures.get("top1_agreement_interval"),
                    "accuracy": figures.get("accuracy"), "float_accuracy": figures.get("accuracy_reference"),
                    "samples": figures.get("samples"), "failures": row.failures,
                    "input": result.manifest.inputs[0]["dtype"], "engine": row.engine,
                    "against_x86": row.agreement,
                    "class_names": sorted(names.value["names"])
                    if row.backend == "mediapipe" and names.ok else None,
                    "mediapipe_score_sum": names.value["score_sum"]
                    if row.backend == "mediapipe" and names.ok else None}
                print(kind, row.backend, json.dumps(rows[f"{kind} / {row.backend}"]), flush=True)
    (work / "mediapipe_clients.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
