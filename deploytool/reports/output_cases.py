"""The own-models page's section on models that are not one-output classifiers of a fixed size:
several heads of every kind, a free input size, a SavedModel that holds only a serving signature,
and a subclassed model. Each is a tiny model with random weights, saved the way users save
theirs, converted to every artifact kind and verified on every runtime, head by head."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from deploytool.core.keras_env import keras, keras3
from deploytool.reports.matrix import render_tables, source_cells
from deploytool.reports.matrix_sections import versions_line
from deploytool.sources.model_source import load_source

HEADING = "## Several outputs, any input size, any saved form"
SIZE = 24
NUMERICAL_CASES = (
    "numerical: the int8 model itself is this far from float (the runtimes agree with each "
    "other); with random weights an embedding's nearest neighbours and a map's per-pixel classes "
    "are near ties that int8 rounding flips")
OPENCV_MAP_SOFTMAX = (
    "upstream: OpenCV's TFLite and TensorFlow importers take a softmax over a 4-D map along the "
    "last axis of their NCHW blob (the width), not the channels: each pixel's class "
    "probabilities come out wrong (they sum to 1 along a row instead); its ONNX importer "
    "computes them right")

_SUBCLASSED_CODE = '''
import keras


@keras.saving.register_keras_serializable(package="{package}")
class {name}(keras.Model):
    """A subclassed face model: its call is Python code, its heads a box and a face score."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(8, 3, activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.box = keras.layers.Dense(4)
        self.face = keras.layers.Dense(2, activation="softmax")

    def call(self, x):
        x = self.pool(self.conv(x))
        return self.box(x), self.face(x)
'''


def subclassed_code(name: str = "TwoHeadNet", package: str = "own_models") -> str:
    """The Python file of a subclassed two-head model (class ``name``, registered in
    ``package``), as a user hands it over with --custom-objects."""
    return _SUBCLASSED_CODE.format(name=name, package=package)


@dataclass(frozen=True)
class OutputCase:
    """One model of the section: its row label, what it shows, and how it is saved and loaded."""

    name: str
    description: str
    build: object  # folder -> path of the saved model
    load: dict = field(default_factory=dict)  # load_source keywords (input_shape, custom objects)


def _trunk(k, shape=(SIZE, SIZE, 3)):
    k.utils.set_random_seed(0)
    inputs = k.Input(shape)
    x = k.layers.Conv2D(8, 3, activation="relu", padding="same")(inputs)
    return inputs, x, k.layers.GlobalAveragePooling2D()(x)


def _two_classifiers(folder: Path) -> Path:
    inputs, _, pooled = _trunk(keras)
    model = keras.Model(inputs, [keras.layers.Dense(4, activation="softmax", name="age")(pooled),
                                 keras.layers.Dense(2, activation="softmax", name="gender")(pooled)])
    model.save(folder / "two_classifiers.keras")
    return folder / "two_classifiers.keras"


def _detector(k):
    inputs, _, pooled = _trunk(k)
    return k.Model(inputs, [k.layers.Dense(4, name="box")(pooled),
                            k.layers.Dense(10, name="landmarks")(pooled),
                            k.layers.Dense(2, activation="softmax", name="face")(pooled)])


def _detector_file(folder: Path) -> Path:
    _detector(keras3()).save(folder / "detector.keras")
    return folder / "detector.keras"


def _embedding(folder: Path) -> Path:
    k = keras3()
    inputs, _, pooled = _trunk(k)
    model = k.Model(inputs, k.layers.UnitNormalization(name="embedding")(k.layers.Dense(16)(pooled)))
    model.save(folder / "embedding.keras")
    return folder / "embedding.keras"


def _segmenter(folder: Path) -> Path:
    inputs, x, _ = _trunk(keras, (None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1, activation="softmax", name="mask")(x))
    model.save(folder / "segmenter.keras")
    return folder / "segmenter.keras"


def _nested(shape: str):
    """A builder of :mod:`.nesting`'s model of ``shape``, saved by Keras 3 at the section's size."""
    from deploytool.reports.nesting import build

    return lambda folder: build(shape, "keras3", folder, SIZE)[0]


def _export_folder(folder: Path) -> Path:
    _detector(keras3()).export(str(folder / "detector_export"), verbose=False)
    return folder / "detector_export"


def _subclassed(folder: Path) -> Path:
    import numpy as np

    from deploytool.sources.custom_objects import import_custom_objects

    code = folder / "two_head_net.py"
    code.write_text(subclassed_code())
    keras3().utils.set_random_seed(0)
    model = import_custom_objects(code, unsafe=True)["TwoHeadNet"]()
    model(np.zeros((1, SIZE, SIZE, 3), np.float32))
    model.save(folder / "subclassed.keras")
    return folder / "subclassed.keras"


CASES = (
    OutputCase("two classifiers (tf_keras)", "age (4 classes) and gender (2) heads",
               _two_classifiers),
    OutputCase("detector (Keras 3)", "box (4), landmarks (10) and face score (2) heads",
               _detector_file),
    OutputCase("embedding (Keras 3)", "a unit-norm 16-vector", _embedding),
    OutputCase("segmenter, free size (tf_keras)", "input (None, None, 3), per-pixel classes; "
               f"converted with --input-shape {SIZE},{SIZE},3", _segmenter,
               {"input_shape": (SIZE, SIZE, 3)}),
    OutputCase("model in a model (Keras 3)", "a box, landmarks and face score model called "
               "behind a Rescaling layer; converted with --preprocess raw", _nested("depth 1"),
               {"preprocess": {"preset": "raw"}}),
    OutputCase("model in a model, dict (Keras 3)", "age (1 value) and gender (2) returned as a "
               "dict by a model called behind a Rescaling layer; --preprocess raw",
               _nested("dict outputs"), {"preprocess": {"preset": "raw"}}),
    OutputCase("export folder (Keras 3 `model.export`)", "the detector as a serving signature "
               "only", _export_folder),
    OutputCase("subclassed (Keras 3)", "box and face score heads, loaded with --custom-objects "
               "--unsafe", _subclassed, {"custom_objects": "two_head_net.py", "unsafe": True}),
)


def output_case_cells(folder: Path, samples: int, calib_samples: int, kinds,
                      log=lambda message: None, cases=CASES) -> list[dict]:
    """Build every case (of ``cases``) in ``folder``, convert it to ``kinds`` and verify it: the
    cells."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cells = []
    for case in cases:
        log(f"{case.name}: building and converting")
        path = case.build(folder)
        load = dict(case.load)
        if "custom_objects" in load:
            load["custom_objects"] = str(folder / load["custom_objects"])
        source = load_source(str(path), **load)
        cells += source_cells(source, case.name, folder / "artifacts", samples, calib_samples,
                              kinds=kinds, causes=map_softmax_cause(source),
                              numerical=NUMERICAL_CASES, log=log)
    return cells


def map_softmax_cause(source):
    """A ``causes(cell)`` naming OpenCV's 4-D softmax error for a model with a softmax over a
    spatial map, where OpenCV's TFLite or TensorFlow importer got its numbers wrong."""
    from deploytool.core.model_outputs import producing_layer

    def has_map_softmax() -> bool:
        model = source.model
        return any(len(tuple(tensor.shape)) == 4 and getattr(getattr(
            producing_layer(model, index), "activation", None), "__name__", "") == "softmax"
            for index, tensor in enumerate(model.outputs))

    def causes(cell):
        why = cell.get("why") or ""
        if cell["runtime"] != "opencv" or cell["artifact"].startswith("ONNX") or \
                "max abs" not in why or not has_map_softmax():
            return []
        return [OPENCV_MAP_SOFTMAX]
    return causes


def render_section(cells: list[dict], kinds: list[str], samples: int,
                   seconds: float | None) -> list[str]:
    """The page's section on these models, from their cells."""
    lines = [
        HEADING,
        "",
        "Tiny models with random weights (input 24x24x3) that are not one-output classifiers of a "
        "fixed size, saved the way users save theirs, converted to every artifact kind and "
        f"verified on {samples} `photos` crops, every output against the same output of the "
        "original (a signature against the signature itself). A cell passes when every output "
        "passes, each judged by the measure of its kind (class scores: cosine and top-1; "
        "regression: error relative to its range; embedding: nearest neighbours; per-pixel maps: "
        "per-pixel agreement); it shows the largest max abs error (fp32) or the lowest cosine "
        "(int8) over the outputs. " + versions_line(seconds),
        "",
        "| model | what it has |",
        "|---|---|",
    ]
    lines += [f"| {case.name} | {case.description} |" for case in CASES]
    lines.append("")
    lines += [line.replace("## ", "### ", 1) if line.startswith("## ") else line
              for line in render_tables(cells, kinds)]
    return lines


def build_section(folder: Path, samples: int, calib_samples: int, kinds,
                  log=lambda message: None) -> tuple[list[dict], list[str]]:
    """Compute the cells and render the section."""
    started = time.perf_counter()
    cells = output_case_cells(folder, samples, calib_samples, kinds, log)
    labels = [label for label, _, _ in kinds]
    return cells, render_section(cells, labels, samples, time.perf_counter() - started)


def splice_section(page: str, section: list[str]) -> str:
    """``page`` with its section on these models replaced by ``section`` (appended when absent):
    from its heading to the next top-level heading."""
    lines = page.rstrip("\n").split("\n")
    if HEADING not in lines:
        return "\n".join(lines + [""] + section)
    start = lines.index(HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[:start] + section + lines[end:])
