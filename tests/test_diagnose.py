"""When int8 loses accuracy: `deploytool diagnose` names the layer, and an accuracy budget on
convert keeps it in float, on TFLite and ONNX alike."""

import json

import pytest
from click.testing import CliRunner

from deploytool.cli import main
from deploytool.converters.options import ConvertOptions
from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras
from deploytool.sources.model_source import load_source
from deploytool.workflows.convert import convert
from deploytool.workflows.diagnose import diagnose, plot_errors

L = keras.layers


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory):
    """A small model with one quantization-hostile layer: one output channel of 'hostile' is 300x
    the others (undone by the next layer, so the float model is fine), which a per-tensor int8
    activation scale cannot serve."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = L.Conv2D(8, 3, padding="same", name="hostile")(x)
    x = L.ReLU(name="relu_h")(x)
    x = L.Conv2D(8, 1, name="undo")(x)
    x = L.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, L.Dense(5, name="logits")(x))
    kernel, bias = model.get_layer("hostile").get_weights()
    kernel[..., 0] *= 300
    model.get_layer("hostile").set_weights([kernel, bias])
    kernel, bias = model.get_layer("undo").get_weights()
    kernel[:, :, 0, :] /= 300
    model.get_layer("undo").set_weights([kernel, bias])
    path = tmp_path_factory.mktemp("hostile") / "hostile.keras"
    model.save(path)
    return path


@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_diagnose_names_the_hostile_layer_first_and_why(hostile_file, target):
    artifact = convert(load_source(str(hostile_file)), ConvertOptions(to=target, precision="int8")).artifact
    report = diagnose(artifact, samples=8)
    worst = next(row for row in report.rows if row.name == report.worst[0])
    assert "relu_h" in worst.name
    assert worst.own_snr_db < 15 < min(r.own_snr_db for r in report.rows if r.name != worst.name)
    assert worst.problems[0].startswith("outlier channels: channel 0 reach")
    assert report.rows[-1].accumulated_snr_db < 15  # the damage shows downstream


def test_diagnose_command_prints_a_table_and_writes_json_and_a_plot(hostile_file, tmp_path):
    artifact = convert(load_source(str(hostile_file)), ConvertOptions(to="tflite", precision="int8")).artifact
    result = CliRunner().invoke(main, ["diagnose", str(artifact), "--samples", "4", "--json",
                                       "--plot", str(tmp_path / "errors.png")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert "relu_h" in report["costliest"][0] and len(report["layers"]) == 5
    assert (tmp_path / "errors.png").stat().st_size > 10_000


def test_diagnose_refuses_a_float32_artifact(hostile_file):
    artifact = convert(load_source(str(hostile_file)), ConvertOptions(to="tflite")).artifact
    with pytest.raises(UserError, match="float32 artifact has no quantization to diagnose"):
        diagnose(artifact)


@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_budget_keeps_the_hostile_layer_in_float_and_meets_it(hostile_file, target):
    result = CliRunner().invoke(main, ["convert", str(hostile_file), "--to", target, "--int8",
                                       "--min-cosine", "0.99", "--json"])
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert budget["met"] and budget["chosen"] == "1 costliest layer in float"
    assert len(budget["layers_in_float"]) == 1 and "relu_h" in budget["layers_in_float"][0]
    assert budget["attempts"][0]["label"] == "plain int8" and not budget["attempts"][0]["met"]
    assert budget["attempts"][-1]["figures"]["min_cosine"] >= 0.99
    assert budget["size_cost"] > 0


def test_budget_met_by_plain_int8_keeps_everything_quantized():
    result = CliRunner().invoke(main, ["convert", "lenet_bn", "--input-shape", "28,28,1",
                                       "--num-classes", "10", "--width", "0.25", "--int8",
                                       "--min-cosine", "0.9", "--json"])
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert budget["met"] and budget["chosen"] == "plain int8" and budget["layers_in_float"] == []
    assert len(budget["attempts"]) == 1


def test_an_agreement_bar_the_accuracy_criterion_misses_drives_the_search(hostile_file):
    """A cosine bar every attempt meets, and top-1 agreement 1.0: plain int8 keeps the cosine but
    flips decisions, so the search goes on until the hostile layer is in float."""
    result = CliRunner().invoke(main, ["convert", str(hostile_file), "--int8", "--min-cosine", "-1",
                                       "--min-agreement", "1", "--json"])
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert budget["budget"] == "worst cosine >= -1, top-1 agreement >= 1"
    assert budget["attempts"][0]["figures"]["top1_agreement"] < 1 and not budget["attempts"][0]["met"]
    assert budget["met"] and "relu_h" in budget["layers_in_float"][0]
    assert budget["attempts"][-1]["figures"]["top1_agreement"] == 1.0


@pytest.mark.parametrize("args, message", [
    (["--max-drop", "0.5", "--min-cosine", "0.9"], "give one accuracy budget"),
    (["--min-agreement", "0.9"], "give one accuracy budget"),
    (["--min-cosine", "0.9", "--min-agreement", "1.5"], "--min-agreement is a fraction"),
    (["--max-drop", "0.5"], "--max-drop needs labelled images"),
    (["--min-cosine", "2"], "--min-cosine must lie in [-1, 1]"),
])
def test_bad_budgets_are_one_line(hostile_file, args, message):
    result = CliRunner().invoke(main, ["convert", str(hostile_file), "--int8", *args])
    assert result.exit_code == 2 and message in result.output


def test_verify_points_to_diagnose_when_int8_loses_accuracy(hostile_file):
    artifact = convert(load_source(str(hostile_file)), ConvertOptions(to="tflite", precision="int8")).artifact
    result = CliRunner().invoke(main, ["verify", str(artifact), "--backend", "tflite", "--samples", "8"])
    assert result.exit_code == 1
    assert f"see where with `deploytool diagnose {artifact.name}`" in result.output


def test_plot_of_a_report_without_rows_is_still_written(tmp_path):
    from deploytool.workflows.diagnose import DiagnoseReport

    plot_errors(DiagnoseReport("x.tflite", "tflite", "int8", {}, []), tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 1000
