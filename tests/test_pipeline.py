"""`deploytool run`: the whole job from a zoo name to a verified, benchmarked model and a report."""

import json

from click.testing import CliRunner
from PIL import Image

from deploytool.cli import main


def test_run_lenet_on_digits_end_to_end_and_resume(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "lenet_bn", "--data", "digits", "--samples", "32"])
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
    report = (folder / "report.md").read_text()
    for heading in ("## Training", "## Artifacts", "## Parity with the Keras reference", "## Latency",
                    "## Android bundle"):
        assert heading in report
    for picture in ("lenet_bn/training_curves.png", "parity.png", "latency.png"):
        assert f"]({picture})" in report
        assert Image.open(folder / picture).size[0] > 300
    bundled = folder / "android_bundle"
    assert (bundled / "model.tflite").read_bytes() == (folder / "artifacts" / "lenet_bn_int8.tflite").read_bytes()
    assert (bundled / "labels.txt").read_text().splitlines() == [str(i) for i in range(10)]
    assert len(list((bundled / "golden").glob("*.png"))) == 4
    # a second invocation finds every step done and only rewrites the report
    before = (folder / "artifacts" / "lenet_bn_int8.tflite").stat().st_mtime
    again = CliRunner().invoke(main, ["run", "lenet_bn", "--data", "digits"])
    assert again.exit_code == 0, again.output
    assert "training" not in again.stderr
    assert (folder / "artifacts" / "lenet_bn_int8.tflite").stat().st_mtime == before


def test_run_with_an_unknown_model_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "lenet_bnn"])
    assert result.exit_code == 2 and "did you mean lenet_bn" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_run_bundles_into_the_app_when_asked(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    app = tmp_path / "android_demo"
    shutil.copytree(Path(__file__).resolve().parent.parent / "android_demo", app,
                    ignore=shutil.ignore_patterns("build", "bundle"))
    result = CliRunner().invoke(main, ["run", "lenet_bn", "--epochs", "1", "--samples", "8",
                                       "--app", str(app), "--out", "r"])
    assert result.exit_code in (0, 1), result.output  # one epoch may miss a parity threshold
    assert (app / "app/src/main/assets/bundle/model.tflite").exists()
    assert "--app android_demo" not in (tmp_path / "r" / "report.md").read_text()


def test_run_refuses_a_wrong_app_folder_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "lenet_bn", "--app", str(tmp_path)])
    assert result.exit_code == 2 and "not the Android demo app" in result.stderr
    assert not (tmp_path / "runs").exists()
