"""What a conversion is asked to do: one precision vocabulary, options each target owns, and a
settings record the manifest keeps from which the very same conversion is rebuilt."""

import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.onnx.target import OnnxOptions
from deploytool.converters.targets.registry import targets
from deploytool.converters.targets.tflite.target import TFLiteOptions
from deploytool.core.errors import UserError

from support import run_cli


ROUND_TRIPS = [
    ConvertOptions.create("tflite", precision="int8", int8_io="float", calibration_method="minmax",
                          calib_data="images:photos", calib_samples=40, fold=False, seed=3,
                          keep_float=["conv1"]),
    ConvertOptions.create("tflite", precision="int8", qat=True, qat_epochs=2),
    ConvertOptions.create("tflite", precision="fp16", keep_softmax=True,
                          drop_outputs=["landmarks", "face"]),
    ConvertOptions.create("onnx", precision="int8", opset=13, nchw_input=True,
                          calibration_method="entropy"),
    ConvertOptions.create("pb"),
]


@pytest.mark.parametrize("options", ROUND_TRIPS, ids=lambda o: f"{o.to}-{o.precision}")
def test_the_settings_record_rebuilds_the_same_options(options):
    options.check()
    assert ConvertOptions.from_record(options.to_record()) == options


def test_every_target_declares_its_own_options_and_a_flag_for_each():
    flags = {name: sorted(t.options_type.flags()) for name, t in targets().items()}
    assert flags == {"tflite": ["--int8-io", "--rgb-input"], "onnx": ["--free-size", "--nchw", "--opset"], "pb": []}
    assert ConvertOptions(to="onnx").target_options == OnnxOptions(opset=17, nchw_input=False)
    assert ConvertOptions().target_options == TFLiteOptions(int8_io="int8")


def test_the_record_speaks_of_precision_only_and_of_the_target_options_it_has():
    record = ConvertOptions.create("onnx", precision="fp32", nchw_input=True).to_record()
    assert "quantization" not in record and record["precision"] == "fp32"
    assert record["fold_batchnorm"] is True and record["nchw_input"] is True
    assert record["calibration_method"] is None and "int8_io" not in record


def test_a_manifest_written_before_options_were_owned_by_targets_still_reads():
    old = {"to": "onnx", "quantization": "int8", "precision": "int8", "int8_io": None,
           "calib_data": None, "calib_samples": 300, "opset": 17, "nchw_input": True,
           "fold_batchnorm": False, "keep_softmax": False, "qat": False, "qat_epochs": None,
           "seed": 0, "calibration_method": "percentile", "keep_float": []}
    options = ConvertOptions.from_record(old)
    assert options.precision == "int8" and options.fold is False
    assert options.target_options == OnnxOptions(opset=17, nchw_input=True)
    assert options.calibration_method == "percentile"


def test_changes_apply_on_top_of_the_record():
    record = ConvertOptions.create("tflite", precision="int8", fold=False).to_record()
    twin = ConvertOptions.from_record(record, precision="fp32", keep_float=[])
    assert twin.precision == "fp32" and twin.fold is False


def test_a_setting_of_another_format_names_the_format_it_belongs_to():
    with pytest.raises(UserError, match="--opset.*onnx"):
        ConvertOptions.create("tflite", opset=13)


@pytest.mark.parametrize("options, message", [
    (ConvertOptions.create("tflite", precision="int8", int8_io="int16"), "--int8-io must be int8 or uint8 or float"),
    (ConvertOptions.create("onnx", opset=9), "--opset must lie in 11..21"),
    (ConvertOptions(to="pb", precision="int4"), "unknown precision 'int4'"),
    (ConvertOptions.create("onnx", precision="int8", qat=True), "--qat produces a full-int8 TFLite"),
])
def test_settings_no_target_offers_are_refused(options, message):
    with pytest.raises(UserError, match=message):
        options.check()


def test_the_command_line_refuses_another_formats_flag_in_one_line(in_tmp_dir):
    result = run_cli("convert", "lenet_bn", "--to", "tflite", "--nchw")
    assert result.exit_code == 2
    assert result.stderr.strip() == "deploytool: error: --nchw applies to --to onnx, not --to tflite"
