"""Runners register themselves: each reads its artifact kinds, its own format's runtime first;
a runner that leaves out a method fails where it is defined; a crash or hang in a native runtime
is that runtime's failure alone."""

import numpy as np
import pytest

from deploytool.runtimes.base import Runner, artifact_runtimes, runners, runtimes_reading
from deploytool.runtimes.isolation import run_isolated


def test_runtimes_register_the_files_they_read_own_runtime_first():
    assert runtimes_reading("m.pb") == ["tensorflow", "opencv"]
    assert runtimes_reading("m.tflite") == ["tflite", "opencv", "mediapipe", "litert_arm64"]
    assert runtimes_reading("m.onnx") == ["onnxruntime", "opencv"]
    assert [v["engine"] for v in runners()["opencv"].variants] == ["new", "classic"]
    assert set(artifact_runtimes()) == {"tflite", "onnxruntime", "opencv", "tensorflow", "mediapipe", "litert_arm64"}


def test_runners_are_listed_keras_first_in_their_order():
    assert list(runners()) == ["keras", "tflite", "onnxruntime", "opencv", "tensorflow", "mediapipe", "litert_arm64"]


def test_a_runner_missing_a_method_fails_where_it_is_defined():
    with pytest.raises(TypeError, match="abstract method.*_run"):
        class Half(Runner):  # noqa: F841
            name, reads = "half", (".half",)

            @property
            def input_shape(self):
                return (1, 1, 1)

            def _load(self):
                pass
    assert "half" not in runners()


def test_a_runtime_that_cannot_read_the_file_is_an_error_of_its_own(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    run = run_isolated(broken, "onnxruntime", np.zeros((1, 4, 4, 1), np.float32), timeout=60)
    assert run.kind == "error" and not run.ok and run.error


def test_tensorflows_runtime_refusal_is_one_line_naming_the_node():
    """A graph TensorFlow's CPU runtime will not run (seen: a trained SE-ResNeXt-50's .pb on an
    AMD CPU, where oneDNN is off by default and a grouped Conv2D fused with its bias and ReLU
    has no kernel) is a RuntimeError, which convert and verify report in one line, not an
    internal error."""
    from deploytool.core.keras_env import tf
    from deploytool.runtimes.tensorflow_runner import _refusal

    error = tf.errors.UnimplementedError(None, None, "[[{{node m/block1_relu/Relu}}]] [Op:f]")
    words = _refusal(error)
    assert "UnimplementedError at node m/block1_relu/Relu" in words and "\n" not in words
