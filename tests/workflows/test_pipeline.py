"""`deploytool run`: the whole job from a zoo name to a verified, benchmarked model and a report."""

import json

import pytest
from PIL import Image

from support import run_cli


@pytest.mark.heavy
def test_run_lenet_on_digits_end_to_end_and_resume(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "lenet_bn", "--data", "digits", "--samples", "32")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "lenet_bn-digits-pipeline"
    state = json.loads((folder / "state.json").read_text())
    assert list(state["done"]) == ["train", "convert", "verify", "bench", "bundle", "report"]
    assert state["done"]["train"]["test_accuracy"] >= 0.97
    assert sorted(p.name for p in (folder / "artifacts").glob("*.tflite")) == [
        "lenet_bn_fp32.tflite", "lenet_bn_int8.tflite"]
    assert state["done"]["verify"]["passed"]
    summary = result.stdout[result.stdout.index("deploytool run:"):]  # the closing table
    for artifact in ("lenet_bn_fp32.tflite", "lenet_bn_int8.onnx", "lenet_bn_fp32.pb"):
        assert artifact in summary
    assert "ms (batch 1)" in summary and "reference" in summary and "fail" not in summary
    assert any(row["figures"] and "accuracy" in row["figures"] for row in state["done"]["verify"]["rows"])
    report = " ".join((folder / "report.md").read_text().split())
    for heading in ("## Training", "## Artifacts", "## Parity with the Keras reference", "## Latency",
                    "## Android bundle"):
        assert heading in report
    for picture in ("lenet_bn/training_curves.png", "parity.png", "latency.png"):
        assert f"]({picture})" in report
        assert Image.open(folder / picture).size[0] > 300
    bundled = folder / "android_bundle"
    chosen = state["done"]["bundle"]["artifact"]  # int8 unless it failed verify on LiteRT
    assert (bundled / "model.tflite").read_bytes() == (folder / "artifacts" / chosen.split("/")[-1]).read_bytes()
    assert state["done"]["bundle"]["why"] in report and state["done"]["bundle"]["verified"]
    print("bundled:", chosen, state["done"]["bundle"]["why"])
    assert (bundled / "labels.txt").read_text().splitlines() == [str(i) for i in range(10)]
    assert len(list((bundled / "golden").glob("*.png"))) == 4
    # a second invocation with the same options finds every step done and only rewrites the report
    before = (folder / "artifacts" / "lenet_bn_int8.tflite").stat().st_mtime
    again = run_cli("run", "lenet_bn", "--data", "digits", "--samples", "32")
    assert again.exit_code == 0, again.output
    assert "training" not in again.stderr
    assert (folder / "artifacts" / "lenet_bn_int8.tflite").stat().st_mtime == before
    # each step recorded the options it ran with (a changed one redoes it: see the RunState test)
    state = json.loads((folder / "state.json").read_text())
    assert state["options"]["train"]["epochs"] == 10 and state["options"]["verify"]["samples"] == 32


def test_run_with_an_unknown_model_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "lenet_bnn")
    assert result.exit_code == 2 and "did you mean lenet_bn" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.heavy
def test_run_bundles_into_the_app_when_asked(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    app = tmp_path / "android_demo"
    shutil.copytree(Path(__file__).resolve().parents[2] / "android_demo", app,
                    ignore=shutil.ignore_patterns("build", "bundle"))
    result = run_cli("run", "lenet_bn", "--epochs", "1", "--samples", "8",
                     "--app", app, "--out", "r")
    assert result.exit_code in (0, 1), result.output  # one epoch may miss a parity threshold
    assert (app / "app/src/main/assets/bundle/model.tflite").exists()
    assert "--app android_demo" not in (tmp_path / "r" / "report.md").read_text()


def test_run_refuses_a_wrong_app_folder_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "lenet_bn", "--app", tmp_path)
    assert result.exit_code == 2 and "not the Android demo app" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_resumed_run_bundles_the_int8_tflite_whatever_the_registry_now_lists(
        trained_lenet, tmp_path, monkeypatch):
    """A run folder whose convert step finished under another registry (here a new format listed
    first): the bundle step finds the int8 .tflite by what each recorded artifact is, never by
    its position in today's list."""
    from deploytool.converters.options import ConvertOptions
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.pipeline import pipeline
    from deploytool.workflows.conversion.convert import convert
    from deploytool.workflows.pipeline.run_state import RunState
    from deploytool.workflows.training.train_options import TrainOptions

    monkeypatch.chdir(tmp_path)
    run_folder, _ = trained_lenet
    out = tmp_path / "run"
    source = load_source(str(run_folder))
    state = RunState(out)
    state.finish("train", {"model": str(run_folder), "data": "digits", "test_accuracy": None})
    entries = []
    for to, precision in (("tflite", "fp32"), ("tflite", "int8"), ("onnx", "fp32")):
        result = convert(source, ConvertOptions(to=to, precision=precision, calib_samples=50,
                                                out_dir=out / "artifacts"))
        entries.append({"path": str(result.artifact), "file": result.artifact.name, "target": to,
                        "precision": precision, "size_bytes": 1, "sha256": "-",
                        "conversion_seconds": 0.0})
    state.finish("convert", entries)
    state.finish("verify", {"passed": True, "images": {}, "tolerances": {}, "rows": []})
    state.finish("bench", [])
    monkeypatch.setattr(pipeline, "pipeline_artifacts",
                        lambda: [("newformat", "fp32"), *[(e["target"], e["precision"]) for e in entries]])

    pipeline.run_pipeline(str(run_folder), "digits", out, TrainOptions())
    bundled = json.loads((out / "state.json").read_text())["done"]["bundle"]
    assert bundled["artifact"].endswith("lenet_bn_int8.tflite")
    assert (out / "android_bundle" / "model.tflite").read_bytes() == \
        (out / "artifacts" / "lenet_bn_int8.tflite").read_bytes()


def test_a_step_whose_options_changed_is_done_again_with_every_step_after_it(tmp_path):
    from deploytool.workflows.pipeline.run_state import RunState

    state = RunState(tmp_path)
    state.finish("train", {"test_accuracy": 0.97}, {"epochs": 10, "data": "digits"})
    state.finish("convert", [], {"calib_data": None})
    said = []
    again = RunState(tmp_path)
    assert again.reuse("train", {"epochs": 10, "data": "digits"}, said.append)
    assert not again.reuse("convert", {"calib_data": "images:faces"}, said.append)
    assert said == ["redoing convert: convert's options changed (calib_data None -> 'images:faces')"]
    assert not again.reuse("train", {"epochs": 3, "data": "digits"}, said.append)
    assert not again.done("train") and not again.done("convert")
    assert not RunState(tmp_path, fresh=True).done("train")  # --fresh forgets everything


@pytest.mark.parametrize("data, message", [
    ("bogus", "unknown data set 'bogus'"),
    ("images:no_such_folder", "images:no_such_folder: no such folder")])
def test_run_refuses_data_it_cannot_read_before_any_work(tmp_path, monkeypatch, data, message):
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "lenet_bn", "--data", data)
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.heavy
def test_run_on_a_model_file_calibrates_and_verifies_on_the_data_given(tmp_path, monkeypatch,
                                                                       three_head_model_file):
    import numpy as np

    monkeypatch.chdir(tmp_path)
    faces = tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(faces / f"{i}.png")
    result = run_cli("run", three_head_model_file, "--data", f"images:{faces}", "--samples", "6",
                     "--out", "r")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "r"
    int8 = json.loads((folder / "artifacts" / "three_heads_int8.tflite.json").read_text())
    assert int8["calibration"]["source"] == f"images:{faces}"
    verified = json.loads((folder / "state.json").read_text())["done"]["verify"]
    assert {d["dataset"] for d in verified["images"].values()} == {f"images:{faces}"}
    assert {d["samples"] for d in verified["images"].values()} == {6}


def test_the_parity_plot_draws_each_rows_bar_and_interval(tmp_path):
    from PIL import Image

    from deploytool.core.compare import tolerance_for
    from deploytool.workflows.pipeline.run_report import plot_parity

    rows = [{"artifact": "m_int8.tflite", "backend": "tflite", "status": "pass", "output": "face",
             "figures": {"min_cosine": 0.946, "max_abs": 0.2, "top1_agreement": 1.0,
                         "top1_agreement_interval": [0.943, 1.0]}},
            {"artifact": "m_int8.tflite", "backend": "tflite", "status": "pass", "output": "box",
             "figures": {"min_cosine": 0.999, "max_abs": 0.01}}]  # a regression head: no top-1
    plot_parity(rows, tmp_path / "parity.png", {"m_int8.tflite": tolerance_for("int8").as_dict()})
    assert Image.open(tmp_path / "parity.png").size[0] > 1000


def _rows(int8_ms, fp32_ms, int8_status="pass", fp32_status="pass"):
    entries = [{"path": f"a/m_{p}.tflite", "file": f"m_{p}.tflite", "target": "tflite", "precision": p}
               for p in ("fp32", "int8")]
    verify_rows = [{"artifact": "m_int8.tflite", "backend": "tflite", "status": int8_status},
                   {"artifact": "m_fp32.tflite", "backend": "tflite", "status": fp32_status}]
    bench_rows = [{"artifact": "m_int8.tflite", "backend": "tflite", "status": "ok", "median_ms": int8_ms},
                  {"artifact": "m_fp32.tflite", "backend": "tflite", "status": "ok", "median_ms": fp32_ms}]
    return verify_rows, bench_rows, entries


@pytest.mark.parametrize("int8_ms, fp32_ms, status, prefer, bundled", [
    (0.3, 0.4, "pass", None, "int8"),
    (0.6, 0.4, "pass", None, "int8"),  # slower on this PC: says nothing of a phone's kernels
    (0.3, 0.4, "fail", None, "fp32"),  # failed verify on LiteRT: the float file
    (0.3, 0.4, "pass", "fp32", "fp32"),  # the user's choice
])
def test_run_bundles_int8_unless_it_fails_or_fp32_is_preferred(int8_ms, fp32_ms, status, prefer,
                                                              bundled):
    from deploytool.workflows.pipeline.pipeline import bundled_kind

    kind, why, verified = bundled_kind(*_rows(int8_ms, fp32_ms, status), prefer)
    assert kind == ("tflite", bundled) and why and verified


@pytest.mark.parametrize("int8_ms, fp32_ms", [(0.3, 0.4), (0.6, 0.4)])
def test_run_says_the_bundle_is_unverified_when_neither_file_passed(int8_ms, fp32_ms):
    from deploytool.workflows.pipeline.pipeline import bundled_kind

    kind, why, verified = bundled_kind(*_rows(int8_ms, fp32_ms, "fail", "fail"))
    assert kind == ("tflite", "int8") and not verified
