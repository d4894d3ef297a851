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
    assert list(state["done"]) == ["train", "convert", "verify", "bench", "report"]
    assert state["done"]["train"]["test_accuracy"] >= 0.97
    assert sorted(p.name for p in (folder / "artifacts").glob("*.tflite")) == [
        "lenet_bn_fp32.tflite", "lenet_bn_int8.tflite"]
    assert state["done"]["verify"]["passed"]
    assert any(row["figures"] and "accuracy" in row["figures"] for row in state["done"]["verify"]["rows"])
    report = (folder / "report.md").read_text()
    for heading in ("## Training", "## Artifacts", "## Parity with the Keras reference", "## Latency"):
        assert heading in report
    for picture in ("lenet_bn/training_curves.png", "parity.png", "latency.png"):
        assert f"]({picture})" in report
        assert Image.open(folder / picture).size[0] > 300
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
