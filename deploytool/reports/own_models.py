"""docs/own-models.md: models deploytool did not write, tried as a user would.

Fourteen keras.applications families, built by stock Keras 3 with random weights, their BatchNorm
scale and offset random and their moving statistics measured on natural photographs fed with the
family's own preprocessing (as after training), saved with ``model.save("m.keras")``; then each
file goes through ``deploytool convert`` to every artifact kind and ``deploytool verify`` on every
runtime, exactly as a user's file would. A second part does the same for one tiny model per
built-in layer (:mod:`deploytool.reports.layer_coverage`), saved by Keras 3 and by tf_keras, Sequential
and functional. Every failure carries its named cause.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.fileio import write_bytes
from deploytool.core.preprocessing import Preprocessing
from deploytool.reports.matrix import (ARTIFACT_KINDS, failed_model_cells, label_known_causes,
                                       render_tables, source_cells)
from deploytool.reports.matrix_sections import RUNTIME_NAMES, count_summary, versions_line
from deploytool.reports.matrix_settings import OWN_MODELS_CALIB_SAMPLES, OWN_MODELS_SAMPLES

# the artifact kinds the page tries (fp16 adds nothing a user's model would fail on differently)
PAGE_KINDS = tuple(kind for kind in ARTIFACT_KINDS if kind[2] != "fp16")
LAYER_KINDS = tuple(kind for kind in PAGE_KINDS if kind[1] != "pb")
INPUT_SIZE = 96
CLASSES = 10
STATISTICS_IMAGES = 32
NUMERICAL_OWN = ("numerical: the int8 model itself is this far from float on these images (the "
                 "runtimes agree with each other), not a conversion error; `deploytool diagnose` "
                 "names the layers, `convert --max-drop/--min-cosine` keeps them in float")
OPENCV_AVERAGE_POOL = (
    "upstream: OpenCV's TFLite importer averages a 'same'-padded AveragePooling2D window over "
    "the padded area too (its Pooling layer defaults to ave_pool_padded_area=true; its TensorFlow "
    "and ONNX importers set it false); TFLite divides by the real cells. Minimal reproduction: "
    "`AveragePooling2D(3, strides=1, padding='same')` on a 9x9x4 input, max abs 0.37 in both "
    "engines (see the layer-coverage part below); the ONNX form of the same model runs in OpenCV")


OPENCV_TRANSPOSE = (
    "upstream: OpenCV's TFLite importer applies a TRANSPOSE (Keras Permute) permutation written "
    "for NHWC to its NCHW blob; minimal reproduction: `Permute((2, 1, 3))` on an 8x8x6 map "
    "(layer-coverage part below); the ONNX form runs in OpenCV")
# (layer class, config it must have, cause) for wrong numbers from OpenCV's TFLite importer
OPENCV_LAYER_NORMALIZATION = (
    "upstream: OpenCV's TFLite importer returns another tensor than the model's output for a "
    "graph with LayerNormalization (its mean and variance reductions); minimal reproduction: the "
    "LayerNormalization model of the layer-coverage part below; the ONNX form runs in OpenCV")
OPENCV_SOFTMAX = (
    "upstream: OpenCV's TFLite importer applies SOFTMAX of a 4-D map over the last axis of its "
    "NCHW blob (the width), not over the channels as TFLite does; minimal reproduction: "
    "`tf.nn.softmax` over the channels of an 8x8x3 map, max abs 0.76, matching a softmax over "
    "NCHW axis 3 to 6e-8, in both engines (layer-coverage part below); the ONNX form runs in "
    "OpenCV")
OPENCV_TFLITE_LAYERS = (("AveragePooling2D", {"padding": "same"}, OPENCV_AVERAGE_POOL),
                        ("Permute", {}, OPENCV_TRANSPOSE),
                        ("LayerNormalization", {}, OPENCV_LAYER_NORMALIZATION),
                        ("Softmax", {}, OPENCV_SOFTMAX),
                        ("Activation", {"activation": "softmax"}, OPENCV_SOFTMAX),
                        ("Conv2D", {"activation": "softmax"}, OPENCV_SOFTMAX))
OPENCV_TFLITE_MESSAGES = {
    "Number of input channels should be multiple of":
        "upstream: OpenCV's TFLite importer infers a wrong channel count inside this graph: "
        "the 1x1 convolution after NASNet's ZeroPadding2D-Cropping2D-AveragePooling2D branch "
        "receives 31 of its 32 channels (its CLASSIC engine's log, named above). Not reduced "
        "to a minimal model: that branch alone, and the NASNet graph cut right after the "
        "convolution, run correctly (2026-12-02); its ONNX importer runs the whole model",
}


@dataclass(frozen=True)
class Family:
    """A keras.applications family: its builder's name and the preprocessing it was made for."""

    name: str
    preset: str


FAMILIES = (
    Family("MobileNet", "symmetric"), Family("MobileNetV2", "symmetric"),
    Family("MobileNetV3Small", "raw"), Family("MobileNetV3Large", "raw"),
    Family("DenseNet121", "imagenet"), Family("ResNet50", "caffe"),
    Family("ResNet50V2", "symmetric"), Family("VGG16", "caffe"), Family("Xception", "symmetric"),
    Family("InceptionV3", "symmetric"), Family("NASNetMobile", "symmetric"),
    Family("EfficientNetB0", "raw"), Family("EfficientNetV2B0", "raw"),
    Family("ConvNeXtTiny", "raw"),
)


def family_by_name(name: str) -> Family:
    """The family called ``name`` (case-insensitive), or a one-line error listing them."""
    for family in FAMILIES:
        if family.name.lower() == name.lower():
            return family
    raise UserError(f"unknown keras.applications family {name!r}; known: "
                    f"{', '.join(f.name for f in FAMILIES)}")


def build_family_file(family: Family, folder, size: int = INPUT_SIZE, seed: int = 0) -> Path:
    """``folder/<Family>.keras``: the family built by stock Keras 3 at size x size x 3 with 10
    classes and random weights; BatchNorm gamma and beta random, moving statistics set to the
    batch statistics of natural photographs (scikit-image's, preprocessed as the family
    expects) as training leaves them. An existing file is reused."""
    from deploytool.core.keras_env import keras3
    from deploytool.models.weights import batchnorm_statistics_from
    from deploytool.sources.datasets import load_photos

    path = Path(folder) / f"{family.name}.keras"
    if path.exists():
        return path
    keras = keras3()
    keras.utils.set_random_seed(seed)
    model = getattr(keras.applications, family.name)(weights=None, input_shape=(size, size, 3),
                                                     classes=CLASSES)
    rng = np.random.default_rng(seed)
    for bn in model._flatten_layers():
        if isinstance(bn, keras.layers.BatchNormalization):
            if bn.scale:
                bn.gamma.assign(rng.uniform(0.5, 1.5, bn.gamma.shape).astype(np.float32))
            if bn.center:
                bn.beta.assign(rng.normal(0.0, 0.1, bn.beta.shape).astype(np.float32))
    photos = load_photos((size, size), 3).x_train[:STATISTICS_IMAGES]
    batchnorm_statistics_from(model, Preprocessing.preset_for((size, size, 3), family.preset).apply(photos))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.partial.keras")
    model.save(staging)
    staging.replace(path)
    return path


def _model_has(source, class_name: str, **config) -> bool:
    """Whether the source model holds a layer of ``class_name`` whose config has ``config``."""
    for layer in source.model.layers:
        if type(layer).__name__ == class_name and \
                all(layer.get_config().get(k) == v for k, v in config.items()):
            return True
    return False


def known_causes(source):
    """A ``causes(cell)`` function for :func:`~deploytool.reports.matrix.source_cells`: upstream causes
    of OpenCV's TFLite importer recognised from the model's structure (a wrong result from a
    layer it is known to compute wrongly) or from its message."""
    def causes(cell):
        if cell["runtime"] != "opencv" or not cell["artifact"].startswith("TFLite"):
            return []
        why = cell.get("why") or ""
        wrong_numbers = why.startswith("max abs")
        found = [note for layer, config, note in OPENCV_TFLITE_LAYERS
                 if (wrong_numbers or "computed another tensor" in why)
                 and _model_has(source, layer, **config)]
        return found + [note for marker, note in OPENCV_TFLITE_MESSAGES.items() if marker in why]
    return causes


def family_cells(name: str, folder: str, samples: int, calib_samples: int) -> list:
    """``[cells, info]`` of family ``name``'s file: every cell, and how it was loaded. A cell of
    :mod:`deploytool.cluster`, run in a child process (its progress on standard output)."""
    cells, info = _family_cells(family_by_name(name), Path(folder), samples, calib_samples,
                                lambda message: print(message, flush=True))
    return [label_known_causes(cells, Path(folder) / "artifacts"), info]


def _family_cells(family: Family, folder: Path, samples: int, calib_samples: int, log):
    from deploytool.sources.model_source import load_source

    path = build_family_file(family, folder / "models")
    try:
        source = load_source(str(path), preprocess={"preset": family.preset})
    except UserError as exc:
        cells = [{"model": family.name, "artifact": label, "runtime": runtime, "status": "fail",
                  "why": f"loading failed: {exc}"} for label, _, _ in PAGE_KINDS for runtime in RUNTIME_NAMES]
        return cells, {"path": "not loaded", "reason": str(exc)}
    cells = source_cells(source, family.name, folder / "artifacts", samples, calib_samples,
                         kinds=PAGE_KINDS, causes=known_causes(source), numerical=NUMERICAL_OWN,
                         log=log)
    return cells, {"path": source.framework, "reason": source.framework_reason,
                   "preprocessing": source.preprocessing.describe()}


def coverage_cells(folder: Path, samples: int, calib_samples: int, cases=None,
                   log=lambda message: None) -> list[dict]:
    """Every cell of every layer-coverage model: each case built by Keras 3 and by tf_keras, as
    a Sequential and a functional model, converted and verified as a user's file (TFLite and
    ONNX, float32 and int8: the frozen graph is the families' part). A Keras 3-only feature is
    one n/a cell for tf_keras, saying so."""
    from deploytool.reports.layer_coverage import CASES

    return [cell for case in cases or CASES
            for cell in _case_cells(case, Path(folder), samples, calib_samples, log)]


def case_cells(name: str, folder: str, samples: int, calib_samples: int) -> list[dict]:
    """:func:`coverage_cells` of the one case ``name``, as a cell of :mod:`deploytool.cluster`
    runs it (in a child process)."""
    from deploytool.reports.layer_coverage import CASES

    (case,) = [case for case in CASES if case.name == name]
    return label_known_causes(_case_cells(case, Path(folder), samples, calib_samples,
                                          lambda message: print(message, flush=True)))


def _case_cells(case, folder: Path, samples: int, calib_samples: int, log) -> list[dict]:
    from deploytool.reports.layer_coverage import FORMS, SAVERS, build_case_file
    from deploytool.sources.model_source import load_source

    cells = []
    for saver in SAVERS:
        for form in FORMS:
            row = f"{case.name} · {saver} · {form}"
            if form not in case.forms or (saver == "tf_keras" and case.needs_keras3):
                why = (case.needs_keras3 if form in case.forms else
                       "merge layers need the functional API")
                cells.append({"model": row, "artifact": "all", "runtime": "all",
                              "status": "-", "why": why})
                continue
            try:
                path = build_case_file(case, saver, form, folder / "layers")
                source = load_source(str(path))
            except UserError as exc:
                cells += [{"model": row, "artifact": label, "runtime": runtime, "status": "fail",
                           "why": f"loading failed: {exc}"}
                          for label, _, _ in LAYER_KINDS for runtime in RUNTIME_NAMES]
                continue
            cells += source_cells(source, row, folder / "artifacts" / "layers", samples,
                                  calib_samples, kinds=LAYER_KINDS, causes=known_causes(source),
                                  numerical=NUMERICAL_OWN, log=log)
    return cells


def render_page(family_results: dict, layer_cells: list[dict], size: int, samples: int,
                seconds: float) -> str:
    """docs/own-models.md from the cells of the families and of the layer-coverage models."""
    family_cells_all = [cell for cells, _ in family_results.values() for cell in cells]
    kinds = [label for label, _, _ in PAGE_KINDS]
    lines = [
        "# Your own model: keras.applications families and every built-in layer",
        "",
        "Generated by `deploytool own-models` (do not edit by hand). Each model is a file "
        "deploytool did not write, saved the way users save theirs, then converted by `deploytool "
        "convert FILE --to tflite|onnx [--int8] --preprocess PRESET` and checked by `deploytool "
        f"verify` on {samples} held-out images against the original file run by the Keras that "
        "saved it. fp32 cells pass at max abs ≤ 1e-5 on probabilities, or within 10x the Keras "
        "reference's own float32 round-off where that is larger (measured against its float64 "
        "twin; see docs/commands/verify.md); int8 cells as verify judges a user's file, which it "
        "takes as trained: "
        "by top-1 agreement ≥ 0.9 with the original (a regression head by its error against "
        "its range), the worst-sample cosine shown. A ✅ shows the max abs error (fp32) or the "
        "cosine (int8) and, for OpenCV, the engine that ran it. Where OpenCV fails, the failure "
        "names the layer: from OpenCV's message, from the .tflite file, from its CLASSIC "
        "engine's log, or by running it on cuts of the .onnx graph.",
        "",
        versions_line(seconds),
        "",
        "## keras.applications families",
        "",
        f"Built by stock Keras 3 at {size}x{size}x3 with 10 classes and random weights; BatchNorm "
        "gamma/beta random and moving statistics measured on natural photographs fed with the "
        "family's own preprocessing, as after training; saved with `model.save()`. Calibration "
        "and parity images: crops of scikit-image's bundled photographs (`photos`, the default for "
        "a colour model), preprocessed as the `--preprocess` column says.",
        "",
        f"Summary: {count_summary(family_cells_all)}.",
        "",
        "| model | conversion path | --preprocess | why this path |",
        "|---|---|---|---|",
    ]
    for name, (_, info) in family_results.items():
        family = family_by_name(name)
        lines.append(f"| {name} | {info['path']} | `{family.preset}` | {info.get('reason') or '-'} |")
    lines.append("")
    lines += [line.replace("## ", "### ", 1) if line.startswith("## ") else line
              for line in render_tables(family_cells_all, kinds)]
    if layer_cells:
        ran = [c for c in layer_cells if c["status"] != "-"]
        lines += [
            "## Layer coverage",
            "",
            "One tiny model per built-in layer CNN classifiers use (input 8x8x3, the layer, "
            "Flatten, a softmax Dense; BatchNorm statistics random), built by Keras 3 and by "
            "tf_keras, as a Sequential and as a functional model, saved as `.keras`, converted "
            "to TFLite and ONNX, float32 and int8 (the frozen graph is covered by the families "
            "above), and verified as above on `photos` crops preprocessed to 0..1.",
            "",
            f"Summary: {count_summary(ran)}; "
            f"{len({c['model'] for c in ran})} models converted.",
            "",
        ]
        lines += [line.replace("## ", "### ", 1) if line.startswith("## ") else line
                  for line in render_tables(ran, [label for label, _, _ in LAYER_KINDS],
                                            "layer · saved by · form")]
        skipped = [c for c in layer_cells if c["status"] == "-"]
        if skipped:
            lines += ["### Not applicable", ""]
            lines += [f"- {c['model']}: {c['why']}" for c in skipped]
            lines.append("")
    return "\n".join(lines)


def build_page(families=None, folder=Path("artifacts/own-models"),
               samples: int = OWN_MODELS_SAMPLES, calib_samples: int = OWN_MODELS_CALIB_SAMPLES,
               layers: bool = True, layer_cases=None, log=lambda message: None,
               address: str | None = None, serial: bool = False,
               fresh: bool = False) -> tuple[dict, list[dict], str]:
    """Build, convert and verify the families (None: all fourteen) and, with ``layers``, the
    layer-coverage models; return the family results, the layer cells and the page. Every
    family and every layer case is a cell of :mod:`deploytool.cluster` (on Ray: a local
    instance, or the cluster at ``address``; ``serial``: one after another here), kept in
    ``folder/cells`` by its inputs (``fresh`` forgets them)."""
    from deploytool.cluster.cells import Cell
    from deploytool.cluster.run import run_cells
    from deploytool.reports.layer_coverage import CASES

    started = time.perf_counter()
    folder = Path(folder).resolve()
    chosen = [family_by_name(name) for name in families] if families is not None else list(FAMILIES)
    cases = list(layer_cases or CASES) if layers else []
    settings = (str(folder), samples, calib_samples)
    jobs = [Cell(f"family {f.name}", f"{__name__}:family_cells", (f.name, *settings)) for f in chosen] + \
        [Cell(f"layer {c.name}", f"{__name__}:case_cells", (c.name, *settings)) for c in cases]
    ran = run_cells(jobs, folder, address, serial, fresh, log)
    results = {f.name: ran[f"family {f.name}"].value if ran[f"family {f.name}"].ok else
               (failed_model_cells(f.name, ran[f"family {f.name}"].error, PAGE_KINDS),
                {"path": "not computed", "reason": ran[f"family {f.name}"].error})
               for f in chosen}
    layer_cells = [cell for c in cases for cell in
                   (ran[f"layer {c.name}"].value if ran[f"layer {c.name}"].ok else
                    failed_model_cells(c.name, ran[f"layer {c.name}"].error, LAYER_KINDS))]
    kept = any(result.cached for result in ran.values())
    seconds = None if kept else time.perf_counter() - started  # cells of earlier runs: not this run's time
    page = render_page(results, layer_cells, INPUT_SIZE, samples, seconds)
    data = {"families": {name: {"info": info, "cells": cells} for name, (cells, info) in results.items()},
            "layers": layer_cells}
    write_bytes(folder / "own-models.json", json.dumps(data, indent=1, default=str).encode())
    return results, layer_cells, page

