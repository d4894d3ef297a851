"""When int8 loses accuracy, `deploytool diagnose` names the layer, on TFLite and ONNX alike,
against the artifact's float twin rebuilt from its manifest."""

import json

import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.core.errors import UserError
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.quantization.diagnose import diagnose, plot_errors

from support import run_cli, zoo_source

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_diagnose_names_the_hostile_layer_first_and_why(hostile_model_file, target):
    artifact = convert(load_source(str(hostile_model_file)), ConvertOptions(to=target, precision="int8")).artifact
    report = diagnose(artifact, samples=8)
    worst = next(row for row in report.rows if row.name == report.worst[0])
    assert "relu_h" in worst.name
    assert worst.own_snr_db < 15 < min(r.own_snr_db for r in report.rows if r.name != worst.name)
    assert worst.problems[0].startswith("outlier channels: channel 0 reach")
    assert report.rows[-1].accumulated_snr_db < 15  # the damage shows downstream


@pytest.mark.heavy
def test_diagnose_command_prints_a_table_and_writes_json_and_a_plot(hostile_model_file, tmp_path):
    artifact = convert(load_source(str(hostile_model_file)), ConvertOptions(to="tflite", precision="int8")).artifact
    result = run_cli("diagnose", artifact, "--samples", "4", "--json",
                     "--plot", tmp_path / "errors.png")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert "relu_h" in report["costliest"][0] and len(report["layers"]) == 5
    assert (tmp_path / "errors.png").stat().st_size > 10_000


def test_diagnose_refuses_a_float32_artifact(hostile_model_file):
    artifact = convert(load_source(str(hostile_model_file)), ConvertOptions(to="tflite")).artifact
    with pytest.raises(UserError, match="float32"):
        diagnose(artifact)


def test_a_no_fold_artifact_is_diagnosed_against_its_unfolded_float_twin():
    """The float twin is rebuilt from the manifest's settings record, --no-fold included: every
    quantized tensor of the int8 file meets its float self (a folded twin would leave the
    convolutions' fused BatchNorm tensors without one)."""
    source = zoo_source("lenet_bn", shape=(28, 28, 1), width=1.0, seed=1)
    options = ConvertOptions(precision="int8", fold=False, calib_samples=20)
    artifact = convert(source, options).artifact
    report = diagnose(artifact, samples=4)
    assert report.unmatched == [] and len(report.rows) == 8
    assert report.as_dict()["unmatched"] == []


@pytest.mark.heavy
def test_verify_points_to_diagnose_when_int8_loses_accuracy(hostile_model_file):
    artifact = convert(load_source(str(hostile_model_file)), ConvertOptions(to="tflite", precision="int8")).artifact
    result = run_cli("verify", artifact, "--backend", "tflite", "--samples", "8")
    assert result.exit_code == 1
    assert f"deploytool diagnose {artifact.name}" in result.output


def test_plot_of_a_report_without_rows_is_still_written(tmp_path):
    from deploytool.workflows.quantization.diagnose import DiagnoseReport

    plot_errors(DiagnoseReport("x.tflite", "tflite", "int8", {}, []), tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 1000


def test_a_report_whose_every_layer_is_healthy_says_there_is_nothing_to_fix(tmp_path):
    from deploytool.core.quant_errors import LayerError
    from deploytool.workflows.quantization.diagnose import DiagnoseReport

    def layer(depth, own, accumulated):
        return LayerError(depth, f"model/block{depth}/conv", "CONV_2D", 0.02, own, own, 0.999,
                          accumulated, 0.999)

    healthy = DiagnoseReport("m.tflite", "tflite", "int8", {}, [layer(0, 44, 45), layer(1, 38, 40.7)],
                             worst=["model/block1/conv"])
    assert healthy.healthy() and healthy.summary() == (
        "m.tflite: nothing to fix: every layer's own error and the final output at or above 30 dB "
        "(final 40.7 dB)")
    sick = DiagnoseReport("m.tflite", "tflite", "int8", {}, [layer(0, 12, 14), layer(1, 38, 13)],
                          worst=["model/block0/conv"])
    assert not sick.healthy() and sick.worst == ["model/block0/conv"]
    plot_errors(sick, tmp_path / "sick.png")
    assert (tmp_path / "sick.png").stat().st_size > 10_000
