"""The trained matrix's verdicts and page, from cells as verify reports them (the heavy test in
test_matrix.py makes real ones): int8 judged by accuracy and agreement, and the page, its JSON
and its heatmap written together."""

import json

import pytest
from PIL import Image

from deploytool.reports.matrix_trained import (judge_by_current_bars, judge_int8_by_accuracy,
                                               write_outputs)

FIGURES = {"accuracy": 0.95, "accuracy_reference": 0.953, "top1_agreement": 0.97,
           "min_cosine": 0.85, "max_abs": 0.1}


def cell(artifact, runtime, status="pass", **figures):
    return {"model": "lenet_bn", "artifact": artifact, "runtime": runtime, "status": status,
            "figures": {**FIGURES, **figures}, "why": None, "engine": None, "path": "tf_keras",
            "median_ms": 0.2, "size_bytes": 120_000, "in_float": 0}


def test_an_int8_cell_is_judged_by_its_accuracy_change_and_agreement_not_its_worst_cosine():
    judged = judge_int8_by_accuracy({**cell("TFLite int8", "tflite", "fail"),
                                     "why": "worst cosine 0.85 < 0.99 — numerical"})
    assert judged["status"] == "pass" and judged["why"] is None
    dropped = judge_int8_by_accuracy(cell("TFLite int8", "tflite", accuracy=0.90))
    assert dropped["status"] == "fail" and dropped["why"].startswith("top-1 -5.3 points")
    flipped = judge_int8_by_accuracy(cell("ONNX int8", "onnxruntime", top1_agreement=0.8))
    assert flipped["status"] == "fail" and "top-1 agreement 0.800 < 0.9" in flipped["why"]
    assert judge_int8_by_accuracy(cell("TFLite fp32", "tflite", "fail"))["status"] == "fail"


def test_a_cached_fp16_cell_is_judged_again_by_todays_bars_keeping_its_notes():
    layer_note = "no layer of the 65 compared diverges past 0.01 relative (fp16): it builds up"
    cached = {**cell("TFLite fp16", "opencv", "fail", min_cosine=0.9989, top1_agreement=1.0),
              "why": f"cosine 0.9989 < 0.999; {layer_note}"}
    assert judge_by_current_bars(cached)["status"] == "pass"  # decisions kept: it passes now
    flipped = judge_by_current_bars({**cell("TFLite fp16", "opencv", "fail", top1_agreement=0.97),
                                     "why": f"cosine 0.9989 < 0.999; {layer_note}"})
    assert flipped["status"] == "fail"
    assert flipped["why"].startswith(f"top-1 agreement 0.970 < 0.98; {layer_note} — numerical")
    error = {**cell("TFLite fp16", "opencv", "fail"), "figures": None, "why": "cannot load"}
    assert judge_by_current_bars(error)["why"] == "cannot load"


def test_the_page_its_json_and_its_heatmap_are_written_together(tmp_path):
    results = {"lenet_bn": {"seconds": 12.0, "cells": [
        cell("TFLite fp32", "tflite", max_abs=1e-7, min_cosine=1.0),
        cell("ONNX int8", "onnxruntime", accuracy=0.90)]}}
    page, data, picture = write_outputs(results, tmp_path / "compatibility.md", 30, 0.25, 360)
    text = page.read_text()
    assert "| lenet_bn (95.3) | ✅ 95.0 (-0.3) · 0.2 ms |" in text  # a cell from before intervals

    assert "**lenet_bn · ONNX int8 · ONNX Runtime**: top-1 -5.3 points" in text
    assert json.loads(data.read_text())["models"]["lenet_bn"]["seconds"] == 12.0
    assert Image.open(picture).size[0] > 300


def test_a_cell_shows_the_accuracy_changes_interval(tmp_path):
    from deploytool.reports.matrix_trained import cell_text

    with_interval = cell("ONNX int8", "onnxruntime", accuracy_change_interval=[-0.0094, 0.0094])
    assert cell_text(with_interval) == "✅ 95.0 (-0.3 [-0.9, +0.9]) · 0.2 ms"


def test_a_cached_opencv_tflite_failure_gets_the_layer_named_from_the_artifact(tmp_path):
    """A cell computed before verify named layers: at render time the page reads the .tflite in
    the matrix's artifacts folder and names the FULLY_CONNECTED OpenCV fails on."""
    from deploytool.converters.options import ConvertOptions
    from deploytool.core.keras_env import keras
    from deploytool.reports.matrix import label_known_causes
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.conversion.convert import convert

    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = layers.Flatten()(layers.Conv2D(8, 8, name="to_1x1")(inputs))
    keras.Model(inputs, layers.Dense(3, name="fc")(x)).save(tmp_path / "fc1x1.keras")
    convert(load_source(str(tmp_path / "fc1x1.keras")),
            ConvertOptions(out_dir=tmp_path / "artifacts" / "fc1x1"))
    cell = {"model": "fc1x1", "artifact": "TFLite fp32", "runtime": "opencv", "status": "fail",
            "why": "new and classic engines: error: failed to run: >     'K_b' is 8"}
    (labelled,) = label_known_causes([cell], tmp_path / "artifacts")
    assert "; at layer StatefulPartitionedCall:0 (FULLY_CONNECTED fed a 4-D map) — upstream" in labelled["why"]


def test_a_cell_is_labelled_numerical_by_what_failed_not_by_its_words():
    """A row's ``failed`` criteria decide: a figure below its bar is numerical, a file that did
    not run or a missing output is an error, whatever notes (where OpenCV diverges) the words
    carry."""
    from deploytool.reports.matrix import _accuracy_only

    assert _accuracy_only(["min_top1_agreement"])
    assert _accuracy_only(["min_cosine", "max_relative_error"])
    assert not _accuracy_only(["not_run"])
    assert not _accuracy_only(["min_cosine", "missing_output"])
    assert not _accuracy_only(["max_abs"])  # the fp32 bar: an error, not rounding
    assert not _accuracy_only([])


def test_a_model_whose_cell_does_not_finish_has_every_cell_saying_why(tmp_path):
    from deploytool.reports.matrix import RUNTIMES
    from deploytool.reports.matrix_trained import ARTIFACT_KINDS, build_trained_matrix

    results, reused = build_trained_matrix(["lenet_bn"], tmp_path, serial=True, timeout=1)
    result = results["lenet_bn"]
    assert reused == 0
    assert len(result["cells"]) == len(ARTIFACT_KINDS) * len(RUNTIMES)
    assert {cell["status"] for cell in result["cells"]} == {"fail"}
    assert "no answer within 1 s" in result["cells"][0]["why"]  # the child's time limit, carried
    assert not list((tmp_path / "cells").glob("*.json"))  # computed again next time


def test_a_matrix_of_a_model_not_in_the_zoo_is_refused_before_any_work(tmp_path):
    from deploytool.core.errors import UserError
    from deploytool.reports.matrix_trained import build_trained_matrix

    with pytest.raises(UserError):
        build_trained_matrix(["no_such_model"], tmp_path, serial=True)
    assert not tmp_path.joinpath("cells").exists()


def test_a_file_a_client_declines_is_shown_apart_from_the_failures():
    from deploytool.reports.matrix import render_tables
    from deploytool.reports.matrix_sections import REFUSED_MARK

    reason = "MediaPipe's ImageClassifier refuses it: Only RGB color space is supported for now"
    cells = [cell("TFLite fp32", "tflite"),
             {**cell("TFLite fp32", "mediapipe", "refused"), "why": f"refused: m.tflite: {reason}"},
             {**cell("TFLite int8", "mediapipe", "refused"), "why": f"refused: m.tflite: {reason}"}]
    text = "\n".join(render_tables(cells, ["TFLite fp32", "TFLite int8"]))
    failures = text.split("## Failures and their causes")[1].split("## Files a client")[0]
    assert "None." in failures and REFUSED_MARK in text
    declined = text.split("## Files a client does not take")[1]
    assert declined.count("Only RGB color space is supported for now") == 1  # once, both cells
    assert "1 of 1 runnable cells pass; 2 files a client does not take" in text


def test_a_cell_only_a_runtimes_other_variant_ran_is_listed_with_the_defaults_refusal():
    """TensorFlow's oneDNN variant ran a .pb its default path refused: a stock install on this
    CPU meets the refusal, so the page says it; OpenCV's engines stay in their cells."""
    from deploytool.reports.matrix import render_tables

    refusal = ("default engine (not used): error: TensorFlow's runtime refused the graph: "
               "UnimplementedError at node m/relu")
    cells = [{**cell("TF GraphDef fp32", "tensorflow"), "engine": "oneDNN, TF_ENABLE_ONEDNN_OPTS=1",
              "passed_over": [refusal]},
             {**cell("ONNX fp32", "opencv"), "engine": "classic",
              "passed_over": ["new engine (not used): cosine 0.2"]}]
    text = "\n".join(render_tables(cells, ["TF GraphDef fp32", "ONNX fp32"]))
    listed = text.split("## Cells only a runtime's other variant ran")[1]
    assert "oneDNN, TF_ENABLE_ONEDNN_OPTS=1" in listed and "UnimplementedError at node m/relu" in listed
    assert "lenet_bn · TF GraphDef fp32" in listed and "new engine" not in listed
