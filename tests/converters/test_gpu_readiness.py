"""Phone-GPU readiness: the LiteRT GPU delegate's own rules applied to a .tflite file."""

import pytest

from deploytool.converters.targets.tflite.gpu_readiness import describe, gpu_readiness

from support import run_cli


def _tflite(tmp_path, function, shape=(1, 8, 8, 3)):
    import tensorflow as tf

    traced = tf.function(function, input_signature=[tf.TensorSpec(shape, tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([traced.get_concrete_function()],
                                                                traced)
    path = tmp_path / "model.tflite"
    path.write_bytes(converter.convert())
    return path


@pytest.mark.heavy
def test_a_zoo_model_runs_entirely_on_the_gpu_delegate(tmp_path):
    from deploytool.converters.options import ConvertOptions
    from deploytool.models.weights import batchnorm_statistics_from
    from deploytool.sources.datasets import load_photos
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.conversion.convert import convert

    source = load_source("mobilenet_v2", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    # a fresh MobileNetV2 answers alike for every image, which convert refuses to call parity;
    # with measured BatchNorm statistics it is a real (untrained, so int8-unfriendly) network
    photos = load_photos((32, 32), 3).x_train[:64]
    batchnorm_statistics_from(source.model, source.preprocessing.apply(photos))
    result = convert(source, ConvertOptions(to="tflite", precision="int8", out_dir=tmp_path))
    assert result.manifest.record["parity"]["outputs"][0]["figures"]["reference_spread"] > 0.1
    readiness = gpu_readiness(result.artifact)
    assert readiness["ready"] and readiness["ops"]["CONV_2D"] > 10 and describe(readiness) == "yes"


def test_ops_without_a_gpu_kernel_are_named(tmp_path):
    import tensorflow as tf

    def function(x):
        summed = tf.math.segment_sum(tf.reshape(x, [64, 3]), tf.constant([0] * 32 + [1] * 32))
        return tf.nn.local_response_normalization(x), summed

    readiness = gpu_readiness(_tflite(tmp_path, function))
    assert not readiness["ready"]
    assert readiness["refused"] == {"LOCAL_RESPONSE_NORMALIZATION": "no GPU kernel",
                                    "SEGMENT_SUM": "no GPU kernel"}


def test_a_supported_op_with_options_the_delegate_refuses_is_named(tmp_path):
    path = _tflite(tmp_path, lambda x: x[:, 0] * 2.0)  # shrink-axis strided slice
    readiness = gpu_readiness(path)
    assert readiness["refused"] == {"STRIDED_SLICE": "strided slice with an ellipsis, new-axis or "
                                                     "shrink-axis mask"}
    assert describe(readiness).startswith("no: STRIDED_SLICE")


def test_inspect_shows_the_gpu_verdict(tmp_path):
    path = _tflite(tmp_path, lambda x: x[:, 0] * 2.0)
    result = run_cli("inspect", path)
    assert result.exit_code == 0, result.output
    assert "no: STRIDED_SLICE" in result.output


def test_a_file_that_is_not_tflite_is_a_one_line_error(tmp_path):
    from deploytool.core.errors import UserError

    path = tmp_path / "model.tflite"
    path.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a TFLite file"):
        gpu_readiness(path)
